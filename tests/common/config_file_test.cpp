// key = value config files and flags (common/config_file.h).
#include "common/config_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

TEST(ConfigFileTest, ParsesKeysValuesCommentsAndNamesBadLines) {
  auto c = ParseConfigText("# collector\n\n listen = 127.0.0.1:7411 \ndb=/var/lib/x.db\n", "f");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->at("listen").value, "127.0.0.1:7411");
  EXPECT_EQ(c->at("db").origin, "f:4");
  EXPECT_NE(ParseConfigText("a = 1\nnonsense\n", "f").status().message().find("f:2"),
            std::string::npos);
  EXPECT_NE(ParseConfigText("a = 1\na = 2\n", "f").status().message().find("already set at f:1"),
            std::string::npos);
  auto bad_key = ParseConfigText("Bad-Key = 1\n", "f");
  EXPECT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_key.status().message().find("f:1: invalid key"), std::string::npos)
      << bad_key.status().message();
  auto nul = ParseConfigText(std::string("a = 1\0\n", 7), "f");
  EXPECT_FALSE(nul.ok());
  EXPECT_EQ(nul.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nul.status().message().find("f:1: NUL byte"), std::string::npos)
      << nul.status().message();
  EXPECT_EQ(ReadConfigFile("/nonexistent/tidemark.conf").status().code(), StatusCode::kNotFound);
}

// A daemon's configuration is a regular file: a FIFO in its place is refused at once instead of
// stalling the start, and /dev/zero instead of filling the memory.
TEST(ConfigFileTest, ReadsOnlyARegularFile) {
  testing::TempRoot dir;
  std::string fifo = dir.Host("agent.conf");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/zero")}) {
    auto c = ReadConfigFile(path);
    EXPECT_EQ(c.status().code(), StatusCode::kWrongType) << path;
    EXPECT_NE(c.status().message().find(path + ": not a regular file"), std::string::npos)
        << c.status().message();
  }
  dir.Write("big.conf", std::string((1u << 20) + 1, '#'));
  EXPECT_EQ(ReadConfigFile(dir.Host("big.conf")).status().code(), StatusCode::kTooLarge);
  dir.Write("ok.conf", "db = /x\n");
  auto ok = ReadConfigFile(dir.Host("ok.conf"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->at("db").origin, dir.Host("ok.conf") + ":1");
}

TEST(ConfigFileTest, FlagsOverrideTheFileAndUnknownKeysAreNamed) {
  auto c = ParseConfigText("max_connections = 10\n", "f");
  ASSERT_TRUE(c.ok());
  std::vector<std::string> pos;
  std::vector<std::string> known = {"max_connections", "db", "tls12"};
  ASSERT_TRUE(ApplyFlags({"--max-connections", "20", "--db=/x", "--tls12", "extra"}, known,
                         {"tls12"}, &*c, &pos)
                  .ok());
  EXPECT_EQ(c->at("max_connections").value, "20");
  EXPECT_EQ(c->at("db").value, "/x");
  EXPECT_EQ(c->at("tls12").value, "true");
  EXPECT_EQ(pos, std::vector<std::string>{"extra"});
  EXPECT_NE(ApplyFlags({"--bogus", "1"}, known, {}, &*c, &pos).message().find("--bogus"),
            std::string::npos);
  EXPECT_NE(ApplyFlags({"--db"}, known, {}, &*c, &pos).message().find("needs a value"),
            std::string::npos);
  auto bad = ParseConfigText("colour = red\n", "g");
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();
  EXPECT_NE(CheckKnownKeys(*bad, known).message().find("g:1"), std::string::npos);
}

TEST(ConfigFileTest, TypedGettersCheckRangeAndSyntax) {
  auto c = ParseConfigText("n = 12\nbig = 99\nword = x\nyes = yes\n", "f");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*GetInt(*c, "n", 0, 1, 100), 12);
  EXPECT_EQ(*GetInt(*c, "absent", 7, 1, 100), 7);
  EXPECT_NE(GetInt(*c, "big", 0, 1, 50).status().message().find("between 1 and 50"),
            std::string::npos);
  auto int_word = GetInt(*c, "word", 0, 0, 1);
  EXPECT_FALSE(int_word.ok());
  EXPECT_EQ(int_word.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(int_word.status().message().find("word must be an integer"), std::string::npos)
      << int_word.status().message();
  EXPECT_TRUE(*GetBool(*c, "yes", false));
  auto bool_word = GetBool(*c, "word", false);
  EXPECT_FALSE(bool_word.ok());
  EXPECT_EQ(bool_word.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bool_word.status().message().find("word must be true or false"), std::string::npos)
      << bool_word.status().message();
  EXPECT_EQ(GetString(*c, "word", ""), "x");
}

}  // namespace
}  // namespace tidemark
