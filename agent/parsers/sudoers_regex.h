// What sudo 1.9.13 does with a command's regular expression when it parses sudoers
// (lib/util/regex.c, sudo_regex_compile), without letting a hostile one cost what it costs sudo.
//
// sudo checks a command regex ("^...$") with its own repetition check and then glibc's regcomp;
// it never compiles an argument regex while parsing (visudo -c and cvtsudoers take "^a[$" as
// arguments). glibc's regcomp copies a repeated sub-expression once per repetition, so a few
// hundred bytes can take gigabytes: "^/((a{1,100}){1,100}){1,100}$" passes sudo's check and
// takes visudo -c 1.1 GB. Here a regex whose copies would exceed kMaxRegexNodes is not compiled.
// Plain functions, no state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tidemark::agent::sudoers {

// sudoers(5) "Regular expressions": "limited to 1024 characters" (checked before anything else).
inline constexpr size_t kMaxRegexLen = 1024;

// Sub-expression copies glibc's regcomp may make for one regex before tidemark declines to
// compile it. glibc on Debian 12 takes ~13 MB for "(a{1,100}){1,100}" (10,000 copies),
// ~40 MB for 20,000 and 1.1 GB for 1,000,000; real regexes use tens to hundreds.
inline constexpr uint64_t kMaxRegexNodes = 10000;
// Copies compiled for all the command regexes of one sudoers tree (101 regexes of 9,804 copies
// took 0.7 s here, on a loaded machine); the regexes after it are not compiled. Without it,
// 32 MiB of "u ALL = ^/a(b{1,98}){1,100}$" lines would keep the agent compiling for over an
// hour (300 of them took 1.6 s).
inline constexpr uint64_t kMaxRegexCopiesTotal = 1000000;

struct RegexCheck {
  enum class Result {
    kValid,       // sudo accepts it
    kInvalid,     // sudo refuses the entry: a syntax error at its line, `message` says why
    kNotChecked,  // too costly to compile: sudo's verdict is unknown; `message` says why
  };
  Result result = Result::kValid;
  std::string message;
  uint64_t copies = 0;  // the estimate (RegexCopies) for a regex that was compiled
};

// Returns what sudo's parser makes of the command regex `re` (as written, "^...$", an optional
// "(?i)" after the '^'), compiling it only when its estimated copies are within kMaxRegexNodes
// and within `copies_left` (what the tree's kMaxRegexCopiesTotal has left).
RegexCheck CheckCommandRegex(std::string_view re, uint64_t copies_left = kMaxRegexCopiesTotal);

// Returns an upper estimate of the sub-expression copies glibc's regcomp makes for the extended
// regular expression `pattern`: the sum over its atoms of the product of the repetition counts
// around each ("x{m,n}" n copies, "x{m,}" m+1, "x+" 2). Saturates at UINT64_MAX.
uint64_t RegexCopies(std::string_view pattern);

}  // namespace tidemark::agent::sudoers
