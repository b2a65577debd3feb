# Every third-party library, found once. How each Debian 12 package is found
# is recorded in ../shared/notes/dependencies.md; scripts/install-deps.sh
# installs them.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CLI11 REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(tomlplusplus REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(OpenSSL REQUIRED)
# Debian's hiredis CMake config is broken; pkg-config works.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
if(NW_BUILD_TESTS)
  find_package(doctest REQUIRED)
  include(doctest)
endif()
