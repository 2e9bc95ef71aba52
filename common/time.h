// Instants as RFC 3339 text: the store's receive times, --at and --now, a register's expiries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tidemark {

// The system clock in whole seconds since the epoch: the collector's receive time and the
// default of every --now.
int64_t NowSeconds();

// RFC 3339 UTC text with seconds ("2026-11-28T19:00:00Z").
std::string FormatRfc3339(int64_t seconds);

// The UTC calendar fields of an instant, in the proleptic Gregorian calendar, for the formats
// other than RFC 3339 (sudoers' generalized time, snapshot ids). Computed by arithmetic: no
// gmtime_r, which reads /etc/localtime on its first call.
struct CivilTime {
  int64_t year = 1970;
  unsigned month = 1;  // 1-12
  unsigned day = 1;    // 1-31
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
};
// The calendar fields of `seconds` since the epoch (any year, negative ones included).
CivilTime CivilFromSeconds(int64_t seconds);
// Seconds since the epoch of `t`, its fields taken as given: callers check the ranges (a second
// of 60, a leap second, counts as the next minute's first).
int64_t SecondsFromCivil(const CivilTime& t);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" (also lowercase t/z): seconds since the
// epoch; fractions are dropped. A time without Z or an offset is refused (an instant, never a
// local time). kInvalidArgument names the text otherwise.
StatusOr<int64_t> ParseRfc3339(std::string_view text);

// Parses a time given on a command line (--at, --now): RFC 3339 as ParseRfc3339, or a date
// YYYY-MM-DD meaning the start of that day in UTC.
StatusOr<int64_t> ParseTimeArgument(std::string_view text);

// Parses a duration: a positive whole number and one unit, s, m, h, d or w ("26h", "90m",
// "2d"). Returns seconds; kInvalidArgument names the text otherwise (no unit, zero, overflow).
StatusOr<int64_t> ParseDuration(std::string_view text);

}  // namespace tidemark
