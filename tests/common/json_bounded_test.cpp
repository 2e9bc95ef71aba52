#include "common/json_bounded.h"

#include <gtest/gtest.h>

#include <string>

namespace tidemark {
namespace {

using nlohmann::json;

std::string Nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonBoundedTest, ParsesOrdinaryJson) {
  auto j =
      ParseJsonBounded(R"({"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":"\u00e9"})", JsonLimits{});
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["a"][1], -2);
  EXPECT_EQ((*j)["a"][6]["b"], json::object());
  EXPECT_EQ((*j)["c"], "\xc3\xa9");
  EXPECT_EQ(*j, json::parse(R"({"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":"\u00e9"})"));
  EXPECT_EQ(*ParseJsonBounded("5", JsonLimits{}), json(5));
  EXPECT_EQ(*ParseJsonBounded(" [] ", JsonLimits{}), json::array());
}

TEST(JsonBoundedTest, RefusesInvalidJsonWithoutThrowing) {
  for (const std::string& bad :
       std::vector<std::string>{"", "{", "[1,]", "{\"a\":1} {}", "nul", "\"\xff\"", "{\"a\" 1}",
                                "[1e999]", "\"\\ud800\"", std::string("[\0]", 3)}) {
    auto j = ParseJsonBounded(bad, JsonLimits{});
    ASSERT_FALSE(j.ok()) << bad;
    EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(j.status().message().find("not valid JSON"), std::string::npos) << bad;
  }
}

TEST(JsonBoundedTest, ErrorMessagesAreBoundedAndEscaped) {
  std::string text = "[\"" + std::string(100000, 'a') + "\x1b[2K";  // unterminated
  auto j = ParseJsonBounded(text, JsonLimits{});
  ASSERT_FALSE(j.ok());
  EXPECT_LT(j.status().message().size(), 400u);
  EXPECT_EQ(j.status().message().find('\x1b'), std::string::npos);
}

TEST(JsonBoundedTest, LimitsNestingDepthBeforeBuilding) {
  JsonLimits limits;
  limits.max_depth = 5;
  EXPECT_TRUE(ParseJsonBounded(Nested(5), limits).ok());
  auto deep = ParseJsonBounded(Nested(6), limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(deep.status().message().find("nested deeper than 5"), std::string::npos);
  EXPECT_TRUE(ParseJsonBounded(R"({"a":{"b":{"c":{"d":{"e":1}}}}})", limits).ok());
  auto six = ParseJsonBounded(R"({"a":{"b":{"c":{"d":{"e":{}}}}}})", limits);
  EXPECT_FALSE(six.ok());
  EXPECT_EQ(six.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(six.status().message().find("nested deeper than 5"), std::string::npos)
      << six.status().message();
  // A document nested far deeper than any stack (the 75,000-deep frame of issue 9) is refused
  // without recursion, and so is one that is only opened.
  std::string hostile = Nested(200000);
  EXPECT_EQ(ParseJsonBounded(hostile, kSnapshotJsonLimits).status().code(), StatusCode::kTooLarge);
  auto opened = ParseJsonBounded(std::string(200000, '['), kSnapshotJsonLimits);
  EXPECT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(opened.status().message().find("nested deeper than"), std::string::npos)
      << opened.status().message();
  auto objects = ParseJsonBounded(Nested(200000, '{', '}'), kSnapshotJsonLimits);
  EXPECT_FALSE(objects.ok());
  EXPECT_EQ(objects.status().code(), StatusCode::kInvalidArgument);  // "{{": no key
  EXPECT_NE(objects.status().message().find("not valid JSON"), std::string::npos)
      << objects.status().message();
}

TEST(JsonBoundedTest, LimitsStringsKeysAndContainers) {
  JsonLimits limits;
  limits.max_string_bytes = 8;
  limits.max_container_items = 3;
  EXPECT_TRUE(ParseJsonBounded(R"(["12345678"])", limits).ok());
  EXPECT_EQ(ParseJsonBounded(R"(["123456789"])", limits).status().code(), StatusCode::kTooLarge);
  EXPECT_TRUE(ParseJsonBounded(R"({"12345678":1})", limits).ok());
  EXPECT_EQ(ParseJsonBounded(R"({"123456789":1})", limits).status().code(), StatusCode::kTooLarge);
  EXPECT_TRUE(ParseJsonBounded("[1,[2],{}]", limits).ok());
  EXPECT_EQ(ParseJsonBounded("[1,[2],{},4]", limits).status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(ParseJsonBounded("[[],[],[],[]]", limits).status().code(), StatusCode::kTooLarge);
  EXPECT_TRUE(ParseJsonBounded(R"({"a":[1,2,3],"b":{},"c":1})", limits).ok());
  auto members = ParseJsonBounded(R"({"a":1,"b":2,"c":3,"d":4})", limits);
  ASSERT_FALSE(members.ok());
  EXPECT_NE(members.status().message().find("more than 3 items"), std::string::npos);
}

TEST(JsonBoundedTest, RefusesDuplicateKeysAtAnyLevel) {
  for (const char* dup :
       {R"({"a":1,"a":2})", R"({"x":{"a":1,"b":2,"a":1}})", R"([{"k":[{"z":{},"z":{}}]}])"}) {
    auto j = ParseJsonBounded(dup, JsonLimits{});
    ASSERT_FALSE(j.ok()) << dup;
    EXPECT_NE(j.status().message().find("duplicate key"), std::string::npos) << dup;
  }
  EXPECT_TRUE(ParseJsonBounded(R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":1}]})", JsonLimits{}).ok());
}

}  // namespace
}  // namespace tidemark
