// Compares `tidemark-agent sshd` with the real `sshd -T [-C ...]` of Debian's openssh-server,
// line by line, on the project's fixture configurations (tests/fixtures/sshd/*), globally and in
// several connection contexts, and checks that both refuse the same broken configurations.
// The real sshd reads /etc/ssh: each run happens in a private mount namespace (unshare(1)) where
// the fixture's etc/ssh is bind-mounted over /etc/ssh, and it resolves users and groups through
// libnss_wrapper with the fixture's passwd/group, so the machine's files and accounts are never
// touched. Needs root (sshd -T and mount); skipped with the reason otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

const char* kSshd = "/usr/sbin/sshd";
const char* kNssWrapper = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

std::string Fixture(const std::string& name) {
  return std::string(TIDEMARK_FIXTURES_DIR) + "/sshd/" + name;
}

class SshdRealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDEMARK_REQUIRE(::geteuid() == 0, "sshd -T and the private mount need root");
    TIDEMARK_REQUIRE(::access(kSshd, X_OK) == 0,
                     "openssh-server is not installed (packaging/build-deps.sh --test)");
    TIDEMARK_REQUIRE(::access(kNssWrapper, R_OK) == 0,
                     "libnss-wrapper is not installed (packaging/build-deps.sh --test)");
    TIDEMARK_REQUIRE(testing::HaveProgram("unshare"), "unshare(1) is missing");
    std::string out;
    if (testing::RunCommand("unshare --mount --propagation private true", &out) != 0) {
      TIDEMARK_REQUIRE(false, "cannot create a private mount namespace here");
    }
    ::mkdir("/run/sshd", 0755);  // sshd -T checks the privilege separation directory
    hostkey_ = dir_.Host("/hk");
    ASSERT_EQ(testing::RunCommand("ssh-keygen -q -t ed25519 -N '' -f '" + hostkey_ + "'", &out), 0);
  }

  // Runs the real sshd -T on `root`'s etc/ssh; returns its exit status.
  int Real(const std::string& root, const std::string& spec, std::string* out) {
    std::string inner = "mount --bind '" + root +
                        "/etc/ssh' /etc/ssh && cd / && LD_PRELOAD=" + kNssWrapper +
                        " NSS_WRAPPER_PASSWD='" + root + "/etc/passwd' NSS_WRAPPER_GROUP='" + root +
                        "/etc/group' " + kSshd + " -T -f /etc/ssh/sshd_config -h '" + hostkey_ +
                        "'" + (spec.empty() ? "" : " -C '" + spec + "'");
    std::string err;
    return testing::RunCommand("unshare --mount --propagation private sh -c \"" + inner + "\"", out,
                               &err);
  }

  int Ours(const std::string& root, const std::string& spec, std::string* out, std::string* err) {
    return testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " sshd --root '" + root + "'" +
                                   (spec.empty() ? "" : " --context '" + spec + "'"),
                               out, err);
  }

  void Compare(const std::string& root, const std::string& spec) {
    SCOPED_TRACE(root + " -C " + spec);
    std::string real_out, our_out, our_err;
    int real = Real(root, spec, &real_out);
    int ours = Ours(root, spec, &our_out, &our_err);
    if (real != 0) {
      EXPECT_EQ(ours, 1) << "sshd refused the configuration, tidemark did not";
      EXPECT_FALSE(our_err.empty());
      return;
    }
    ASSERT_EQ(ours, 0) << our_err;
    // sshd prints the -h key first, then configured HostKey lines (or, without -h and without
    // HostKey, the default keys, which is what tidemark prints).
    std::vector<std::string> real_lines, real_keys, our_lines, our_keys;
    for (const auto& l : Lines(real_out)) {
      (l.rfind("hostkey ", 0) == 0 ? real_keys : real_lines).push_back(l);
    }
    for (const auto& l : Lines(our_out)) {
      (l.rfind("hostkey ", 0) == 0 ? our_keys : our_lines).push_back(l);
    }
    ASSERT_FALSE(real_keys.empty());
    EXPECT_EQ(real_keys[0], "hostkey " + hostkey_);
    real_keys.erase(real_keys.begin());
    if (real_keys.empty()) {
      EXPECT_EQ(our_keys, (std::vector<std::string>{"hostkey /etc/ssh/ssh_host_rsa_key",
                                                    "hostkey /etc/ssh/ssh_host_ecdsa_key",
                                                    "hostkey /etc/ssh/ssh_host_ed25519_key"}));
    } else {
      EXPECT_EQ(our_keys, real_keys);
    }
    ASSERT_EQ(our_lines.size(), real_lines.size()) << "real:\n" << real_out << "ours:\n" << our_out;
    for (size_t i = 0; i < real_lines.size(); ++i) EXPECT_EQ(our_lines[i], real_lines[i]);
    ++compared_;
  }

  testing::TempRoot dir_;
  std::string hostkey_;
  int compared_ = 0;
};

const std::vector<std::string> kContexts = {
    "",
    "user=alice,host=laptop.example.com,addr=10.1.2.3",
    "user=bob,host=bad.example.com,addr=10.9.9.9,laddr=10.0.0.1,lport=2222,rdomain=5",
    "user=carol,host=x,addr=172.16.4.4",
    "user=svc-backup,addr=2001:db8::7,lport=22,rdomain=rdx",
    "user=root,host=h.example.com,addr=192.168.1.7,laddr=10.0.0.2,lport=22",
    "user=nosuchuser,addr=192.168.1.77",
    "user=alice,addr=10.0.0.5,lport=2222",
};

TEST_F(SshdRealTest, EveryFixtureInEveryContextMatchesSshdLineByLine) {
  for (const char* name :
       {"stock", "empty", "dropins", "relative", "match", "localport", "deprecated", "values"}) {
    for (const auto& spec : kContexts) Compare(Fixture(name), spec);
  }
  EXPECT_GT(compared_, 40);  // most runs print a configuration (localport needs lport)
}

// The sshd section's user_settings (what differs per user from the global settings) against
// the real `sshd -T -C user=USER` beside the real `sshd -T`, for every user of each fixture
// with Match blocks (localport aside: the real sshd needs lport for it).
TEST_F(SshdRealTest, UserSettingsAreWhatRealSshdPrintsDifferentlyPerUser) {
  using Keywords = std::map<std::string, std::vector<std::string>>;
  auto by_keyword = [](const std::string& text) {
    Keywords out;
    for (const auto& l : Lines(text)) {
      size_t sp = l.find(' ');
      std::string k = l.substr(0, sp);
      if (k != "hostkey") out[k].push_back(sp == std::string::npos ? "" : l.substr(sp + 1));
    }
    return out;
  };
  size_t users_compared = 0, differences = 0;
  for (const char* name : {"match", "dropins", "relative"}) {
    std::string root = Fixture(name);
    SCOPED_TRACE(name);
    std::string global_out, collected, err;
    ASSERT_EQ(Real(root, "", &global_out), 0);
    Keywords global = by_keyword(global_out);
    ASSERT_EQ(testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " collect --root '" + root +
                                      "' --host-id t --only sshd",
                                  &collected, &err),
              0)
        << err;
    nlohmann::json items = nlohmann::json::parse(collected)["sshd"]["user_settings"];
    ASSERT_TRUE(items.is_array()) << collected;
    for (const auto& line : Lines(testing::ReadHostFile(root + "/etc/passwd"))) {
      std::string user = line.substr(0, line.find(':'));
      std::string user_out;
      ASSERT_EQ(Real(root, "user=" + user, &user_out), 0) << user;
      Keywords mine = by_keyword(user_out);
      Keywords expected;
      for (const auto& [k, v] : mine) {
        if (global[k] != v) expected[k] = v;
      }
      for (const auto& [k, v] : global) {
        if (mine.count(k) == 0) expected[k] = {};
      }
      Keywords ours;
      for (const auto& item : items) {
        if (item["user"] != user) continue;
        const auto& value = item["value"];
        ours[item["keyword"].get<std::string>()] =
            value.is_string() ? std::vector<std::string>{value.get<std::string>()}
                              : value.get<std::vector<std::string>>();
      }
      EXPECT_EQ(ours, expected) << user;
      differences += expected.size();
      ++users_compared;
    }
  }
  EXPECT_GE(users_compared, 10u);
  EXPECT_GE(differences, 10u);  // the fixtures' Match User/Group blocks do change settings
}

TEST_F(SshdRealTest, BothRefuseTheSameBrokenConfigurations) {
  const std::vector<std::pair<const char*, const char*>> broken = {
      {"unknown_criterion", "Match Color blue\n  X11Forwarding no\n"},
      {"bad_option", "PasswordAuthentication no\nNoSuchKeyword yes\n"},
      {"bad_value", "PermitRootLogin sometimes\n"},
      {"global_in_match", "Match User alice\n  Port 2222\n"},
      {"include_loop", "Include /etc/ssh/sshd_config\n"},
      {"missing_argument", "Banner\n"},
      {"bad_cidr", "Match Address 10.0.0.1/8\n  X11Forwarding no\n"},
      {"all_combined", "Match All User bob\n  X11Forwarding no\n"},
      {"bad_quotes", "AcceptEnv \"LANG\n"},
      {"extra_arguments", "PermitRootLogin no yes\n"},
      {"rdomain", "RDomain 5\n"},
      {"cipher_pattern", "Ciphers aes*\n"},
      {"bad_port", "Port 70000\n"},
      // Longer than any keyword (looked up in a bounded buffer), and a known one with more.
      {"long_keyword", "PasswordAuthenticationPasswordAuthenticationPasswordAuthentication x\n"},
      {"keyword_and_more", "PERMITROOTLOGINx no\n"},
  };
  for (const auto& [name, text] : broken) {
    testing::TempRoot root;
    root.Write("/etc/ssh/sshd_config", text);
    root.Write("/etc/passwd", testing::ReadHostFile(Fixture("empty") + "/etc/passwd"));
    root.Write("/etc/group", testing::ReadHostFile(Fixture("empty") + "/etc/group"));
    std::string real_out, our_out, our_err;
    SCOPED_TRACE(name);
    EXPECT_NE(Real(root.path(), "", &real_out), 0);
    EXPECT_EQ(Ours(root.path(), "", &our_out, &our_err), 1);
    EXPECT_NE(our_err.find("/etc/ssh/sshd_config"), std::string::npos) << our_err;
  }
}

TEST_F(SshdRealTest, GeneratedEdgeCasesMatch) {
  // Tokenizing and value forms that fixtures do not show: '=' with blanks, quotes, escapes,
  // case, comments, CRLF, tabs, time units, scaled numbers.
  testing::TempRoot root;
  root.Write("/etc/ssh/sshd_config",
             "  maxAUTHtries=4\n"
             "ClientAliveInterval = 1h30m\r\n"
             "\tLoginGraceTime\t2m \n"
             "RekeyLimit 512M none\n"
             "IPQoS 0x20\n"
             "AllowUsers \"al ice\" bob\\ smith #comment\n"
             "DenyUsers # only a comment\n"
             "ForceCommand echo \"hi there\" # kept\n"
             "LogLevel debug\n"
             "MaxStartups 7\n"
             "Port=2022\n");
  root.Write("/etc/passwd", testing::ReadHostFile(Fixture("empty") + "/etc/passwd"));
  root.Write("/etc/group", testing::ReadHostFile(Fixture("empty") + "/etc/group"));
  Compare(root.path(), "");
  // A directory matched by an Include glob reads as empty; relative and ~ paths.
  testing::TempRoot second;
  second.Mkdir("/etc/ssh/dir.conf");
  second.Write("/etc/ssh/sshd_config",
               "Include /etc/ssh/*.conf\nPidFile sshd.pid\nBanner ~/banner\n"
               "AuthorizedKeysFile ~alice/keys %h/.ssh/k\n");
  second.Write("/etc/passwd", testing::ReadHostFile(Fixture("empty") + "/etc/passwd"));
  second.Write("/etc/group", testing::ReadHostFile(Fixture("empty") + "/etc/group"));
  Compare(second.path(), "");
  EXPECT_EQ(compared_, 2) << "the real sshd refused the edge cases: they test nothing";
}

// Algorithm lists (kex_assemble_names, match_filter_allowlist): appended, removed, put first,
// exact lists, wildcards, negation and lists that refuse; the defaults are filtered by every
// known name too (an exact list, which tidemark filters without pattern matching).
TEST_F(SshdRealTest, AlgorithmListsMatch) {
  const std::vector<std::string> configs = {
      "Ciphers -aes*\nMACs +hmac-sha1,hmac-md5\n",
      "Ciphers aes128-ctr,aes256-gcm@openssh.com,aes128-ctr\nKexAlgorithms ^sntrup*\n",
      "PubkeyAcceptedAlgorithms -ssh-rsa*,ecdsa*\nHostKeyAlgorithms +ssh-rsa\n",
      "CASignatureAlgorithms -*nistp*\nHostbasedAcceptedAlgorithms ssh-ed25519*,rsa-sha2-512\n",
      "MACs ^hmac-sha2-512,umac-128@openssh.com\nKexAlgorithms -diffie-hellman-group*\n",
      "Ciphers +chacha20-poly1305@openssh.com,\nMACs -nosuchmac\n",
      "KexAlgorithms curve25519-sha256,,nosuchkex\nMACs hmac-sha2-256,\n",
      "HostKeyAlgorithms ssh-ed25519,,junk\nCiphers ,junk\n",
      "KexAlgorithms curve25519-sha256,nosuchkex\n",
      "Ciphers !aes128-ctr\n",
      "MACs nosuchmac\n",
      // Repeats, and patterns (key algorithms only), after "+" and "^" and in plain lists.
      "Ciphers +aes128-ctr,3des-cbc,aes128-ctr\nPubkeyAcceptedAlgorithms ^*nistp256*,ssh-ed25519\n",
      "KexAlgorithms ^curve25519-sha256,sntrup761x25519-sha512\nHostKeyAlgorithms +*cert*\n",
      "HostKeyAlgorithms ssh-ed25519*,,*\nCiphers "
      "aes256-ctr,chacha20-poly1305@openssh.com,aes256-ctr\n",
  };
  int accepted = 0;
  for (const auto& text : configs) {
    testing::TempRoot root;
    root.Write("/etc/ssh/sshd_config", text);
    root.Write("/etc/passwd", testing::ReadHostFile(Fixture("empty") + "/etc/passwd"));
    root.Write("/etc/group", testing::ReadHostFile(Fixture("empty") + "/etc/group"));
    SCOPED_TRACE(text);
    int before = compared_;
    Compare(root.path(), "");
    accepted += compared_ - before;
  }
  EXPECT_GE(accepted, 9) << "the real sshd refused most lists: they test little";
}

}  // namespace
}  // namespace tidemark::agent
