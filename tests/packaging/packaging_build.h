// What the packaging tests share: where the source and this build are, and the Debian packages
// CPack makes of this build (only of a plain build configured for /usr: the programs carry their
// paths from the prefix, and a sanitizer build's binaries depend on libasan).
#pragma once

#include <string>

#include "common/read_file.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::testing {

inline const std::string kSource = TIDEMARK_SOURCE_DIR;
inline const std::string kBuild = TIDEMARK_BUILD_DIR;

// Why this build cannot be packaged ("" when it can): not for /usr, or no cpack. (A sanitizer
// build is a skip of its own in each test: it is not a missing tool.)
inline std::string WhyNoPackages() {
  if (!HaveProgram("cpack") || !HaveProgram("dpkg-deb")) return "cpack or dpkg-deb not installed";
  StatusOr<std::string> cache = ReadRegularFile(kBuild + "/CMakeCache.txt", 16 << 20);
  if (!cache.ok() || cache->find("\nCMAKE_INSTALL_PREFIX:PATH=/usr\n") == std::string::npos) {
    return "this build is not for /usr (packages come only from one: the default prefix, or "
           "packaging/build-packages.sh)";
  }
  return "";
}

// Makes this build's packages into `dir` (Debian revision `release`); 0 when made, else
// CPack's exit code with its output in `log`. One CPack at a time per build (flock): each first
// builds the `preinstall` target in the build tree, and in a tree older than its sources two of
// them at once (ctest -j) rebuilt the same files and all failed.
inline int MakePackages(const std::string& dir, const std::string& release, std::string* log) {
  std::string err;
  int rc = RunCommand("flock " + ShellQuote(kBuild + "/.cpack.lock") + " cpack --config " +
                          ShellQuote(kBuild + "/CPackConfig.cmake") + " -B " + ShellQuote(dir) +
                          " -D CPACK_DEBIAN_PACKAGE_RELEASE=" + release + " && rm -rf " +
                          ShellQuote(dir + "/_CPack_Packages"),
                      log, &err);
  *log += err;
  return rc;
}

}  // namespace tidemark::testing
