# Run at build time (cmake -P): writes version.h from version.h.in with the
# current git commit, touching the file only when its content changes, so a
# new commit recompiles the few files that print the version and nothing
# else. Inputs: SRC (source dir), IN (template), OUT (header), VERSION.
execute_process(
  COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${SRC}
  OUTPUT_VARIABLE NW_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(NOT NW_GIT_COMMIT)
  set(NW_GIT_COMMIT "unknown")
endif()
set(PROJECT_VERSION ${VERSION})
configure_file(${IN} ${OUT}.tmp @ONLY)
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
