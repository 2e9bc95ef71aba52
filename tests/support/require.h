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

// Builds with a sanitizer (CI's asan stage) run the agent several times slower and with several
// times the memory (shadow memory, redzones); bounds of work measured on a plain build are
// multiplied by this factor there. g++ defines __SANITIZE_*__; clang answers __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TIDEMARK_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(TIDEMARK_TEST_SANITIZED)
inline constexpr int kSanitizerFactor = 4;
inline constexpr bool kSanitized = true;
#else
inline constexpr int kSanitizerFactor = 1;
inline constexpr bool kSanitized = false;
#endif

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
