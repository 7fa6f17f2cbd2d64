# Third-party dependencies, all from Debian 12 packages (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(doctest REQUIRED)

# One doctest main shared by every test binary.
if(NOT TARGET k3dpp_doctest_main)
  file(WRITE ${CMAKE_BINARY_DIR}/doctest_main.cc
       "#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN\n#include <doctest/doctest.h>\n")
  add_library(k3dpp_doctest_main STATIC ${CMAKE_BINARY_DIR}/doctest_main.cc)
  target_link_libraries(k3dpp_doctest_main PUBLIC doctest::doctest)
  add_library(k3dpp::doctest_main ALIAS k3dpp_doctest_main)
endif()
