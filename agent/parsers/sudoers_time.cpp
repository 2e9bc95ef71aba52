// The Option_Spec time values: sudo 1.9.13's plugins/sudoers/timeout.c (parse_timeout(), for
// TIMEOUT=) and gentime.c (parse_gentime(), for NOTBEFORE= and NOTAFTER=); sudoers(5),
// "Timeout_Spec" and "Date_Spec".
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "agent/parsers/sudoers.h"
#include "agent/parsers/sudoers_internal.h"
#include "common/time.h"

namespace tidemark::agent::sudoers {

using internal::IsDigit;

std::optional<int64_t> ParseTimeout(std::string_view s) {
  // sudoers(5) Timeout_Spec: [Nd][Nh][Nm][Ns] in this order, each at most once; a bare number
  // is seconds.
  if (s.empty()) return std::nullopt;
  static constexpr std::string_view kUnits = "dhms";
  static constexpr std::array<int64_t, 4> kMult = {86400, 3600, 60, 1};
  size_t next_unit = 0;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    int64_t n = 0;
    while (j < s.size() && IsDigit(s[j])) {
      n = n * 10 + (s[j] - '0');
      if (n > INT32_MAX) return std::nullopt;
      ++j;
    }
    if (j == i) return std::nullopt;
    if (j == s.size()) {
      total += n;
      break;
    }
    char u = static_cast<char>(std::tolower(static_cast<unsigned char>(s[j])));
    size_t idx = kUnits.find(u);
    if (idx == std::string_view::npos || idx < next_unit) return std::nullopt;
    total += n * kMult[idx];
    next_unit = idx + 1;
    i = j + 1;
  }
  if (total > INT32_MAX) return std::nullopt;
  return total;
}

std::optional<std::string> NormalizeGentime(std::string_view s) {
  // sudoers(5) Date_Spec: yyyymmddHH[MM[SS]][.frac][Z|(+|-)HHMM]; no zone means local time,
  // which an offline audit cannot know: it is taken as UTC.
  auto digits = [&](size_t at, size_t n, int& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (size_t k = at; k < at + n; ++k) {
      if (!IsDigit(s[k])) return false;
      out = out * 10 + (s[k] - '0');
    }
    return true;
  };
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (!digits(0, 4, year) || !digits(4, 2, mon) || !digits(6, 2, day) || !digits(8, 2, hour)) {
    return std::nullopt;
  }
  size_t i = 10;
  if (digits(i, 2, min)) {
    i += 2;
    if (digits(i, 2, sec)) i += 2;
  }
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    size_t f = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == f) return std::nullopt;
  }
  int64_t offset = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!digits(i + 1, 2, oh)) return std::nullopt;
    size_t k = i + 3;
    if (digits(k, 2, om)) k += 2;
    offset = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i = k;
  }
  if (i != s.size()) return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  CivilTime local{year,
                  static_cast<unsigned>(mon),
                  static_cast<unsigned>(day),
                  static_cast<unsigned>(hour),
                  static_cast<unsigned>(min),
                  static_cast<unsigned>(sec)};
  CivilTime utc = CivilFromSeconds(SecondsFromCivil(local) - offset);
  // The year without padding, as sudo's strftime("%Y") writes it (year 999 is "999").
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld%02u%02u%02u%02u%02uZ", static_cast<long long>(utc.year),
                utc.month, utc.day, utc.hour, utc.minute, utc.second);
  return std::string(buf);
}

}  // namespace tidemark::agent::sudoers
