// TIDEMARK_REQUIRE(condition, reason): for a test that needs something of the machine (a real
// tool, root, a kernel feature). Outside CI a missing requirement skips the test with the
// reason shown; with CI=true (as .ci/run runs) it fails, so CI can never silently lose a
// comparison with a real tool. Use instead of a bare GTEST_SKIP().
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace tidemark::testing {

// Returns true when the tests run under CI (CI=true), where a missing requirement is a failure.
inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

}  // namespace tidemark::testing

#define TIDEMARK_REQUIRE(condition, reason)             \
  do {                                                  \
    if (!(condition)) {                                 \
      if (::tidemark::testing::InCi()) {                \
        FAIL() << "required under CI=true: " << reason; \
      } else {                                          \
        GTEST_SKIP() << reason;                         \
      }                                                 \
    }                                                   \
  } while (0)
