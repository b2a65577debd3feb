# nw_ctl: the command tree and commands (a library so the tests can walk the
# tree); nwctl: the binary.
nw_add_library(ctl SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/app.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cluster.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cluster_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/completion.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/context.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/status.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/version.cc
  DEPS nw::base nw::api nw::http nw::cliutil)
add_executable(nwctl ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
target_link_libraries(nwctl PRIVATE nw::ctl)
