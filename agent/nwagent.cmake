# nw_agentcli: nwagent's command line (a library so the tests can check the
# man page and the completion files against it); nwagent: the daemon.
nw_add_library(agentcli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/options.cc
  DEPS nw::base nw::config nw::cliutil)
add_executable(nwagent ${CMAKE_CURRENT_SOURCE_DIR}/main.cc
                       ${CMAKE_CURRENT_SOURCE_DIR}/agent.cc)
target_link_libraries(nwagent PRIVATE nw_settings nw::agentcli nw::server nw::cluster
  nw::partition nw::job_service
  nw::state nw::metrics nw::service nw::config)
