// common/time: RFC 3339 instants and durations (the store's receive times, --at and --now, a
// register's expiries, the agent's collected_at).
#include "common/time.h"

#include <gtest/gtest.h>

#include <ctime>

namespace tidemark {
namespace {

TEST(Rfc3339Test, ParsesOffsetsAndRejectsJunk) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339("2026-11-28T19:00:00Z"), 1795892400);
  EXPECT_EQ(*ParseRfc3339("2026-11-28T20:00:00+01:00"), 1795892400);
  EXPECT_EQ(*ParseRfc3339("2026-11-28t18:30:00.123-00:30"), 1795892400);
  EXPECT_EQ(FormatRfc3339(1795892400), "2026-11-28T19:00:00Z");
  for (const char* bad : {"", "2026-11-28", "2026-11-28T19:00:00", "2026-02-30T00:00:00Z",
                          "2026-11-28T24:00:00Z", "2026-11-28T19:00:00Zjunk", "yesterday"}) {
    auto t = ParseRfc3339(bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(t.status().message().find("not an RFC 3339 time"), std::string::npos)
        << t.status().message();
  }
}

// FormatRfc3339 computes the calendar itself (gmtime_r would read /etc/localtime on its first
// call): the same text as gmtime_r + strftime on days of years 1000-9999 at varying times
// of day; years 0-999 with four digits as RFC 3339 writes them (strftime's %Y gives "999", which
// ParseRfc3339 refuses), so that every instant of years 0-9999 parses back to itself.
TEST(Rfc3339Test, FormatEqualsGmtimeAndStrftimeAndParsesBack) {
  auto reference = [](int64_t s) {
    std::time_t t = static_cast<std::time_t>(s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };
  constexpr int64_t kFirst = -62167219200;     // 0000-01-01T00:00:00Z
  constexpr int64_t kYear1000 = -30610224000;  // 1000-01-01T00:00:00Z
  constexpr int64_t kEnd = 253402300800;       // 10000-01-01T00:00:00Z
  int64_t checked = 0;
  // Every third day (a third of the leap days, over 800), the time of day drifting.
  for (int64_t s = kFirst; s < kEnd; s += 3 * 86400 + 7) {
    std::string text = FormatRfc3339(s);
    if (s >= kYear1000) {
      ASSERT_EQ(text, reference(s)) << s;
    }
    StatusOr<int64_t> back = ParseRfc3339(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().message();
    ASSERT_EQ(*back, s) << text;
    ++checked;
  }
  EXPECT_GT(checked, 1200000);
  for (int64_t s : {kYear1000, kEnd - 1, kEnd, kFirst - 1, int64_t{-1}, int64_t{0},
                    int64_t{951782400}, int64_t{4107542400}, int64_t{1795892399}}) {
    EXPECT_EQ(FormatRfc3339(s), reference(s)) << s;
  }
  EXPECT_EQ(FormatRfc3339(kFirst), "0000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(kYear1000 - 1), "0999-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(kEnd - 1), "9999-12-31T23:59:59Z");
}

// The calendar fields that sudoers' generalized time and snapshot ids are written from: as
// gmtime_r gives them, over negative, four- and five-digit years, and back to the same second.
TEST(CivilTimeTest, FieldsEqualGmtimeAndGoBackToTheSameSecond) {
  constexpr int64_t kStart = -62167219200 - 400 * 31556952LL;  // about year -400
  constexpr int64_t kEnd = 253402300800 + 400 * 31556952LL;    // about year 10400
  int64_t checked = 0;
  for (int64_t s = kStart; s < kEnd; s += 11 * 86400 + 3607) {
    std::time_t t = static_cast<std::time_t>(s);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&t, &tm), nullptr) << s;
    CivilTime c = CivilFromSeconds(s);
    ASSERT_EQ(c.year, int64_t{tm.tm_year} + 1900) << s;
    ASSERT_EQ(c.month, static_cast<unsigned>(tm.tm_mon + 1)) << s;
    ASSERT_EQ(c.day, static_cast<unsigned>(tm.tm_mday)) << s;
    ASSERT_EQ(c.hour, static_cast<unsigned>(tm.tm_hour)) << s;
    ASSERT_EQ(c.minute, static_cast<unsigned>(tm.tm_min)) << s;
    ASSERT_EQ(c.second, static_cast<unsigned>(tm.tm_sec)) << s;
    ASSERT_EQ(SecondsFromCivil(c), s);
    ++checked;
  }
  EXPECT_GT(checked, 120000);
  // A leap second's 60 counts as the next minute's first, as mktime-style arithmetic does.
  EXPECT_EQ(SecondsFromCivil({2016, 12, 31, 23, 59, 60}), 1483228800);
  CivilTime epoch = CivilFromSeconds(0);
  EXPECT_EQ(epoch.year, 1970);
  EXPECT_EQ(epoch.month, 1u);
  EXPECT_EQ(epoch.day, 1u);
}

TEST(DurationTest, AWholeNumberAndOneUnit) {
  EXPECT_EQ(*ParseDuration("26h"), 26 * 3600);
  EXPECT_EQ(*ParseDuration("90m"), 90 * 60);
  EXPECT_EQ(*ParseDuration("2d"), 2 * 86400);
  EXPECT_EQ(*ParseDuration("1w"), 7 * 86400);
  EXPECT_EQ(*ParseDuration("45s"), 45);
  EXPECT_EQ(*ParseDuration("99999999999w"), 99999999999LL * 7 * 86400);  // the longest: no overflow
  for (const char* bad : {"", "h", "0h", "26", "26H", "1.5h", "-1h", "26 h", "999999999999w"}) {
    StatusOr<int64_t> d = ParseDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("is not a duration"), std::string::npos);
  }
}

}  // namespace
}  // namespace tidemark
