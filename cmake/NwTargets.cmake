# nw_settings: the flags for our own code only (third-party headers come in
# through imported targets, which CMake treats as system headers).
add_library(nw_settings INTERFACE)
target_compile_options(nw_settings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Werror)
# GCC 12 at -O3 (Release) reports memcpy overlaps inside libstdc++'s own
# std::string code that cannot happen (GCC bug 105651, fixed in 13); with
# -Werror that stopped every Release build. Only that warning, only there.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND
   CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(nw_settings INTERFACE -Wno-restrict)
endif()
target_include_directories(nw_settings INTERFACE ${PROJECT_SOURCE_DIR})
target_link_libraries(nw_settings INTERFACE Threads::Threads)

if(NW_SANITIZE STREQUAL "address,undefined")
  target_compile_options(nw_settings INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(nw_settings INTERFACE -fsanitize=address,undefined)
elseif(NW_SANITIZE STREQUAL "thread")
  target_compile_options(nw_settings INTERFACE -fsanitize=thread)
  target_link_options(nw_settings INTERFACE -fsanitize=thread)
  # GCC refuses atomic_thread_fence under -fsanitize=thread (-Werror=tsan),
  # and TSan does not model fences anyway; Asio's fenced blocks are
  # redundant with the mutex of its scheduler. For every Asio user.
  target_compile_definitions(nw_settings INTERFACE
    BOOST_ASIO_DISABLE_FENCED_BLOCK)
elseif(NOT NW_SANITIZE STREQUAL "")
  message(FATAL_ERROR
    "NW_SANITIZE='${NW_SANITIZE}': expected '', 'address,undefined' or 'thread'")
endif()

# nw_add_library(NAME SOURCES ... [DEPS ...]) -> target nw_NAME, alias nw::NAME
function(nw_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(nw_${name} STATIC ${ARG_SOURCES})
  add_library(nw::${name} ALIAS nw_${name})
  target_link_libraries(nw_${name} PUBLIC nw_settings ${ARG_DEPS})
endfunction()

# nw_add_test(NAME SOURCES ... DEPS ... LABEL unit|integration)
# One doctest executable; every TEST_CASE becomes its own ctest test.
function(nw_add_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${PROJECT_SOURCE_DIR}/tests/support/doctest_main.cc
                 ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE nw_settings doctest::doctest ${ARG_DEPS})
  doctest_discover_tests(${name}
    TEST_PREFIX "${ARG_LABEL}:${name}:"
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
endfunction()
