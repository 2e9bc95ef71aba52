// `tidemarkctl tables` and `tidemarkctl query` as a user runs them: over snapshot files the real
// agent collected from fixture roots, and over a store holding several hosts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "collector/ctl/ctl.h"
#include "common/policy/tables.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "tests/collector/ctl_run.h"
#include "tests/support/temp_root.h"

namespace tidemark::ctl {
namespace {

class CtlPolicyTest : public ::testing::Test {
 protected:
  // Collects the accounts and sudo sections of a fixture host `name` into dir_/NAME.json.
  std::string CollectHost(const std::string& name, const std::string& extra_user) {
    testing::TempRoot root;
    root.Write("/etc/hostname", name + "\n");
    root.Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n" + extra_user +
                                  ":x:1000:1000::/home/" + extra_user + ":/bin/bash\n");
    root.Write("/etc/group",
               "root:x:0:\nsudo:x:27:" + extra_user + "\n" + extra_user + ":x:1000:\n");
    root.Write("/etc/sudoers", extra_user + " ALL=(ALL) NOPASSWD: ALL\n", 0440);
    std::string file = dir_.Host("/" + name + ".json");
    std::string out, err;
    int code = testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) +
                                       " collect --only accounts,sudo --root '" + root.path() +
                                       "' --output '" + file + "'",
                                   &out, &err);
    EXPECT_EQ(code, 0) << err;
    return file;
  }

  testing::TempRoot dir_;
};

TEST_F(CtlPolicyTest, TablesListsEveryTableAndPrintsDocsTablesMd) {
  CtlRun r = Ctl({"tables"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("sudo_grants (sudo): id, source_file, source_line, principal"),
            std::string::npos)
      << r.out;
  r = Ctl({"tables", "--format", "markdown"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, policy::TablesMarkdown());
  r = Ctl({"tables", "--format", "json"});
  EXPECT_EQ(r.code, 0);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.size(), policy::FactTables().size());
  EXPECT_EQ(Ctl({"tables", "--format", "yaml"}).code, 2);
  EXPECT_EQ(Ctl({"tables", "extra"}).code, 2);
}

TEST_F(CtlPolicyTest, QueryOverSnapshotFilesInEveryFormat) {
  std::string a = CollectHost("web01", "vendor_ops");
  std::string b = CollectHost("db01", "alice");
  const std::string sql = "SELECT principal, command, nopasswd FROM sudo_grants ORDER BY principal";

  CtlRun r = Ctl({"query", sql, "--snapshot", a, "--snapshot", b});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "host\tprincipal\tcommand\tnopasswd\n"
            "web01\tuser:vendor_ops\tALL\t1\n"
            "db01\tuser:alice\tALL\t1\n");

  r = Ctl({"query", sql, "--snapshot", a, "--format", "csv"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "host,principal,command,nopasswd\nweb01,user:vendor_ops,ALL,1\r\n");

  r = Ctl(
      {"query", "SELECT host, principal FROM sudo_grants", "--snapshot", a, "--format", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["host"], "web01");
  EXPECT_EQ(j[0]["host:1"], "ALL");  // the query's own `host` column

  // --host filters files by the host id inside them.
  r = Ctl({"query", "SELECT name FROM users WHERE uid = 1000", "--snapshot", a, "--snapshot", b,
           "--host", "db*"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "host\tname\ndb01\talice\n");
}

TEST_F(CtlPolicyTest, QueryOverTheStoreUsesEachHostsLatestState) {
  std::string db = dir_.Host("/store.db");
  std::string a = CollectHost("web01", "vendor_ops");
  std::string b = CollectHost("db01", "alice");
  ASSERT_EQ(Ctl({"--db", db, "import", a, "--as", "web01"}).code, 0);
  ASSERT_EQ(Ctl({"--db", db, "import", b, "--as", "db01"}).code, 0);
  CtlRun r = Ctl({"--db", db, "query", "SELECT count(*) AS n FROM users"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "host\tn\ndb01\t2\nweb01\t2\n");
  r = Ctl({"query", "SELECT user FROM group_members WHERE \"group\" = 'sudo'", "--db=" + db,
           "--host", "web*"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "host\tuser\nweb01\tvendor_ops\n");
  // Before anything was stored: no host has a state yet.
  r = Ctl({"--db", db, "query", "SELECT 1 FROM users", "--at", "2000-01-01"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(CtlPolicyTest, RefusalsAndUsageErrors) {
  std::string a = CollectHost("web01", "vendor_ops");
  CtlRun r = Ctl({"query", "DELETE FROM users", "--snapshot", a});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not allowed in a query: delete"), std::string::npos) << r.err;
  r = Ctl({"query", "SELECT nope FROM users", "--snapshot", a});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such column: nope"), std::string::npos) << r.err;
  r = Ctl({"query", "SELECT 1", "--snapshot", dir_.Host("/missing.json")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing.json: no such file"), std::string::npos) << r.err;
  dir_.Write("/bad.json", "{\"schema\": 5}");
  r = Ctl({"query", "SELECT 1", "--snapshot", dir_.Host("/bad.json")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.json: "), std::string::npos) << r.err;
  EXPECT_EQ(Ctl({"query"}).code, 2);
  EXPECT_EQ(Ctl({"query", "SELECT 1", "SELECT 2"}).code, 2);
  EXPECT_EQ(Ctl({"query", "SELECT 1", "--format", "xml"}).code, 2);
  EXPECT_EQ(Ctl({"query", "SELECT 1", "--snapshot", a, "--at", "2026-01-01"}).code, 2);
  r = Ctl({"query", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("Usage: tidemarkctl query [OPTIONS] SQL", 0), 0u) << r.out;
  EXPECT_EQ(Ctl({"help", "tables"}).out, Ctl({"tables", "--help"}).out);
  // An unreadable store is an error, not an empty answer.
  r = Ctl({"--db", dir_.Host("/no-store.db"), "query", "SELECT 1 FROM users"});
  EXPECT_EQ(r.code, 1);
}

TEST_F(CtlPolicyTest, HostTextIsEscapedInTextAndCsvAndCutInText) {
  // A snapshot whose user name carries a terminal escape and a line break, and whose GECOS is
  // 100 KB, as a hostile host could write them.
  Snapshot s;
  s.host = {"evil", "evil", "/"};
  s.collected_at = "2026-12-03T00:00:00Z";
  s.agent_version = "test";
  s.sections["accounts"].data["users"] =
      nlohmann::json::array({{{"id", "user:x"},
                              {"name", "a\x1b[31m\nb"},
                              {"uid", 0},
                              {"gecos", std::string(100000, 'g')}}});
  dir_.Write("/evil.json", SerializeSnapshot(s));
  std::string file = dir_.Host("/evil.json");
  CtlRun r = Ctl({"query", "SELECT name, gecos FROM users", "--snapshot", file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_NE(r.out.find("evil\ta\\x1b[31m\\x0ab\tggg"), std::string::npos) << r.out.substr(0, 200);
  EXPECT_LT(r.out.size(), 5000u);  // the GECOS cell is cut
  r = Ctl({"query", "SELECT name FROM users", "--snapshot", file, "--format", "csv"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "host,name\nevil,a\\x1b[31m\\x0ab\r\n");
  r = Ctl({"query", "SELECT gecos FROM users", "--snapshot", file, "--format", "json"});
  EXPECT_EQ(nlohmann::json::parse(r.out)[0]["gecos"].get<std::string>().size(), 100000u);
  // A cell a spreadsheet would run as a formula is defused; numbers stay numbers.
  r = Ctl({"query", "SELECT '=HYPERLINK(\"http://x\")' AS a, '-1' AS b, -1 AS c, '@x' AS d",
           "--snapshot", file, "--format", "csv"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "host,a,b,c,d\nevil,\"'=HYPERLINK(\"\"http://x\"\")\",'-1,-1,'@x\r\n");
}

TEST_F(CtlPolicyTest, EvaluateASnapshotFileAgainstPolicies) {
  std::string a = CollectHost("web01", "vendor_ops");
  dir_.Write("/p/rules.yaml",
             "rules:\n"
             "  - id: sudo-nopasswd\n    title: sudo asks for a password\n    severity: high\n"
             "    references: {cis_debian12: \"5.2.4\"}\n"
             "    query: SELECT id, principal AS detail FROM sudo_grants WHERE nopasswd\n"
             "  - id: uid0\n    title: Only root has UID 0\n    severity: critical\n"
             "    query: SELECT id FROM users WHERE uid = 0 AND name <> 'root'\n");
  std::string policies = dir_.Host("/p");
  CtlRun r = Ctl({"evaluate", "--snapshot", a, "--policies", policies});
  EXPECT_EQ(r.code, 3) << r.err;  // a high failure, --fail-on high by default
  EXPECT_NE(r.out.find("web01 (collected "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 fail, 0 unknown, 0 error, 1 pass"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL\thigh\tsudo-nopasswd\tsudo asks for a password\n"
                       "\tsudo:user:vendor_ops@ALL=(ALL)ALL\t/etc/sudoers:1\tuser:vendor_ops\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(
      Ctl({"evaluate", "--snapshot", a, "--policies", policies, "--fail-on", "critical"}).code, 0);
  r = Ctl({"--db", "/ignored", "evaluate", "--snapshot=" + a, "--policies=" + policies, "--format",
           "json"});
  EXPECT_EQ(r.code, 3) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["host"], "web01");
  EXPECT_EQ(j["summary"]["fail"], 1);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["rule"], "sudo-nopasswd");
  EXPECT_EQ(j["results"][0]["result"], "fail");
  EXPECT_EQ(j["results"][0]["references"]["cis_debian12"], "5.2.4");
  EXPECT_EQ(j["results"][0]["items"][0]["source_line"], 1);
  // Errors: policies that do not load (named with file and line), no snapshot, usage.
  dir_.Write("/bad/rules.yaml",
             "rules:\n  - id: x\n    title: t\n    severity: grave\n"
             "    query: SELECT 1 AS id\n");
  r = Ctl({"evaluate", "--snapshot", a, "--policies", dir_.Host("/bad")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("rules.yaml:4: rule x: unknown severity 'grave'"), std::string::npos)
      << r.err;
  r = Ctl({"evaluate", "--snapshot", dir_.Host("/none.json"), "--policies", policies});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("none.json: no such file"), std::string::npos) << r.err;
  // A FIFO is refused at once (no wait for a writer); a file over the bound is not read.
  ASSERT_EQ(mkfifo(dir_.Host("/fifo").c_str(), 0600), 0);
  r = Ctl({"evaluate", "--snapshot", dir_.Host("/fifo"), "--policies", policies});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("fifo: not a regular file"), std::string::npos) << r.err;
  r = Ctl({"query", "SELECT 1 AS id FROM users", "--snapshot", dir_.Host("/fifo")});
  EXPECT_EQ(r.code, 1);
  {
    int fd = open(dir_.Host("/huge.json").c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kMaxSnapshotFileBytes + 1)), 0);  // sparse
    close(fd);
  }
  r = Ctl({"evaluate", "--snapshot", dir_.Host("/huge.json"), "--policies", policies});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("536870913 bytes, more than the 536870912"), std::string::npos) << r.err;
  r = Ctl({"--db", dir_.Host("/s.db"), "import", dir_.Host("/huge.json"), "--as", "web01"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("more than the"), std::string::npos) << r.err;
  EXPECT_EQ(Ctl({"evaluate", "--policies", policies}).code, 2);
  EXPECT_EQ(Ctl({"evaluate", "--snapshot", a, "--fail-on", "urgent"}).code, 2);
  EXPECT_EQ(Ctl({"evaluate", "--snapshot", a, "--format", "csv"}).code, 2);
}

// Offline, the register's statuses decide what is tolerated: an active exception's failures
// do not count, a leftover is a critical failure naming owner and ticket, and the evidence
// time is --received-at or, said so, the agent's clock.
TEST_F(CtlPolicyTest, EvaluateAppliesTheRegisterOffline) {
  std::string a = CollectHost("web01", "vendor_ops");
  dir_.Write("/p/rules.yaml",
             "rules:\n"
             "  - id: sudo-nopasswd\n    title: sudo asks for a password\n    severity: high\n"
             "    query: SELECT id FROM sudo_grants WHERE nopasswd\n"
             "  - id: no-vendor-account\n    title: no vendor account\n    severity: medium\n"
             "    query: SELECT id FROM users WHERE name LIKE 'vendor%'\n");
  dir_.Write("/register.yaml",
             "exceptions:\n"
             "  - id: MIG-7\n    hosts: [\"web*\"]\n    ticket: CHG-7\n"
             "    owner: {name: Jane Roe, email: jane.roe@example.org}\n"
             "    expires: 2026-12-01T00:00:00Z\n"
             "    covers:\n"
             "      - {rule: sudo-nopasswd}\n"
             "      - {table: users, where: {name: vendor_ops}}\n"
             "  - id: MIG-8\n    hosts: [db01]\n    ticket: CHG-8\n"
             "    owner: {name: Jane Roe, phone: \"1\"}\n    expires: 2026-12-01T00:00:00Z\n"
             "    covers: [{table: users, where: {name: vendor_ops}}]\n");
  std::vector<std::string> base = {"evaluate",
                                   "--snapshot",
                                   a,
                                   "--policies",
                                   dir_.Host("/p"),
                                   "--register",
                                   dir_.Host("/register.yaml")};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    return Ctl(args);
  };
  // Before the expiry: both failures tolerated; exit 0.
  CtlRun r = with({"--now", "2026-11-25", "--received-at", "2026-11-24"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 fail, 2 tolerated, 0 unknown, 0 error, 0 pass\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("TOLERATED\thigh\tsudo-nopasswd\tsudo asks for a password\n"
                       "\tsudo:user:vendor_ops@ALL=(ALL)ALL\t/etc/sudoers:1\t[active: MIG-7, 6 "
                       "days left, owner Jane Roe, ticket CHG-7]\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("ACTIVE\tMIG-7\tweb01\texpires 2026-12-01T00:00:00Z (in 6 days)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("MIG-8"), std::string::npos) << r.out;  // not in scope

  // After the expiry, received after it: a leftover, a critical failure; exit 3.
  r = with({"--now", "2026-12-03", "--received-at", "2026-12-02", "--format", "json"});
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["summary"]["fail"], 3);
  EXPECT_EQ(j["summary"]["tolerated"], 0);
  EXPECT_EQ(j["results"][0]["rule"], "exception:MIG-7");
  EXPECT_EQ(j["results"][0]["severity"], "critical");
  EXPECT_NE(j["results"][0]["title"].get<std::string>().find(
                "owner Jane Roe <jane.roe@example.org>; ticket CHG-7"),
            std::string::npos)
      << j["results"][0]["title"];
  EXPECT_EQ(j["results"][0]["items"].size(), 2u);
  EXPECT_EQ(j["results"][1]["items"][0]["exception_status"], "leftover");
  EXPECT_EQ(j["exceptions"]["verdicts"][0]["status"], "leftover");
  EXPECT_EQ(j["exceptions"]["verdicts"][0]["evidence"]["clock"], "collector");
  // A register's text reaches the terminal escaped (the owner's name holds an ESC sequence).
  dir_.Write("/hostile.yaml",
             "exceptions:\n  - id: MIG-9\n    hosts: [web01]\n    ticket: CHG-9\n"
             "    owner: {name: \"Mallory\\e[2K\", email: m@example.org}\n"
             "    expires: 2026-12-01T00:00:00Z\n"
             "    covers: [{table: users, where: {name: root}}]\n");
  r = Ctl({"evaluate", "--snapshot", a, "--policies", dir_.Host("/p"), "--register",
           dir_.Host("/hostile.yaml"), "--now", "2026-12-03", "--received-at", "2026-12-02"});
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_NE(r.out.find("owner Mallory\\x1b[2K <m@example.org>; ticket CHG-9)"), std::string::npos)
      << r.out;

  // Received before the expiry: unverified, the failures count again; exit 3 (a high one).
  r = with({"--now", "2026-12-03", "--received-at", "2026-11-30T23:59:59Z"});
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("2 fail, 0 tolerated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNVERIFIED\tMIG-7\tweb01\t"), std::string::npos) << r.out;
  // Without --received-at the snapshot's collected_at counts, as the agent's clock.
  r = with({"--now", "2099-01-01", "--format", "json"});
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["exceptions"]["verdicts"][0]["evidence"]["clock"], "agent") << r.out;
  EXPECT_EQ(j["exceptions"]["verdicts"][0]["status"], "leftover");
  // Usage: --now without a register; a register that does not load names file and line.
  EXPECT_EQ(Ctl({"evaluate", "--snapshot", a, "--now", "2026-12-03"}).code, 2);
  dir_.Write("/bad.yaml", "exceptions:\n  - id: X\n");
  r = Ctl({"evaluate", "--snapshot", a, "--policies", dir_.Host("/p"), "--register",
           dir_.Host("/bad.yaml")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.yaml:2: exception X: exception: 'covers' is missing"),
            std::string::npos)
      << r.err;
}

TEST_F(CtlPolicyTest, WhoInSnapshotFiles) {
  std::string a = CollectHost("web01", "vendor_ops");
  std::string b = CollectHost("web02", "alice");
  CtlRun r = Ctl({"who", "vendor_ops", "--snapshot", a, "--snapshot", b, "--format", "json"});
  EXPECT_EQ(r.code, 3) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["summary"]["hosts_checked"], 2);
  EXPECT_EQ(j["summary"]["hosts_with_access"], 1);
  ASSERT_EQ(j["hosts"].size(), 2u);  // web02: nothing found, but only accounts and sudo read
  EXPECT_EQ(j["hosts"][0]["host"], "web01");
  EXPECT_EQ(j["hosts"][0]["snapshot"], a);
  std::string access = j["hosts"][0]["access"].dump();
  EXPECT_NE(access.find("user:vendor_ops on ALL as ALL: ALL (NOPASSWD)"), std::string::npos)
      << access;
  EXPECT_TRUE(j["hosts"][1]["access"].empty());
  EXPECT_EQ(Ctl({"who", "vendor_ops", "--snapshot", a, "--host", "db*"}).code, 0);
  EXPECT_EQ(Ctl({"who", "vendor_ops", "--snapshot", a, "--at", "2026-12-01"}).code, 2);
  EXPECT_EQ(Ctl({"who", "vendor_ops", "--snapshot", dir_.Host("/none.json")}).code, 1);
}

}  // namespace
}  // namespace tidemark::ctl
