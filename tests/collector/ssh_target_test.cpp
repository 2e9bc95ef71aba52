// The SSH layer's pure parts (collector/ctl/remote/ssh.h): targets as people write them, and
// shell quoting for the commands run on a host.
#include <gtest/gtest.h>

#include "collector/ctl/remote/ssh.h"

namespace tidemark::ctl::remote {
namespace {

TEST(SshTargetTest, HostUserPortAndBracketedAddresses) {
  struct Case {
    std::string text, host, user;
    int port;
    std::string shown;
  };
  for (const Case& c : std::vector<Case>{
           {"web1", "web1", "", 22, "web1:22"},
           {"admin@web1.example.org:2222", "web1.example.org", "admin", 2222,
            "admin@web1.example.org:2222"},
           {"10.0.0.7", "10.0.0.7", "", 22, "10.0.0.7:22"},
           {"[::1]:2200", "::1", "", 2200, "[::1]:2200"},
           {"::1", "::1", "", 22, "[::1]:22"},
           {"root@[fe80::1]", "fe80::1", "root", 22, "root@[fe80::1]:22"},
       }) {
    auto t = ParseSshTarget(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().message();
    EXPECT_EQ(t->host, c.host) << c.text;
    EXPECT_EQ(t->user, c.user) << c.text;
    EXPECT_EQ(t->port, c.port) << c.text;
    EXPECT_EQ(t->ToString(), c.shown) << c.text;
  }
}

TEST(SshTargetTest, WhatIsNotATargetIsRefusedWithTheReason) {
  struct Case {
    std::string text, reason;
  };
  for (const Case& c : std::vector<Case>{
           {"web1:", "the port is not 1 to 65535"},
           {"web1:0", "the port is not 1 to 65535"},
           {"web1:70000", "the port is not 1 to 65535"},
           {"web1:22x", "the port is not 1 to 65535"},
           {"@web1", "not a user name before '@'"},
           {"ad\x1bmin@web1", "not a user name before '@'"},
           {"-oProxyCommand=sh", "not a host name or address"},
           {"we b1", "not a host name or address"},
           {"", "not a host name or address"},
           {"[::1", "'[' without ']'"},
           {"[::1]x", "text after ']'"},
       }) {
    auto t = ParseSshTarget(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(t.status().message().find(c.reason), std::string::npos)
        << c.text << ": " << t.status().message();
  }
}

TEST(SshTargetTest, ShellQuoteKeepsEveryByteLiteral) {
  EXPECT_EQ(ShellQuote("plain"), "'plain'");
  EXPECT_EQ(ShellQuote("it's $HOME `x`"), "'it'\\''s $HOME `x`'");
  EXPECT_EQ(ShellQuote(""), "''");
}

}  // namespace
}  // namespace tidemark::ctl::remote
