// sudoers_regex.h: sudo 1.9.13's command-regex check (lib/util/regex.c: the length limit,
// check_pattern's repetition rules, then regcomp with REG_EXTENDED|REG_NOSUB), with an estimate
// of glibc's copies in between so that a hostile regex is never compiled.
#include "agent/parsers/sudoers_regex.h"

#include <regex.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <vector>

namespace tidemark::agent::sudoers {
namespace {

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

bool IsRepeat(char c) { return c == '?' || c == '*' || c == '+' || c == '{'; }

// sudo's parse_num(): a number in 0..INT_MAX whose digits may each be escaped ("\2"), -1 when it
// overflows. `at` ends on the first character that is not a (possibly escaped) digit, or on the
// digit that overflowed.
int ParseNum(std::string_view s, size_t& at) {
  int result = 0;
  while (at < s.size()) {
    char c = s[at];
    size_t next = at + 1;
    if (c == '\\' && next < s.size() && IsDigit(s[next])) {
      c = s[next];
      ++next;
    } else if (!IsDigit(c)) {
      break;
    }
    int d = c - '0';
    if (result > INT_MAX / 10 || (result == INT_MAX / 10 && d > INT_MAX % 10)) {
      at = next - 1;
      return -1;
    }
    result = result * 10 + d;
    at = next;
  }
  return result;
}

// sudo's check_pattern(): a repetition operator after another ("a++", "a{2}*", "a*{2}") is
// REG_BADRPT, a bound over 255 REG_BADBR (glibc itself allows both). Like sudo, the second
// number of a bound is remembered across bounds ("a{1,300x}b{2}" is REG_BADBR).
int SudoCheckPattern(std::string_view p) {
  int b2 = 0;
  char prev = '\0';
  size_t i = 0;
  while (i < p.size()) {
    char c = p[i++];
    switch (c) {
      case '\\':
        if (i < p.size()) {
          ++i;
          prev = '\0';
          continue;
        }
        break;
      case '?':
      case '*':
      case '+':
        if (IsRepeat(prev)) return REG_BADRPT;
        break;
      case '{': {
        size_t at = i;
        int b1 = ParseNum(p, at);
        if (at < p.size() &&
            (p[at] == ',' || (p[at] == '\\' && at + 1 < p.size() && p[at + 1] == ','))) {
          at += p[at] == '\\' ? 2 : 1;
          b2 = ParseNum(p, at);
        }
        i = at;
        if (i < p.size() && p[i] == '}') {
          if (b1 < 0 || b1 > 255 || b2 < 0 || b2 > 255) return REG_BADBR;
          if (IsRepeat(prev)) return REG_BADRPT;
          ++i;
          break;  // prev becomes '{'
        }
        prev = '\0';
        continue;
      }
      default:
        break;
    }
    prev = c;
  }
  return 0;
}

// The error for regcomp's (or sudo's check's) `code`, in glibc's words as visudo prints them.
std::string Invalid(int code) {
  regex_t none;
  std::memset(&none, 0, sizeof none);
  char buf[256];
  regerror(code, &none, buf, sizeof buf);
  return std::string("invalid regular expression: ") + buf;
}

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t SatMul(uint64_t a, uint64_t b) {
  return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

// A bound "{m}", "{m,}", "{m,n}" or "{,n}" at p[i] == '{' (digits as glibc reads them): the
// copies glibc makes of what precedes it, and where the bound ends. 0 when it is not a bound.
uint64_t BoundCopies(std::string_view p, size_t& i) {
  size_t at = i + 1;
  // Clamped just past RE_DUP_MAX: glibc refuses anything larger the same way.
  auto number = [&](uint64_t& v) {
    bool any = false;
    v = 0;
    while (at < p.size() && IsDigit(p[at])) {
      v = std::min<uint64_t>(v * 10 + static_cast<uint64_t>(p[at] - '0'), RE_DUP_MAX + 1);
      ++at;
      any = true;
    }
    return any;
  };
  uint64_t m = 0;
  uint64_t n = 0;
  bool has_m = number(m);
  bool comma = at < p.size() && p[at] == ',';
  bool has_n = false;
  if (comma) {
    ++at;
    has_n = number(n);
  }
  if (at >= p.size() || p[at] != '}' || (!has_m && !has_n && !comma)) return 0;
  i = at + 1;
  // glibc refuses a bound over RE_DUP_MAX (REG_ESIZE) where it reads it, before copying.
  if (m > RE_DUP_MAX || n > RE_DUP_MAX) return 1;
  if (!comma) return std::max<uint64_t>(m, 1);
  if (!has_n) return m + 1;  // m copies and one starred
  return std::max<uint64_t>(std::max(m, n), 1);
}

}  // namespace

uint64_t RegexCopies(std::string_view p) {
  // One frame per open group: `done` sums the finished atoms (and alternatives) of the group,
  // `last` is the atom or group a repetition would apply to.
  struct Frame {
    uint64_t done = 0;
    uint64_t last = 0;
  };
  std::vector<Frame> stack(1);
  auto atom = [&](uint64_t cost) {
    Frame& f = stack.back();
    f.done = SatAdd(f.done, f.last);
    f.last = cost;
  };
  size_t i = 0;
  while (i < p.size()) {
    char c = p[i];
    if (c == '\\') {
      i += 2;
      atom(1);
    } else if (c == '[') {  // a bracket expression is one node, however long
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') {
        if (p[j] == '[' && j + 1 < p.size() && std::strchr(":.=", p[j + 1]) != nullptr) {
          size_t close = p.find(std::string{p[j + 1], ']'}, j + 2);
          j = close == std::string_view::npos ? p.size() : close + 2;
        } else {
          ++j;
        }
      }
      i = j + 1;
      atom(1);
    } else if (c == '(') {
      stack.emplace_back();
      ++i;
    } else if (c == ')' && stack.size() > 1) {
      Frame f = stack.back();
      stack.pop_back();
      atom(SatAdd(f.done, f.last));
      ++i;
    } else if (c == '|') {
      Frame& f = stack.back();
      f.done = SatAdd(f.done, f.last);
      f.last = 0;
      ++i;
    } else if (c == '*' || c == '?') {
      ++i;
    } else if (c == '+') {  // "x+" is "xx*"
      stack.back().last = SatMul(stack.back().last, 2);
      ++i;
    } else if (c == '{') {
      if (uint64_t copies = BoundCopies(p, i)) {
        stack.back().last = SatMul(stack.back().last, copies);
      } else {
        atom(1);
        ++i;
      }
    } else {
      atom(1);
      ++i;
    }
  }
  while (stack.size() > 1) {  // an unclosed group (regcomp refuses it; the estimate still ends)
    Frame f = stack.back();
    stack.pop_back();
    atom(SatAdd(f.done, f.last));
  }
  return SatAdd(stack.back().done, stack.back().last);
}

RegexCheck CheckCommandRegex(std::string_view re, uint64_t copies_left) {
  using R = RegexCheck::Result;
  if (re.size() > kMaxRegexLen) return {R::kInvalid, "regular expression too large"};
  // sudo_regex_compile(): "(?i)" right after the leading '^' asks for case-insensitivity.
  std::string pattern(re);
  int flags = REG_EXTENDED | REG_NOSUB;
  size_t at = !pattern.empty() && pattern[0] == '^' ? 1 : 0;
  if (pattern.compare(at, 4, "(?i)") == 0) {
    pattern.erase(at, 4);
    flags |= REG_ICASE;
  }
  if (int code = SudoCheckPattern(pattern)) return {R::kInvalid, Invalid(code)};
  uint64_t copies = RegexCopies(pattern);
  if (copies > kMaxRegexNodes) {
    return {R::kNotChecked,
            "regular expression not checked: its repetitions would make " +
                (copies == UINT64_MAX ? std::string("too many") : std::to_string(copies)) +
                " copies (more than " + std::to_string(kMaxRegexNodes) +
                "); sudo may refuse this entry"};
  }
  if (copies > copies_left) {
    return {R::kNotChecked,
            "regular expression not checked: the command regexes before it used "
            "up the " +
                std::to_string(kMaxRegexCopiesTotal) +
                " copies allowed for one sudoers tree; sudo may refuse this entry"};
  }
  regex_t compiled;
  int code = regcomp(&compiled, pattern.c_str(), flags);
  if (code != 0) return {R::kInvalid, Invalid(code), copies};
  regfree(&compiled);
  return {R::kValid, "", copies};
}

}  // namespace tidemark::agent::sudoers
