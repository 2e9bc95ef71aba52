# Precompiled headers, shared. Parsing nlohmann/json.hpp alone takes 2-3 s of g++ per
# translation unit, gtest.h about 2 s, and most of the project's files include both or the
# first: one precompiled header per set of compile flags, built once and reused by every target
# (REUSE_FROM) instead of one per target.
#   tidemark_pch_libs   the libraries, programs, benchmark tools and fuzz targets, but not in
#                       an optimized g++ build: g++ 12 loses, for what comes from a precompiled
#                       header, the system-header exemption of its middle-end warnings, and
#                       -Warray-bounds fires inside libstdc++'s std::string at -O2 (a PCH of
#                       <string> alone breaks common/time.cpp with -Werror). Their flags then
#                       differ from the tests' anyway, and at -O2 code generation, not parsing,
#                       is most of their time.
#   tidemark_pch_tests  the tests (tests/CMakeLists.txt: compiled at -O0 -g1, so a PCH of their
#                       own; it adds gtest)
# g++ refuses a precompiled header built with other code-generation flags (-O, -g, -fsanitize);
# CMake adds -Winvalid-pch, and -Werror turns a refused one into a failed build, not a silent
# slow one. Off with -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON: CI's tidy stage parses every file
# without them, so a file that uses a header without including it fails there.
#
# Only headers without static initialisers (no <iostream>): the agent's start-up is measured.
set(TIDEMARK_PCH_HEADERS
  <nlohmann/json.hpp>
  <algorithm> <cstdint> <filesystem> <functional> <map> <memory> <optional> <set> <string>
  <string_view> <unordered_map> <utility> <vector>)

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(TIDEMARK_PCH_LIBS OFF)
else()
  set(TIDEMARK_PCH_LIBS ON)
endif()

# tidemark_pch_owner(name [HEADERS header ...] [LIBS lib ...]): an object library whose only
# job is to build the precompiled header (TIDEMARK_PCH_HEADERS and HEADERS) that others reuse.
# Call it in the directory whose compile options the reusing targets share.
function(tidemark_pch_owner name)
  cmake_parse_arguments(P "" "" "HEADERS;LIBS" ${ARGN})
  add_library(${name} OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch_owner.cpp)
  target_link_libraries(${name} PRIVATE nlohmann_json::nlohmann_json ${P_LIBS})
  target_precompile_headers(${name} PRIVATE ${TIDEMARK_PCH_HEADERS} ${P_HEADERS})
endfunction()

# tidemark_reuse_pch(owner dir ...): every library and program defined in the given source
# directories (not their subdirectories) reuses owner's precompiled header; a new target there
# gets it without a line of its own. Nothing when there is no owner (TIDEMARK_PCH_LIBS off).
function(tidemark_reuse_pch owner)
  if(NOT TARGET ${owner})
    return()
  endif()
  foreach(dir IN LISTS ARGN)
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      if(NOT t STREQUAL owner AND type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
        target_precompile_headers(${t} REUSE_FROM ${owner})
      endif()
    endforeach()
  endforeach()
endfunction()
