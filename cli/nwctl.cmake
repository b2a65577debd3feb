# nw_ctl: the command tree and commands (a library so the tests can walk the
# tree); nwctl: the binary.
nw_add_library(ctl SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/app.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/bench.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cluster.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cluster_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/command_util.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/completion.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/consume.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/consume_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/context.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/group.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/group_consumer.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/group_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/job.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/job_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/job_run.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/lock.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/lock_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/produce.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/produce_input.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/producer.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/records_client.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/status.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/topic.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/topic_format.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/version.cc
  DEPS nw::base nw::api nw::http nw::cliutil nw::records nw::jobspec)
add_executable(nwctl ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
target_link_libraries(nwctl PRIVATE nw::ctl)
