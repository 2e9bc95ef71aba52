// Hermetic tests of the sshd_config evaluator (parsers/sshd_config.h) and the `sshd` section on
// fixture roots: semantics sshd_config(5) states, bad input, the section's JSON, and the ssh_keys
// section fed with the effective AuthorizedKeysFile. The real sshd is the oracle in
// sshd_real_test.cpp; here each expectation follows from a rule cited next to it.
#include "agent/sections/sshd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "agent/collect.h"
#include "agent/parsers/sshd_config.h"
#include "agent/sections/ssh_keys.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using sshd::ConnectionSpec;
using sshd::SshdConfig;

class SshdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\n"
                "alice:x:1000:1000::/home/alice:/bin/bash\n"
                "bob:x:1001:1001::/home/bob:/bin/bash\n");
    root_.Write("/etc/group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\ndevelopers:x:1500:bob\n");
  }
  SshdConfig Load() {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok());
    fs_ = std::move(*fs);
    db_ = LoadAccountDb(*fs_);
    return SshdConfig::Load(*fs_, &db_);
  }
  // Returns the value printed for `keyword` (all lines joined by '|').
  std::string Value(const SshdConfig& c, const std::string& keyword, ConnectionSpec spec = {}) {
    auto lines = c.Dump(spec);
    EXPECT_TRUE(lines.ok()) << lines.status().message();
    if (!lines.ok()) return "<error>";
    std::string out;
    for (const auto& l : *lines) {
      if (l.rfind(keyword + " ", 0) == 0)
        out += (out.empty() ? "" : "|") + l.substr(keyword.size() + 1);
    }
    return out;
  }
  bool HasIssue(const SshdConfig& c, const std::string& path, int64_t line,
                const std::string& text) {
    for (const auto& i : c.issues()) {
      if (i.path == path && i.line == line && i.message.find(text) != std::string::npos)
        return true;
    }
    return false;
  }
  Section Collect(SectionReader& collector) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok());
    CollectContext ctx(**fs, "host");
    Section s;
    collector.Collect(ctx, s);
    s.Finish();
    s.Materialize();
    return s;
  }

  testing::TempRoot root_;
  std::unique_ptr<Fs> fs_;
  AccountDb db_;
};

TEST_F(SshdTest, FirstValueWinsAcrossIncludesAndKeywordsAreCaseInsensitive) {
  // sshd_config(5): "for each parameter, the first obtained value will be used".
  root_.Write("/etc/ssh/sshd_config",
              "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n");
  root_.Write("/etc/ssh/sshd_config.d/20-b.conf", "passwordauthentication yes\nMaxAuthTries 9\n");
  root_.Write("/etc/ssh/sshd_config.d/10-a.conf", "PASSWORDAUTHENTICATION=no\n");
  SshdConfig c = Load();
  ASSERT_TRUE(c.would_start());
  EXPECT_EQ(Value(c, "passwordauthentication"), "no");
  EXPECT_EQ(Value(c, "maxauthtries"), "9");
  ASSERT_EQ(c.files().size(), 3u);  // lexical order of the glob
  EXPECT_EQ(c.files()[1].path, "/etc/ssh/sshd_config.d/10-a.conf");
  EXPECT_EQ(c.files()[2].path, "/etc/ssh/sshd_config.d/20-b.conf");
  EXPECT_EQ(c.files()[1].included_from, "/etc/ssh/sshd_config");
}

TEST_F(SshdTest, RelativeIncludeIsRelativeToEtcSsh) {
  root_.Write("/etc/ssh/sshd_config", "Include extra.conf\n");
  root_.Write("/etc/ssh/extra.conf", "X11Forwarding yes\n");
  SshdConfig c = Load();
  EXPECT_EQ(Value(c, "x11forwarding"), "yes");
}

TEST_F(SshdTest, DeprecatedNamesMapAsSshdMapsThem) {
  root_.Write("/etc/ssh/sshd_config",
              "ChallengeResponseAuthentication no\nPermitRootLogin prohibit-password\n"
              "PubkeyAcceptedKeyTypes ssh-ed25519\nKeepAlive no\n");
  SshdConfig c = Load();
  EXPECT_EQ(Value(c, "kbdinteractiveauthentication"), "no");
  EXPECT_EQ(Value(c, "permitrootlogin"), "without-password");
  EXPECT_EQ(Value(c, "pubkeyacceptedalgorithms"), "ssh-ed25519");
  EXPECT_EQ(Value(c, "tcpkeepalive"), "no");
}

TEST_F(SshdTest, MatchUserGroupAddressAndAll) {
  root_.Write("/etc/ssh/sshd_config",
              "Match Group developers\n  X11Forwarding yes\n"
              "Match User alice Address 10.0.0.0/8,!10.9.0.0/16\n  PasswordAuthentication no\n"
              "Match All\n  MaxSessions 3\n");
  SshdConfig c = Load();
  ConnectionSpec bob;
  bob.user = "bob";
  EXPECT_EQ(Value(c, "x11forwarding", bob), "yes");
  ConnectionSpec alice;
  alice.user = "alice";
  EXPECT_EQ(Value(c, "x11forwarding", alice), "no");
  alice.addr = "10.1.2.3";
  EXPECT_EQ(Value(c, "passwordauthentication", alice), "no");
  alice.addr = "10.9.1.1";  // negated entry wins
  EXPECT_EQ(Value(c, "passwordauthentication", alice), "yes");
  EXPECT_EQ(Value(c, "maxsessions"), "3");  // Match All applies without a context
  ASSERT_EQ(c.match_blocks().size(), 3u);
  EXPECT_EQ(c.match_blocks()[1].criteria, "User alice Address 10.0.0.0/8,!10.9.0.0/16");
  EXPECT_EQ(c.match_blocks()[1].line, 3);
  ASSERT_EQ(c.match_blocks()[1].settings.size(), 1u);
  EXPECT_EQ(c.match_blocks()[1].settings[0].keyword, "passwordauthentication");
  EXPECT_EQ(c.match_blocks()[1].settings[0].line, 4);
}

TEST_F(SshdTest, UnknownMatchCriterionNamesFileAndLine) {
  root_.Write("/etc/ssh/sshd_config", "X11Forwarding no\nMatch Colour blue\n  X11Forwarding yes\n");
  SshdConfig c = Load();
  EXPECT_FALSE(c.would_start());
  EXPECT_TRUE(HasIssue(c, "/etc/ssh/sshd_config", 2, "Unsupported Match attribute"));
  EXPECT_TRUE(HasIssue(c, "/etc/ssh/sshd_config", 2, "Bad Match condition"));
  auto dump = c.Dump({});
  EXPECT_FALSE(dump.ok());
  EXPECT_EQ(dump.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dump.status().message(), "/etc/ssh/sshd_config line 2: Bad Match condition");
}

// sshd's scan_scaled() refuses a RekeyLimit that does not fit a long long: sshd does not start.
// Found by the sshd_config fuzzer (2026-12-05): "RekeyLimit 17e" (17 * 1024^6) was converted
// out of range (undefined behaviour).
TEST_F(SshdTest, RekeyLimitBeyondALongLongIsABadNumber) {
  for (std::string value : {"17e", "8E", "1e30", "inf", "nan", "16777216T"}) {
    root_.Write("/etc/ssh/sshd_config", "PermitRootLogin no\nRekeyLimit " + value + "\n");
    SshdConfig c = Load();
    EXPECT_FALSE(c.would_start()) << value;
    EXPECT_TRUE(HasIssue(c, "/etc/ssh/sshd_config", 2, "Bad rekeylimit number")) << value;
  }
  root_.Write("/etc/ssh/sshd_config", "RekeyLimit 7E\n");  // 7 * 2^60 fits
  EXPECT_TRUE(Load().would_start());
}

TEST_F(SshdTest, IncludeLoopStopsAtTheRecursionLimit) {
  root_.Write("/etc/ssh/sshd_config", "Include /etc/ssh/a.conf\n");
  root_.Write("/etc/ssh/a.conf", "Include /etc/ssh/b.conf\n");
  root_.Write("/etc/ssh/b.conf", "Include /etc/ssh/a.conf\n");
  SshdConfig c = Load();
  EXPECT_FALSE(c.would_start());
  ASSERT_FALSE(c.issues().empty());
  EXPECT_NE(c.issues().back().message.find("Too many recursive"), std::string::npos);
}

TEST_F(SshdTest, UnreadableIncludeIsAnErrorNamingTheIncludingLine) {
  root_.Write("/etc/ssh/sshd_config", "PermitRootLogin no\nInclude /etc/ssh/fifo.conf\n");
  root_.Fifo("/etc/ssh/fifo.conf");
  SshdConfig c = Load();
  EXPECT_FALSE(c.would_start());
  EXPECT_TRUE(HasIssue(c, "/etc/ssh/sshd_config", 2, "/etc/ssh/fifo.conf"));
}

TEST_F(SshdTest, HugeLineAndBinaryGarbageAreErrorsWithoutQuotingContent) {
  root_.Write("/etc/ssh/sshd_config", "PermitRootLogin no\nAllowUsers " +
                                          std::string(10 << 20, 'a') +
                                          "\n\x01\x02secret\xff\xfe value\n");
  SshdConfig c = Load();
  EXPECT_FALSE(c.would_start());
  EXPECT_TRUE(HasIssue(c, "/etc/ssh/sshd_config", 2, "longer than"));
  EXPECT_TRUE(HasIssue(c, "/etc/ssh/sshd_config", 3, "Bad configuration option"));
  for (const auto& i : c.issues()) EXPECT_EQ(i.message.find("secret"), std::string::npos);
}

TEST_F(SshdTest, SectionIsNotApplicableWithoutSshdConfig) {
  SshdReader collector;
  Section s = Collect(collector);
  EXPECT_EQ(s.status, SectionStatus::kNotApplicable);
  EXPECT_EQ(s.data["present"], false);
}

TEST_F(SshdTest, SectionReportsEffectiveBlocksFilesAndDefaultsSource) {
  root_.Write(
      "/etc/ssh/sshd_config",
      "Port 22\nPort 2222\nAllowUsers alice\nMatch User bob\n  PasswordAuthentication no\n");
  root_.Write(
      "/var/lib/dpkg/status",
      "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2+deb12u10\n\n");
  SshdReader collector;
  Section s = Collect(collector);
  EXPECT_EQ(s.status, SectionStatus::kOk);
  EXPECT_EQ(s.data["would_start"], true);
  EXPECT_EQ(s.data["effective"]["port"], json({"22", "2222"}));
  EXPECT_EQ(s.data["effective"]["allowusers"], json({"alice"}));
  EXPECT_EQ(s.data["effective"]["denyusers"], json::array());
  EXPECT_EQ(s.data["effective"]["passwordauthentication"], "yes");
  EXPECT_EQ(s.data["match_blocks"][0]["id"], "sshd_match:/etc/ssh/sshd_config:4");
  EXPECT_EQ(s.data["match_blocks"][0]["settings"][0]["source"]["line"], 5);
  EXPECT_EQ(s.data["files"][0]["path"], "/etc/ssh/sshd_config");
  EXPECT_EQ(s.data["files"][0]["mode"], "0644");
  EXPECT_EQ(s.data["defaults_source"]["matches_installed"], true);
}

TEST_F(SshdTest, AnotherBuildIsReportedAsDefaultsThatMayDiffer) {
  root_.Write("/etc/ssh/sshd_config", "");
  root_.Write("/var/lib/dpkg/status",
              "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.6p1-3\n\n");
  SshdReader collector;
  Section s = Collect(collector);
  EXPECT_EQ(s.data["defaults_source"]["package_version"], "1:9.6p1-3");
  EXPECT_EQ(s.data["defaults_source"]["matches_installed"], false);
  EXPECT_NE(s.data["defaults_source"]["note"].get<std::string>().find("may differ"),
            std::string::npos);
}

TEST_F(SshdTest, TheInstalledOpensshServerStanzaIsFoundAmongOthers) {
  // Only the stanzas whose line is exactly "Package: openssh-server" count, with their fields in
  // any order; the first installed one wins; a last stanza may lack the final newline.
  root_.Write("/etc/ssh/sshd_config", "");
  root_.Write("/var/lib/dpkg/status",
              "Package: openssh-server-extra\nStatus: install ok installed\nVersion: 9:9\n\n"
              "Status: deinstall ok config-files\nPackage: openssh-server\nArchitecture: i386\n"
              "Version: 1:8.4p1-5\n\n"
              "Package: openssh-sftp-server\nStatus: install ok installed\nVersion: 1:9.9\n\n"
              "Package: zzz\nDescription: x\n Package: openssh-server\nStatus: install ok "
              "installed\nVersion: 7\n\n"
              "Version: 1:9.2p1-2+deb12u10\nStatus: install ok installed\n"
              "Package: openssh-server\nArchitecture: amd64");
  SshdReader collector;
  Section s = Collect(collector);
  EXPECT_EQ(s.data["defaults_source"]["package_version"], "1:9.2p1-2+deb12u10");
  EXPECT_EQ(s.data["defaults_source"]["matches_installed"], true);
  // Read in 64 KiB pieces: the stanza's Package line across the first boundary.
  std::string filler = "Package: filler\nStatus: install ok installed\nDescription: ";
  filler += std::string((64 << 10) - 10 - filler.size() - 2, 'x') + "\n\n";
  ASSERT_EQ(filler.size(), (64u << 10) - 10);
  root_.Write("/var/lib/dpkg/status", filler +
                                          "Package: openssh-server\nStatus: install ok installed\n"
                                          "Version: 1:9.2p1-2+deb12u3\n\n");
  s = Collect(collector);
  EXPECT_EQ(s.data["defaults_source"]["package_version"], "1:9.2p1-2+deb12u3");
  root_.Write("/var/lib/dpkg/status",
              "Package: openssh-server\nStatus: deinstall ok config-files\nVersion: 1:9.2p1-2\n");
  s = Collect(collector);
  EXPECT_TRUE(s.data["defaults_source"]["package_version"].is_null()) << s.data.dump();
  EXPECT_NE(s.data["defaults_source"]["note"].get<std::string>().find("is not installed"),
            std::string::npos);
}

TEST_F(SshdTest, BrokenConfigurationIsAFindingWouldStartFalse) {
  root_.Write("/etc/ssh/sshd_config", "PermitRootLogin perhaps\n");
  SshdReader collector;
  Section s = Collect(collector);
  EXPECT_EQ(s.data["would_start"], false);
  EXPECT_TRUE(s.data["effective"].is_null());
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors.back().path, "/etc/ssh/sshd_config");
  EXPECT_EQ(s.errors.back().line, 1);
}

TEST_F(SshdTest, SshKeysUsesTheEffectiveAuthorizedKeysFilePerUser) {
  root_.Write("/etc/ssh/sshd_config",
              "AuthorizedKeysFile .ssh/authorized_keys\n"
              "Match Group developers\n  AuthorizedKeysFile /etc/ssh/keys/%u\n"
              "Match User alice Host *.example.com\n  AuthorizedKeysFile .ssh/other\n");
  SshKeysReader collector(SshdAuthorizedKeysSettings());
  Section s = Collect(collector);
  std::map<std::string, json> users;
  for (const auto& u : s.data["users"]) users[u["user"].get<std::string>()] = u;
  ASSERT_TRUE(users.count("bob"));
  EXPECT_EQ(users["bob"]["authorized_keys_file"], json({"/etc/ssh/keys/%u"}));
  EXPECT_EQ(users["root"]["authorized_keys_file"], json({".ssh/authorized_keys"}));
  // alice's files depend on the client's host name: listed as the global ones, incomplete.
  EXPECT_EQ(users["alice"]["authorized_keys_file"], json({".ssh/authorized_keys"}));
  EXPECT_EQ(users["alice"].value("incomplete", false), true);
  EXPECT_EQ(users["root"].value("incomplete", false), false);
}

// ssh_keys and sshd share one loaded configuration (CollectContext::sshd_config; ssh_keys runs
// first, in name order, and asks it each user's AuthorizedKeysFile): each section reports what it
// reports alone, on every sshd fixture root and on one whose Match blocks set the file per user.
TEST_F(SshdTest, SectionsSharingTheConfigurationReportAsAlone) {
  root_.Write("/etc/ssh/sshd_config",
              "AuthorizedKeysFile .ssh/a\n"
              "Match User alice\n  AuthorizedKeysFile .ssh/alice_keys\n"
              "Match Group developers\n  AuthorizedKeysFile none\n  X11Forwarding yes\n"
              "Match Address 10.0.0.0/8\n  AuthorizedKeysFile .ssh/from_ten\n");
  std::vector<std::string> roots = {root_.path()};
  for (const char* f :
       {"deprecated", "dropins", "empty", "localport", "match", "relative", "stock", "values"}) {
    roots.push_back(std::string(TIDEMARK_FIXTURES_DIR) + "/sshd/" + f);
  }
  auto sections = [](const std::string& root, std::vector<std::string> only) {
    CollectRequest request;
    request.root = root;
    request.only = std::move(only);
    request.host_id = "fixture";
    std::map<std::string, json> out;
    StatusOr<Snapshot> snapshot = CollectSnapshot(request);
    EXPECT_TRUE(snapshot.ok()) << root << ": " << snapshot.status().message();
    if (!snapshot.ok()) return out;
    for (const auto& [name, section] : snapshot->sections) {
      json j = EncodeSection(section);
      j.erase("duration_ms");
      out[name] = std::move(j);
    }
    return out;
  };
  for (const std::string& root : roots) {
    SCOPED_TRACE(root);
    std::map<std::string, json> both = sections(root, {"ssh_keys", "sshd"});
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both["sshd"], sections(root, {"sshd"})["sshd"]);
    EXPECT_EQ(both["ssh_keys"], sections(root, {"ssh_keys"})["ssh_keys"]);
  }
}

TEST_F(SshdTest, SshKeysKeepsDefaultsWithoutSshdConfig) {
  SshKeysReader collector(SshdAuthorizedKeysSettings());
  Section s = Collect(collector);
  for (const auto& u : s.data["users"]) {
    // The compact form omits sshd's default; readers restore it.
    EXPECT_FALSE(u.contains("authorized_keys_file"));
  }
}

TEST_F(SshdTest, CommandPrintsAndUsesExitCodes) {
  root_.Write("/etc/ssh/sshd_config", "PermitRootLogin no\n");
  std::string out, err;
  std::string bin = std::string(TIDEMARK_AGENT_BIN) + " sshd --root '" + root_.path() + "'";
  EXPECT_EQ(testing::RunCommand(bin, &out, &err), 0);
  EXPECT_NE(out.find("\npermitrootlogin no\n"), std::string::npos);
  EXPECT_EQ(testing::RunCommand(bin + " --context bogus=1", &out, &err), 2);
  EXPECT_EQ(testing::RunCommand(bin + " --frobnicate", &out, &err), 2);
  root_.Write("/etc/ssh/sshd_config", "PermitRootLogin no\nMatch Nothing x\n");
  EXPECT_EQ(testing::RunCommand(bin, &out, &err), 1);
  EXPECT_NE(err.find("/etc/ssh/sshd_config line 2"), std::string::npos) << err;
}

}  // namespace
}  // namespace tidemark::agent
