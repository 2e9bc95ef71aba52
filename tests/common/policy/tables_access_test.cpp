// Fact tables over sections the real agent collects from fixture roots (issue 10): ssh_keys,
// sshd_settings, sshd_match_blocks, sysctl, listeners, pam_entries, pam_module_settings,
// login_settings. Sections that exist only on a live host (network, sysctl's runtime values)
// are built by the collector with fixture inputs, or as the collector writes them, and
// collected once from this machine with only robust facts asserted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "agent/collect.h"
#include "agent/sections/network.h"
#include "agent/sock_diag.h"
#include "common/policy/fact_db.h"
#include "common/policy/tables.h"
#include "tests/common/policy/fact_db_support.h"
#include "tests/support/fake_proc.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

using json = nlohmann::json;
using policy::fixtures::Rows;
using testing::TempRoot;

Snapshot Collect(const std::string& root, const std::string& only) {
  return policy::fixtures::Collect(root, {only});
}

Snapshot Collect(const TempRoot& root, const std::string& only) {
  return Collect(root.path(), only);
}
using policy::fixtures::Loaded;
using policy::fixtures::Query;

std::string SectionStatus(const FactDb& db, const std::string& name) {
  auto it = db.section_status().find(name);
  return it == db.section_status().end() ? "<missing>" : it->second;
}

void WriteAccounts(TempRoot& root) {
  root.Write("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\n"
             "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
             "bob:x:1001:1001::/home/bob:/bin/sh\n");
  root.Write("/etc/group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\nadmins:x:2000:bob\n");
}

// ---------------------------------------------------------------------------------------------
// sshd

TEST(TablesAccessTest, SshdSettingsAreTheLinesSshdTPrints) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/ssh/sshd_config",
             "Port 22\nPort 2222\nPermitRootLogin no\nAcceptEnv LANG LC_*\n"
             "Match User alice\n  PasswordAuthentication no\n");
  auto db = Loaded(Collect(root, "sshd"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "sshd"), "ok");
  // A repeating keyword: one row per printed line, in order.
  EXPECT_EQ(Query(*db,
                  "SELECT id, value, position, repeating FROM sshd_settings "
                  "WHERE keyword = 'port' ORDER BY position"),
            (Rows{R"(["sshd_setting:port#1","22",1,1])", R"(["sshd_setting:port#2","2222",2,1])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT value FROM sshd_settings WHERE keyword = 'acceptenv' "
                  "ORDER BY position"),
            (Rows{R"(["LANG"])", R"(["LC_*"])"}));
  // A single value; sshd -T names no line, so neither does the row.
  EXPECT_EQ(Query(*db,
                  "SELECT id, source_file, source_line, value, position, repeating "
                  "FROM sshd_settings WHERE keyword = 'permitrootlogin'"),
            (Rows{R"(["sshd_setting:permitrootlogin",null,null,"no",1,0])"}));
  // A default (not written in the file) and a Match block that does not apply globally.
  EXPECT_EQ(Query(*db, "SELECT value FROM sshd_settings WHERE keyword = 'passwordauthentication'"),
            (Rows{R"(["yes"])"}));
  // An empty repeating keyword prints nothing.
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM sshd_settings WHERE keyword = 'allowusers'"),
            (Rows{"[0]"}));
  // Every keyword sshd -T prints once has exactly one row.
  EXPECT_EQ(Query(*db,
                  "SELECT count(*) FROM (SELECT keyword FROM sshd_settings WHERE NOT repeating "
                  "GROUP BY keyword HAVING count(*) > 1)"),
            (Rows{"[0]"}));
}

TEST(TablesAccessTest, SshdMatchBlocksHaveARowPerSettingAndParsedCriteria) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/ssh/sshd_config",
             "PermitRootLogin no\n"
             "Match User alice,!bob Address 10.0.0.0/8\n"
             "  X11Forwarding yes\n"
             "  PermitTTY no\n"
             "Match Group admins\n"
             "  Include /etc/ssh/admins.conf\n"
             "Match All\n");
  root.Write("/etc/ssh/admins.conf", "# admins\nPermitRootLogin prohibit-password\n");
  auto db = Loaded(Collect(root, "sshd"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "sshd"), "ok");
  EXPECT_EQ(Query(*db,
                  "SELECT id, source_file, source_line, block_id, criteria, keyword, value, "
                  "position, block_file, block_line FROM sshd_match_blocks "
                  "ORDER BY block_line, position"),
            (Rows{
                R"(["sshd_match:/etc/ssh/sshd_config:2#1","/etc/ssh/sshd_config",3,)"
                R"("sshd_match:/etc/ssh/sshd_config:2","User alice,!bob Address 10.0.0.0/8",)"
                R"("x11forwarding","yes",1,"/etc/ssh/sshd_config",2])",
                R"(["sshd_match:/etc/ssh/sshd_config:2#2","/etc/ssh/sshd_config",4,)"
                R"("sshd_match:/etc/ssh/sshd_config:2","User alice,!bob Address 10.0.0.0/8",)"
                R"("permittty","no",2,"/etc/ssh/sshd_config",2])",
                // The Include line is a line of the block, and so is each line of the file
                // it includes, with its own file and line.
                R"(["sshd_match:/etc/ssh/sshd_config:5#1","/etc/ssh/sshd_config",6,)"
                R"("sshd_match:/etc/ssh/sshd_config:5","Group admins",)"
                R"("include","/etc/ssh/admins.conf",1,"/etc/ssh/sshd_config",5])",
                R"(["sshd_match:/etc/ssh/sshd_config:5#2","/etc/ssh/admins.conf",2,)"
                R"("sshd_match:/etc/ssh/sshd_config:5","Group admins",)"
                R"("permitrootlogin","prohibit-password",2,"/etc/ssh/sshd_config",5])",
                // A block that sets nothing is still listed, at its Match line.
                R"(["sshd_match:/etc/ssh/sshd_config:7","/etc/ssh/sshd_config",7,)"
                R"("sshd_match:/etc/ssh/sshd_config:7","All",null,null,null,)"
                R"("/etc/ssh/sshd_config",7])",
            }));
  // The criteria as JSON: which blocks name alice as a user pattern.
  EXPECT_EQ(Query(*db,
                  "SELECT DISTINCT b.block_id, json_extract(c.value, '$.criterion'), p.value "
                  "FROM sshd_match_blocks b, json_each(b.conditions) c, "
                  "json_each(json_extract(c.value, '$.patterns')) p ORDER BY 1, 2, 3"),
            (Rows{R"(["sshd_match:/etc/ssh/sshd_config:2","address","10.0.0.0/8"])",
                  R"(["sshd_match:/etc/ssh/sshd_config:2","user","!bob"])",
                  R"(["sshd_match:/etc/ssh/sshd_config:2","user","alice"])",
                  R"(["sshd_match:/etc/ssh/sshd_config:5","group","admins"])"}));
  EXPECT_EQ(Query(*db, "SELECT DISTINCT conditions FROM sshd_match_blocks WHERE criteria = 'All'"),
            (Rows{R"(["[{\"criterion\":\"all\",\"patterns\":null}]"])"}));
}

TEST(TablesAccessTest, SshdUserSettingsAreWhatDiffersPerUser) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/ssh/sshd_config",
             "PasswordAuthentication no\n"
             "AcceptEnv LANG\n"
             "Match User alice\n"
             "  PasswordAuthentication yes\n"
             "  AcceptEnv LANG LC_ALL\n"
             "Match Group admins\n"
             "  PermitRootLogin no\n"
             "Match Address 10.0.0.0/8\n"  // no connection is given: never matches here
             "  PermitEmptyPasswords yes\n");
  auto db = Loaded(Collect(root, "sshd"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "sshd"), "ok");
  EXPECT_EQ(
      Query(*db,
            "SELECT id, user, keyword, value, position, repeating, source_file "
            "FROM sshd_user_settings ORDER BY user, keyword, position"),
      (Rows{R"(["sshd_user_setting:alice:acceptenv#1","alice","acceptenv","LANG",1,1,null])",
            R"(["sshd_user_setting:alice:acceptenv#2","alice","acceptenv","LC_ALL",2,1,null])",
            R"(["sshd_user_setting:alice:passwordauthentication","alice",)"
            R"("passwordauthentication","yes",1,0,null])",
            // bob is in admins: PermitRootLogin's global value is prohibit-password.
            R"(["sshd_user_setting:bob:permitrootlogin","bob","permitrootlogin","no",1,0,)"
            R"(null])"}));
  // A keyword without a row for the user has the global value.
  EXPECT_EQ(Query(*db,
                  "SELECT coalesce((SELECT value FROM sshd_user_settings u WHERE u.user = 'root' "
                  "AND u.keyword = 'passwordauthentication'), s.value) FROM sshd_settings s "
                  "WHERE s.keyword = 'passwordauthentication'"),
            (Rows{R"(["no"])"}));

  // Without any Match block nothing differs, and nothing is evaluated.
  root.Write("/etc/ssh/sshd_config", "PasswordAuthentication no\n");
  auto plain = Loaded(Collect(root, "sshd"));
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(Query(*plain, "SELECT count(*) FROM sshd_user_settings"), (Rows{"[0]"}));
}

TEST(TablesAccessTest, SshdTablesAreEmptyWhenSshdWouldNotStart) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/ssh/sshd_config",
             "Match User alice\n  PermitTTY no\nMatch All\n  PermitRootLogin perhaps\n");
  auto db = Loaded(Collect(root, "sshd"));
  ASSERT_NE(db, nullptr);
  // `effective` is null: no settings rows, the section says why; the blocks are still read.
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM sshd_settings"), (Rows{"[0]"}));
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM sshd_user_settings"), (Rows{"[0]"}));
  EXPECT_EQ(Query(*db, "SELECT name, status FROM sections"), (Rows{R"(["sshd","partial"])"}));
  EXPECT_EQ(Query(*db, "SELECT keyword, value FROM sshd_match_blocks ORDER BY source_line"),
            (Rows{R"(["permittty","no"])", R"(["permitrootlogin","perhaps"])"}));
}

// sshd refuses a line whose quote is not closed, so the agent keeps no such setting; a
// snapshot that holds one anyway gets NULL arguments, never a guessed split.
TEST(TablesAccessTest, SshdMatchArgumentsAreNullForAnUnterminatedQuote) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/ssh/sshd_config",
             "Match User alice\n  PasswordAuthentication \"yes\"\n  Banner /etc/issue.net\n");
  Snapshot snapshot = Collect(root, "sshd");
  json& settings = snapshot.sections["sshd"].data["match_blocks"][0]["settings"];
  ASSERT_EQ(settings.size(), 2u);
  settings[1]["value"] = "\"/etc/issue.net";
  auto db = Loaded(snapshot);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Query(*db, "SELECT keyword, value, arguments FROM sshd_match_blocks ORDER BY position"),
            (Rows{R"(["passwordauthentication","\"yes\"","[\"yes\"]"])",
                  R"(["banner","\"/etc/issue.net",null])"}));
}

// ---------------------------------------------------------------------------------------------
// ssh_keys

// Returns line `n` (from 1) of the authorized_keys fixture.
std::string FixtureLine(int n) {
  std::istringstream in(
      testing::ReadHostFile(std::string(TIDEMARK_FIXTURES_DIR) + "/ssh_keys/authorized_keys"));
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) {
  }
  return line;
}

TEST(TablesAccessTest, SshKeysListEveryKeyWithItsFingerprintOptionsAndSource) {
  TempRoot root;
  bool as_root = ::geteuid() == 0;
  unsigned uid = as_root ? 1000 : ::geteuid();
  unsigned gid = as_root ? 1000 : ::getegid();
  root.Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:" + std::to_string(uid) +
                                ":" + std::to_string(gid) + "::/home/alice:/bin/bash\n");
  root.Write("/etc/group", "root:x:0:\nalice:x:" + std::to_string(gid) + ":\n");
  root.Mkdir("/root", 0700);
  root.Mkdir("/home/alice/.ssh", 0700);
  std::string ed25519 = FixtureLine(6);
  ed25519 = ed25519.substr(0, ed25519.rfind(' '));  // without its comment
  root.Write("/home/alice/.ssh/authorized_keys",
             "# alice's keys\n"
             "from=\"10.0.0.0/8\",no-pty " +
                 ed25519 + "\n" + FixtureLine(7) + "\n" + FixtureLine(2) + "\n",
             0600);
  if (as_root) {
    ASSERT_TRUE(root.Chown("/home/alice", uid, gid));
    ASSERT_TRUE(root.Chown("/home/alice/.ssh", uid, gid));
    ASSERT_TRUE(root.Chown("/home/alice/.ssh/authorized_keys", uid, gid));
  }
  auto db = Loaded(Collect(root, "ssh_keys"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "ssh_keys"), "ok");
  const std::string file = "/home/alice/.ssh/authorized_keys";
  // Fingerprints and sizes as `ssh-keygen -lf` prints them (tests/fixtures/ssh_keys/
  // authorized_keys.ssh-keygen-lf); a certificate shares its key's fingerprint.
  EXPECT_EQ(
      Query(*db,
            "SELECT user, file, type, bits, fingerprint, comment, options, source_file, "
            "source_line, certificate IS NULL FROM ssh_keys ORDER BY source_line"),
      (Rows{
          R"(["alice",")" + file +
              R"(","ssh-ed25519",256,)"
              R"("SHA256:L5VedI3POdNu9d4r4Xu2AyhTQT3EK0peiC3R0QhIyFs","",)"
              R"("{\"from\":\"10.0.0.0/8\",\"no-pty\":true}",")" +
              file + R"(",2,1])",
          R"(["alice",")" + file +
              R"(","ssh-rsa",2048,)"
              R"("SHA256:QOEvRqRmZH5GvUuoMWMNjyww5g6eAsHLMXkfvAxWULA","fixture-rsa-2048@tidemark",)"
              R"("{}",")" +
              file + R"(",3,1])",
          R"(["alice",")" + file +
              R"(","ecdsa-sha2-nistp256-cert-v01@openssh.com",256,)"
              R"("SHA256:781NoXk/7rqeiksnbvoOkaQRgqItndojT6PPoZMpS+8","fixture-ecdsa-256@tidemark",)"
              R"("{}",")" +
              file + R"(",4,0])",
      }));
  EXPECT_EQ(Query(*db, "SELECT id FROM ssh_keys WHERE type = 'ssh-rsa'"),
            (Rows{R"(["ssh_key:alice:SHA256:QOEvRqRmZH5GvUuoMWMNjyww5g6eAsHLMXkfvAxWULA:)" + file +
                  R"("])"}));
  // JSON columns work with SQLite's JSON functions.
  EXPECT_EQ(Query(*db,
                  "SELECT o.key, o.value FROM ssh_keys, json_each(ssh_keys.options) AS o "
                  "ORDER BY o.key"),
            (Rows{R"(["from","10.0.0.0/8"])", R"(["no-pty",1])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT json_extract(certificate, '$.cert_type'), "
                  "json_extract(certificate, '$.key_id') FROM ssh_keys "
                  "WHERE certificate IS NOT NULL"),
            (Rows{R"(["user","fixture cert"])"}));
}

// ---------------------------------------------------------------------------------------------
// sysctl

void WriteSysctl(TempRoot& root) {
  root.Write("/etc/sysctl.d/10-a.conf",
             "net.ipv4.ip_forward = 1\n-net.ipv4.conf.all.rp_filter\n"
             "net.ipv4.conf.*.rp_filter = 2\n");
  root.Write("/etc/sysctl.d/20-b.conf", "net.ipv4.ip_forward = 0\n-kernel.sysrq = 0\n");
  root.Write("/usr/lib/sysctl.d/50-x.conf", "kernel/kptr_restrict=1\n");
}

TEST(TablesAccessTest, SysctlOfflineListsTheConfiguredValuesWithoutRuntime) {
  TempRoot root;
  WriteSysctl(root);
  auto db = Loaded(Collect(root, "sysctl"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "sysctl"), "ok");
  // Offline: runtime NULL; the winner per key with where it is set. The later different value
  // of ip_forward wins; the exclusion keeps globs off rp_filter of `all`; a glob is a row of its
  // own; slashes are normalized to the dotted key; compact defaults (kind, glob,
  // ignore_failure) restored.
  EXPECT_EQ(Query(*db,
                  "SELECT id, key, runtime, runtime_state, configured, glob, kind, "
                  "ignore_failure, source_file, source_line FROM sysctl ORDER BY key"),
            (Rows{
                R"(["sysctl:kernel.kptr_restrict","kernel.kptr_restrict",null,null,"1",0,)"
                R"("assignment",0,"/usr/lib/sysctl.d/50-x.conf",1])",
                R"(["sysctl:kernel.sysrq","kernel.sysrq",null,null,"0",0,"assignment",1,)"
                R"("/etc/sysctl.d/20-b.conf",2])",
                R"(["sysctl:net.ipv4.conf.*.rp_filter","net.ipv4.conf.*.rp_filter",null,null,)"
                R"("2",1,"assignment",0,"/etc/sysctl.d/10-a.conf",3])",
                R"(["sysctl:net.ipv4.conf.all.rp_filter","net.ipv4.conf.all.rp_filter",null,)"
                R"(null,null,0,"exclusion",0,"/etc/sysctl.d/10-a.conf",2])",
                R"(["sysctl:net.ipv4.ip_forward","net.ipv4.ip_forward",null,null,"0",0,)"
                R"("assignment",0,"/etc/sysctl.d/20-b.conf",1])",
            }));
  EXPECT_EQ(
      Query(*db,
            "SELECT json_extract(o.value, '$.value'), json_extract(o.value, '$.source.file'), "
            "json_extract(o.value, '$.source.line') FROM sysctl, json_each(sysctl.overridden) o "
            "WHERE sysctl.key = 'net.ipv4.ip_forward'"),
      (Rows{R"(["1","/etc/sysctl.d/10-a.conf",1])"}));
  EXPECT_EQ(Query(*db, "SELECT overridden FROM sysctl WHERE key = 'kernel.sysrq'"),
            (Rows{R"(["[]"])"}));
}

// The section of a live host as the collector writes it (docs/sections/sysctl.md): compact
// runtime items (state "present" and null keys omitted; the key is the id's) next to the
// settings of WriteSysctl's files.
TEST(TablesAccessTest, SysctlLiveJoinsRuntimeValuesWithTheDecidingSetting) {
  TempRoot root;
  WriteSysctl(root);
  Snapshot snapshot = Collect(root, "sysctl");
  Section& s = snapshot.sections["sysctl"];
  s.data["runtime_status"] = "collected";
  s.data["runtime"] = json::parse(R"([
    {"id": "sysctl_runtime:net.ipv4.ip_forward", "value": "1", "configured_value": "0",
     "configured_source": {"file": "/etc/sysctl.d/20-b.conf", "line": 1},
     "matches_configured": false},
    {"id": "sysctl_runtime:net.ipv4.conf.all.rp_filter", "value": "0",
     "configured_source": {"file": "/etc/sysctl.d/10-a.conf", "line": 2}},
    {"id": "sysctl_runtime:net.ipv4.conf.default.rp_filter", "value": "2",
     "configured_value": "2",
     "configured_source": {"file": "/etc/sysctl.d/10-a.conf", "line": 3},
     "matches_configured": true},
    {"id": "sysctl_runtime:kernel.randomize_va_space", "value": "2"},
    {"id": "sysctl_runtime:kernel.unprivileged_userns_clone", "state": "absent",
     "reason": "not provided by this kernel"}
  ])");
  auto db = Loaded(snapshot);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "sysctl"), "ok");
  EXPECT_EQ(
      Query(*db,
            "SELECT id, key, runtime, runtime_state, configured, matches_configured, "
            "configured_pattern, glob, kind, source_file, source_line FROM sysctl ORDER BY key"),
      (Rows{
          // Not configured: no source.
          R"(["sysctl:kernel.kptr_restrict","kernel.kptr_restrict",null,null,"1",null,null,0,)"
          R"("assignment","/usr/lib/sysctl.d/50-x.conf",1])",
          R"(["sysctl:kernel.randomize_va_space","kernel.randomize_va_space","2","present",)"
          R"(null,null,null,0,null,null,null])",
          R"(["sysctl:kernel.sysrq","kernel.sysrq",null,null,"0",null,null,0,"assignment",)"
          R"("/etc/sysctl.d/20-b.conf",2])",
          R"(["sysctl:kernel.unprivileged_userns_clone","kernel.unprivileged_userns_clone",)"
          R"(null,"absent",null,null,null,0,null,null,null])",
          R"(["sysctl:net.ipv4.conf.*.rp_filter","net.ipv4.conf.*.rp_filter",null,null,"2",)"
          R"(null,null,1,"assignment","/etc/sysctl.d/10-a.conf",3])",
          // The exclusion decides `all`: no configured value, its line is the source.
          R"(["sysctl:net.ipv4.conf.all.rp_filter","net.ipv4.conf.all.rp_filter","0",)"
          R"("present",null,null,null,0,"exclusion","/etc/sysctl.d/10-a.conf",2])",
          // Configured through the glob.
          R"(["sysctl:net.ipv4.conf.default.rp_filter","net.ipv4.conf.default.rp_filter","2",)"
          R"("present","2",1,"net.ipv4.conf.*.rp_filter",0,"assignment",)"
          R"("/etc/sysctl.d/10-a.conf",3])",
          // One row per key: the runtime row carries the explicit setting's overrides.
          R"(["sysctl:net.ipv4.ip_forward","net.ipv4.ip_forward","1","present","0",0,null,0,)"
          R"("assignment","/etc/sysctl.d/20-b.conf",1])",
      }));
  EXPECT_EQ(Query(*db,
                  "SELECT json_array_length(overridden) FROM sysctl "
                  "WHERE key = 'net.ipv4.ip_forward'"),
            (Rows{"[1]"}));
}

// The kernel is the oracle for configured_number: each value, written by systemd-sysctl into a
// key of one integer (net.ipv4.conf.lo.log_martians) in a network namespace of its own (unshare
// -n: the host's keys are never written), is read back and compared with the column; a write
// the kernel refuses leaves the 3 written before it.
TEST(TablesAccessTest, SysctlConfiguredNumberIsWhatTheKernelReads) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "needs root for a network namespace");
  TIDEMARK_REQUIRE(testing::HaveProgram("unshare"), "unshare (util-linux) is not installed");
  std::string systemd_sysctl = testing::SystemdSysctlPath();
  TIDEMARK_REQUIRE(!systemd_sysctl.empty(), "systemd-sysctl is not installed");
  std::string probe;
  if (testing::RunCommand("unshare -n true 2>&1", &probe) != 0)
    TIDEMARK_REQUIRE(false, "cannot create a network namespace here: " << probe);

  const std::vector<std::string> values = {"1",
                                           "0x10",
                                           "0X1f",
                                           "010",
                                           "08",
                                           "1x",
                                           "1.5",
                                           "4 4 1 7",
                                           "1 # off",
                                           "1\t2",
                                           "-1",
                                           "-0",
                                           "+1",
                                           "- 1",
                                           "5,6",
                                           "\"1\"",
                                           "yes",
                                           "0x",
                                           "2147483647",
                                           "2147483648",
                                           "-2147483648",
                                           "-2147483649",
                                           "99999999999999999999",
                                           "00000000000000000001",
                                           "000000000000000000001"};
  TempRoot root;
  std::string conf;
  for (size_t i = 0; i < values.size(); ++i) {
    conf += "test.k" + std::to_string(i) + " = " + values[i] + "\n";
  }
  root.Write("/etc/sysctl.d/60-values.conf", conf);
  auto db = Loaded(Collect(root, "sysctl"));
  ASSERT_NE(db, nullptr);
  for (size_t i = 0; i < values.size(); ++i) {
    root.Write("/k.conf", "net.ipv4.conf.lo.log_martians = " + values[i] + "\n");
    std::string key = "/proc/sys/net/ipv4/conf/lo/log_martians";
    std::string out;
    ASSERT_EQ(testing::RunCommand(
                  "unshare -n sh -c " +
                      testing::ShellQuote("echo 3 > " + key + " && " + systemd_sysctl + " " +
                                          testing::ShellQuote(root.Host("/k.conf")) +
                                          " >/dev/null 2>&1; cat " + key),
                  &out),
              0)
        << values[i];
    std::string kernel = out.substr(0, out.find('\n'));
    std::string want = kernel == "3" ? "[null]" : "[" + kernel + "]";
    EXPECT_EQ(Query(*db, "SELECT configured_number FROM sysctl WHERE key = 'test.k" +
                             std::to_string(i) + "'"),
              (Rows{want}))
        << "value [" << values[i] << "]: the kernel read " << kernel;
  }
}

TEST(TablesAccessTest, SysctlOfThisMachineLoadsWithItsRuntimeValues) {
  auto db = Loaded(Collect("/", "sysctl"));
  ASSERT_NE(db, nullptr);
  ASSERT_NE(SectionStatus(*db, "sysctl"), "unknown_shape");
  EXPECT_EQ(Query(*db,
                  "SELECT count(*) > 40 FROM sysctl WHERE runtime_state IN "
                  "('present', 'absent', 'error')"),
            (Rows{"[1]"}));
  std::string aslr = testing::ReadHostFile("/proc/sys/kernel/randomize_va_space");
  if (!aslr.empty()) {
    if (aslr.back() == '\n') aslr.pop_back();
    EXPECT_EQ(Query(*db,
                    "SELECT runtime, runtime_state FROM sysctl "
                    "WHERE key = 'kernel.randomize_va_space'"),
              (Rows{"[" + json(aslr).dump() + ",\"present\"]"}));
  }
}

// ---------------------------------------------------------------------------------------------
// network

// A snapshot holding one section as a collector left it.
Snapshot WithSection(const std::string& name, Section section) {
  Snapshot s;
  s.host = {"testhost", "testhost", "/"};
  s.collected_at = "2026-12-03T00:00:00Z";
  s.agent_version = "test";
  section.Finish();
  section.Materialize();
  s.sections[name] = std::move(section);
  return s;
}

class ListenersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n");
    root_.Write("/etc/group", "root:x:0:\n");
    // Socket 555 is held by nginx (two workers: one owner) and by a helper of another unit.
    Proc(100, "nginx", 33, "0::/system.slice/nginx.service\n");
    root_.Symlink("/proc/100/fd/3", "socket:[555]");
    Proc(101, "nginx", 33, "0::/system.slice/nginx.service\n");
    root_.Symlink("/proc/101/fd/4", "socket:[555]");
    Proc(102, "certbot", 0, "0::/system.slice/certbot.service\n");
    root_.Symlink("/proc/102/fd/9", "socket:[555]");
    Proc(200, "sshd", 0, "0::/system.slice/ssh.service\n");
    root_.Symlink("/proc/200/fd/3", "socket:[777]");
  }
  void Proc(int pid, const std::string& comm, int uid, const std::string& cgroup) {
    tidemark::testing::WriteFakeProc(root_, pid, comm, uid, cgroup);
  }
  static agent::DiagSocket Sock(std::string proto, int family, std::string addr, uint16_t port,
                                uint64_t inode, uint32_t uid) {
    return tidemark::testing::FakeSocket(std::move(proto), family, std::move(addr), port, inode,
                                         uid);
  }
  // The section the network collector writes for these sockets, with the fixture's /proc.
  Section NetworkSection(std::vector<agent::DiagSocket> sockets) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok());
    agent::CollectContext ctx(**fs, "testhost");
    agent::NetworkReader c([sockets] { return StatusOr<std::vector<agent::DiagSocket>>(sockets); },
                           /*require_live=*/false);
    Section s;
    c.Collect(ctx, s);
    return s;
  }
  TempRoot root_;
};

TEST_F(ListenersTest, OneRowPerEndpointAndOwningProgram) {
  auto db =
      Loaded(WithSection("network", NetworkSection({Sock("tcp", 4, "0.0.0.0", 443, 555, 33),
                                                    Sock("tcp", 6, "::", 22, 777, 0),
                                                    Sock("udp", 4, "127.0.0.1", 53, 888, 101)})));
  EXPECT_EQ(SectionStatus(*db, "network"), "ok");
  EXPECT_EQ(
      Query(*db,
            "SELECT id, proto, family, address, port, endpoint, scope, v6only, process, uid, "
            "user, unit, owner_state, sockets, source_file, source_line FROM listeners "
            "ORDER BY proto, port, process"),
      (Rows{
          R"(["listen:tcp:[::]:22","tcp","ipv6","::",22,"[::]:22","any",0,"sshd",0,"root",)"
          R"("ssh.service","found",1,"sock_diag:tcp6",null])",
          // Two programs hold :443 (the two nginx workers are one owner): two rows.
          R"(["listen:tcp:0.0.0.0:443#1","tcp","ipv4","0.0.0.0",443,"0.0.0.0:443","any",null,)"
          R"("certbot",0,"root","certbot.service","found",1,"sock_diag:tcp4",null])",
          R"(["listen:tcp:0.0.0.0:443#2","tcp","ipv4","0.0.0.0",443,"0.0.0.0:443","any",null,)"
          R"("nginx",33,"www","nginx.service","found",1,"sock_diag:tcp4",null])",
          // Nobody found holding it: one row, the owner columns NULL.
          R"(["listen:udp:127.0.0.1:53","udp","ipv4","127.0.0.1",53,"127.0.0.1:53",)"
          R"("loopback",null,null,null,null,null,"none",1,"sock_diag:udp4",null])",
      }));
  EXPECT_EQ(Query(*db,
                  "SELECT DISTINCT u.value FROM listeners, json_each(listeners.units) u "
                  "WHERE port = 443 ORDER BY 1"),
            (Rows{R"(["certbot.service"])", R"(["nginx.service"])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT json_extract(o.value, '$.uid'), json_extract(o.value, '$.user') "
                  "FROM listeners, json_each(listeners.socket_owners) o WHERE port = 53"),
            (Rows{"[101,null]"}));
}

TEST_F(ListenersTest, AnOfflineRootHasNoListeners) {
  auto db = Loaded(Collect(root_, "network"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Query(*db, "SELECT name, status FROM sections"),
            (Rows{R"(["network","not_applicable"])"}));
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM listeners"), (Rows{"[0]"}));
}

TEST(TablesAccessTest, ListenersOfThisMachineHaveWellFormedEndpoints) {
  auto db = Loaded(Collect("/", "network"));
  ASSERT_NE(db, nullptr);
  std::string status = SectionStatus(*db, "network");
  ASSERT_NE(status, "unknown_shape");
  ASSERT_NE(status, "<missing>");
  // Whatever listens here: every row has a protocol, a port in range and a matching endpoint.
  EXPECT_EQ(Query(*db,
                  "SELECT count(*) FROM listeners WHERE proto NOT IN ('tcp', 'udp') "
                  "OR typeof(port) != 'integer' OR port NOT BETWEEN 1 AND 65535 "
                  "OR endpoint NOT LIKE '%:' || port OR id NOT LIKE 'listen:' || proto || ':%' "
                  "OR source_file NOT LIKE 'sock_diag:%' "
                  "OR (process IS NULL) != (owner_state != 'found')"),
            (Rows{"[0]"}));
}

// ---------------------------------------------------------------------------------------------
// pam

TEST(TablesAccessTest, PamEntriesAreTheExpandedStacksWithTheirLines) {
  TempRoot root;
  for (const char* f : {"common-auth", "common-account", "common-password", "common-session",
                        "login", "su", "other"}) {
    root.Write(std::string("/etc/pam.d/") + f,
               testing::ReadHostFile(std::string(TIDEMARK_FIXTURES_DIR) + "/pam/debian12/" + f));
  }
  auto db = Loaded(Collect(root, "pam"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "pam"), "ok");
  // login's auth stack: its own lines, then common-auth's through `@include common-auth` at
  // line 57 (the compact entries get their content from `lines` and their file from `chains`).
  EXPECT_EQ(Query(*db,
                  "SELECT id, position, type, control, module, arguments, chain, source_file, "
                  "source_line FROM pam_entries WHERE service = 'login' AND type = 'auth' "
                  "ORDER BY position"),
            (Rows{
                R"(["pam:login:auth:pam_faildelay.so#1",1,"auth","optional","pam_faildelay.so",)"
                R"("[\"delay=3000000\"]",null,"/etc/pam.d/login",9])",
                R"(["pam:login:auth:pam_nologin.so#1",2,"auth","requisite","pam_nologin.so",)"
                R"("[]",null,"/etc/pam.d/login",17])",
                R"(["pam:login:auth:pam_unix.so#1",10,"auth","[success=1 default=ignore]",)"
                R"("pam_unix.so","[\"nullok\"]","57","/etc/pam.d/common-auth",17])",
                R"(["pam:login:auth:pam_deny.so#1",11,"auth","requisite","pam_deny.so","[]",)"
                R"("57","/etc/pam.d/common-auth",19])",
                R"(["pam:login:auth:pam_permit.so#1",12,"auth","required","pam_permit.so",)"
                R"("[]","57","/etc/pam.d/common-auth",23])",
                R"(["pam:login:auth:pam_cap.so#1",13,"auth","optional","pam_cap.so","[]","57",)"
                R"("/etc/pam.d/common-auth",25])",
                R"(["pam:login:auth:pam_group.so#1",14,"auth","optional","pam_group.so","[]",)"
                R"(null,"/etc/pam.d/login",63])",
            }));
  // JSON columns: arguments, flags, actions and the include chain.
  EXPECT_EQ(Query(*db,
                  "SELECT a.value, json_extract(flags, '$.nullok'), "
                  "json_extract(actions, '$.success'), json_extract(via, '$[0].directive'), "
                  "json_extract(via, '$[0].line'), silent, substack_depth, error "
                  "FROM pam_entries, json_each(pam_entries.arguments) a "
                  "WHERE service = 'login' AND module = 'pam_unix.so' "
                  "AND pam_entries.type = 'auth'"),
            (Rows{R"(["nullok",1,"1","@include",57,0,0,null])"}));
  // An entry of the service's own file has no chain; defaults restored.
  EXPECT_EQ(Query(*db,
                  "SELECT flags, actions, via, silent, substack_depth FROM pam_entries "
                  "WHERE id = 'pam:login:auth:pam_nologin.so#1'"),
            (Rows{R"(["{}",null,null,0,0])"}));
  // The same common-auth line is an entry of every service that includes it (and of
  // common-auth itself: every file in /etc/pam.d is a service to libpam).
  EXPECT_EQ(Query(*db,
                  "SELECT service FROM pam_entries WHERE module = 'pam_unix.so' "
                  "AND type = 'auth' ORDER BY service"),
            (Rows{R"(["common-auth"])", R"(["login"])", R"(["other"])", R"(["su"])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT count(*) FROM pam_entries WHERE type IS NULL OR control IS NULL "
                  "OR module IS NULL OR source_file IS NULL OR source_line IS NULL"),
            (Rows{"[0]"}));
}

TEST(TablesAccessTest, PamModuleSettingsAreTheEffectiveKeysOfTheModulesFiles) {
  TempRoot root;
  root.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  root.Write("/etc/security/faillock.conf", "deny = 4\nunlock_time=900\neven_deny_root\n");
  root.Write("/etc/security/pwquality.conf.d/50-cis.conf", "minlen = 14\n");
  root.Write("/etc/security/pwquality.conf", "minlen = 8\nenforce_for_root\n");
  auto db = Loaded(Collect(root, "pam"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "pam"), "ok");
  EXPECT_EQ(Query(*db,
                  "SELECT id, module, key, value, source_file, source_line "
                  "FROM pam_module_settings ORDER BY id"),
            (Rows{
                R"(["pam_setting:faillock:deny","faillock","deny","4",)"
                R"("/etc/security/faillock.conf",1])",
                R"(["pam_setting:faillock:even_deny_root","faillock","even_deny_root",null,)"
                R"("/etc/security/faillock.conf",3])",
                R"(["pam_setting:faillock:unlock_time","faillock","unlock_time","900",)"
                R"("/etc/security/faillock.conf",2])",
                R"(["pam_setting:pwquality:enforce_for_root","pwquality","enforce_for_root",)"
                R"(null,"/etc/security/pwquality.conf",2])",
                R"(["pam_setting:pwquality:minlen","pwquality","minlen","8",)"
                R"("/etc/security/pwquality.conf",1])",
            }));
}

TEST(TablesAccessTest, PamFailedIncludeIsAnEntryWithItsError) {
  TempRoot root;
  root.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  root.Write("/etc/pam.d/svc",
             "auth required pam_env.so\n@include missing-file\n"
             "-session optional pam_systemd.so\n");
  auto db = Loaded(Collect(root, "pam"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Query(*db,
                  "SELECT position, type, control, module, silent, error, source_file, "
                  "source_line FROM pam_entries WHERE service = 'svc' ORDER BY position"),
            (Rows{R"([1,"auth","required","pam_env.so",0,null,"/etc/pam.d/svc",1])",
                  R"([2,null,"@include","missing-file",0,)"
                  R"("included file /etc/pam.d/missing-file does not exist","/etc/pam.d/svc",2])",
                  R"([3,"session","optional","pam_systemd.so",1,null,"/etc/pam.d/svc",3])"}));
}

// ---------------------------------------------------------------------------------------------
// login

TEST(TablesAccessTest, LoginSettingsHoldLoginDefsUseraddAndShellTimeouts) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/login.defs",
             "# shadow\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS 0\nPASS_MAX_DAYS\t90\n"
             "ENCRYPT_METHOD \"YESCRYPT\"\nUMASK\t\t022\n");
  root.Write("/etc/default/useradd", "SHELL=/bin/sh\nINACTIVE=30\n");
  root.Write("/etc/profile", "TMOUT=900\nreadonly TMOUT\nexport TMOUT\n");
  root.Write("/etc/bash.bashrc", "umask 027\n");
  auto db = Loaded(Collect(root, "login"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "login"), "ok");
  EXPECT_EQ(Query(*db,
                  "SELECT id, origin, key, value, number, source_file, source_line "
                  "FROM login_settings WHERE origin != 'shell' ORDER BY origin, key"),
            (Rows{
                // `number` as shadow reads one (strtol, base 0: UMASK 022 is 18).
                R"(["login_defs:ENCRYPT_METHOD","login.defs","ENCRYPT_METHOD","YESCRYPT",null,)"
                R"("/etc/login.defs",5])",
                R"(["login_defs:PASS_MAX_DAYS","login.defs","PASS_MAX_DAYS","90",90,)"
                R"("/etc/login.defs",4])",
                R"(["login_defs:PASS_MIN_DAYS","login.defs","PASS_MIN_DAYS","0",0,)"
                R"("/etc/login.defs",3])",
                R"(["login_defs:UMASK","login.defs","UMASK","022",18,"/etc/login.defs",6])",
                R"(["useradd:INACTIVE","useradd","INACTIVE","30",30,"/etc/default/useradd",2])",
                R"(["useradd:SHELL","useradd","SHELL","/bin/sh",null,"/etc/default/useradd",1])",
            }));
  // The overridden earlier line of a key; the compact default [] restored where there is none.
  EXPECT_EQ(Query(*db,
                  "SELECT json_extract(o.value, '$.value'), json_extract(o.value, '$.source.line') "
                  "FROM login_settings, json_each(login_settings.overridden) o "
                  "WHERE login_settings.key = 'PASS_MAX_DAYS'"),
            (Rows{R"(["99999",2])"}));
  EXPECT_EQ(Query(*db, "SELECT overridden FROM login_settings WHERE key = 'UMASK'"),
            (Rows{R"(["[]"])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT key, value, number, statement, readonly, exported, overridden, "
                  "source_file, source_line FROM login_settings WHERE origin = 'shell' "
                  "ORDER BY source_file, source_line"),
            // `number` is shadow's reading: NULL for the shell's rows, even a numeric TMOUT.
            (Rows{R"(["umask","027",null,"umask",0,0,null,"/etc/bash.bashrc",1])",
                  R"(["TMOUT","900",null,"assignment",0,0,null,"/etc/profile",1])",
                  R"(["TMOUT",null,null,"readonly",1,0,null,"/etc/profile",2])",
                  R"(["TMOUT",null,null,"export",0,1,null,"/etc/profile",3])"}));
}

TEST(TablesAccessTest, LoginSettingsOfAbsentFilesAreEmpty) {
  TempRoot root;
  WriteAccounts(root);
  auto db = Loaded(Collect(root, "login"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Query(*db, "SELECT name, status FROM sections"), (Rows{R"(["login","ok"])"}));
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM login_settings"), (Rows{"[0]"}));
}

}  // namespace
}  // namespace tidemark::policy
