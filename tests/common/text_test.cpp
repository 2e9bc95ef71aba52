#include "common/text.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace tidemark {
namespace {

TEST(EscapeControl, EscapesC0DelAndBackslash) {
  EXPECT_EQ(EscapeControl("a\r\x1b[2Kb\nc\td\x7f"), "a\\x0d\\x1b[2Kb\\x0ac\\x09d\\x7f");
  EXPECT_EQ(EscapeControl("C:\\x0a"), "C:\\\\x0a");  // a literal backslash cannot forge an escape
  EXPECT_EQ(EscapeControl(std::string("a\0b", 3)), "a\\x00b");
}

TEST(EscapeControl, EscapesC1AndLineSeparatorsButKeepsPrintableUtf8) {
  EXPECT_EQ(EscapeControl("x\xc2\x9b"
                          "31my"),
            "x\\u009b31my");  // U+009B CSI
  EXPECT_EQ(EscapeControl("a\xe2\x80\xa8"
                          "b"),
            "a\\u2028b");
  EXPECT_EQ(EscapeControl("\xe2\x80\xae"
                          "evil"),
            "\\u202eevil");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(EscapeControl("Jürgen Łukasz 日本"), "Jürgen Łukasz 日本");
}

TEST(EscapeControl, EscapesInvalidUtf8ByteByByte) {
  EXPECT_EQ(EscapeControl("a\xff"
                          "b"),
            "a\\xffb");
  EXPECT_EQ(EscapeControl("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(EscapeControl("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(EscapeControl("\xe2\x80"), "\\xe2\\x80");           // cut short
}

TEST(HexEncode, TwoLowercaseDigitsPerByteEveryByteValue) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\x7f\x80\xab\xff", 6)), "00017f80abff");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string hex = HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  for (int b = 0; b < 256; ++b) {
    char expected[3];
    std::snprintf(expected, sizeof expected, "%02x", b);
    EXPECT_EQ(hex.substr(static_cast<size_t>(b) * 2, 2), expected) << b;
  }
}

TEST(EscapeMarkup, EscapesTheFiveMarkupCharactersOnly) {
  EXPECT_EQ(EscapeMarkup("<a href=\"x\" title='y'>&amp;</a> é"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt; é");
  EXPECT_EQ(EscapeMarkup(EscapeControl("a\x1b[31m")), "a\\x1b[31m");
}

TEST(EscapeControlBounded, CutsOnAUnitBoundaryAndSaysHowLong) {
  std::string big(10 * 1024 * 1024, 'v');
  std::string out = EscapeControlBounded(big, 64);
  EXPECT_EQ(out, std::string(64, 'v') + "…(10485760 bytes)");
  EXPECT_EQ(EscapeControlBounded("ab\ncd", 4), "ab…(5 bytes)");  // "\x0a" would not fit
  EXPECT_EQ(EscapeControlBounded("short", 64), "short");
}

TEST(Utf8WrittenLength, CountsThreeBytesForEachByteThatIsNotUtf8) {
  EXPECT_EQ(Utf8WrittenLength(""), 0u);
  EXPECT_EQ(Utf8WrittenLength("short é"), 8u);                            // valid: its own size
  EXPECT_EQ(Utf8WrittenLength(std::string("a\xC9") + "b\xF0\x9F"), 11u);  // 1 + 3 + 1 + 3 + 3
  EXPECT_EQ(Utf8WrittenLength("\xED\xA0\x80"), 9u);  // a surrogate: three bytes, none valid
  EXPECT_EQ(Utf8WrittenLength(std::string(20, '\xC9')), 60u);
}

TEST(Utf8Bounded, ReplacesInvalidBytesAndCutsOnACharacterBoundary) {
  const std::string fffd = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(Utf8Bounded("short é", 64), "short é");
  // A lone byte, and a sequence cut short at the end.
  EXPECT_EQ(Utf8Bounded(std::string("a\xC9") + "b\xF0\x9F", 64), "a" + fffd + "b" + fffd + fffd);
  EXPECT_EQ(Utf8Bounded("\xED\xA0\x80", 64), fffd + fffd + fffd);          // a surrogate
  EXPECT_EQ(Utf8Bounded(std::string(40, 'x'), 40), std::string(40, 'x'));  // exactly the limit
  // 41 bytes: 40 - 13 ("…(41 bytes)" is 3 + 10 bytes) kept.
  EXPECT_EQ(Utf8Bounded(std::string(41, 'x'), 40), std::string(27, 'x') + "…(41 bytes)");
  // Never inside a character: "é" (2 bytes) that would end at byte 28 is left out.
  std::string out = Utf8Bounded(std::string(26, 'x') + "éé" + std::string(20, 'y'), 40);
  EXPECT_EQ(out, std::string(26, 'x') + "…(50 bytes)");
  // Three bytes for each invalid one: 20 of them are 60 bytes, over 40; 9 fit before the ending.
  out = Utf8Bounded(std::string(20, '\xC9'), 40);
  std::string replacements;
  for (int i = 0; i < 9; ++i) replacements += fffd;
  EXPECT_EQ(out, replacements + "…(20 bytes)");
  EXPECT_EQ(out.size(), 40u);
  EXPECT_EQ(Utf8Bounded(out, 40), out);  // twice is once
}

// The C locale's tolower()/strcasecmp(): ASCII letters only; other bytes (UTF-8, Latin-1) are
// compared and kept as they are.
TEST(AsciiCase, LowerAndEqualsNoCaseTouchOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("PermitRootLogin @Include Z[`"), "permitrootlogin @include z[`");
  EXPECT_EQ(AsciiLower("\xc3\x84\xc4"), "\xc3\x84\xc4");  // UTF-8 Ä and a lone Latin-1 Ä
  EXPECT_TRUE(EqualsNoCase("Package", "pACKAGE"));
  EXPECT_TRUE(EqualsNoCase("", ""));
  EXPECT_FALSE(EqualsNoCase("Package", "Packages"));
  EXPECT_FALSE(EqualsNoCase("@", "`"));        // 0x40 and 0x60: not a case pair
  EXPECT_FALSE(EqualsNoCase("\xc4", "\xe4"));  // Latin-1 Ä and ä: not ASCII
  for (int c = 0; c < 256; ++c) {
    char ch = static_cast<char>(c);
    bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    EXPECT_EQ(EqualsNoCase(std::string(1, ch), std::string(1, static_cast<char>(c ^ 0x20))), letter)
        << c;
  }
}

}  // namespace
}  // namespace tidemark
