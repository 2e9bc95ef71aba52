// `tidemarkctl findings` over a store whose states the collector's evaluator judged: text and
// JSON, filters, --at, states not judged yet, exit codes. And `tidemarkctl query` over the
// facts file the evaluator keeps: the same rows as decoding every snapshot.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "collector/evaluator.h"
#include "collector/sqlite_store.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "tests/collector/ctl_run.h"
#include "tests/collector/judged_store.h"

namespace tidemark::ctl {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPolicies = testing::kUserPolicies;

using testing::User;

class CtlFindingsTest : public testing::JudgedStoreTest {
 protected:
  void Judge() { JudgedStoreTest::Judge(kPolicies); }
};

TEST_F(CtlFindingsTest, ShowsWhatWasFoundInEachHostsLatestState) {
  Put("web01", "s1", json::array({User("root", 0, 1), User("games", 5, 2)}), 1764547200);
  Put("web01", "s2", json::array({User("root", 0, 1), User("toor", 0, 7)}), 1764633600);
  Put("db01", "s1", json::array({User("root", 0, 1)}), 1764547200);
  Judge();

  CtlRun r = Ctl({"--db", db_, "findings"});
  EXPECT_EQ(r.code, 3) << r.err;  // a critical failure; --fail-on high by default
  EXPECT_EQ(r.out, "host db01: snapshot s1 received 2025-12-01T00:00:00Z, judged " +
                       r.out.substr(r.out.find("judged ") + 7, 20) +
                       ": 0 fail, 1 unknown, 0 error, 2 pass\n"
                       "UNKNOWN\tmedium\tsudo-no-nopasswd\tsudo asks for a password\n"
                       "\tsection sudo is not in the snapshot\n"
                       "host web01: snapshot s2 received 2025-12-02T00:00:00Z, judged " +
                       r.out.substr(r.out.rfind("judged ") + 7, 20) +
                       ": 1 fail, 1 unknown, 0 error, 1 pass\n"
                       "FAIL\tcritical\taccounts-uid0-only-root\tOnly root has UID 0\n"
                       "\tuser:toor\t/etc/passwd:7\tuid 0: toor\n"
                       "UNKNOWN\tmedium\tsudo-no-nopasswd\tsudo asks for a password\n"
                       "\tsection sudo is not in the snapshot\n");

  // As it was on 2025-12-01 (web01's first state: the games account), as JSON.
  r = Ctl({"--db", db_, "findings", "--at", "2025-12-01T12:00:00Z", "--host", "web*", "--format",
           "json"});
  EXPECT_EQ(r.code, 0) << r.err;  // a low failure, a medium unknown: nothing at or above high
  json j = json::parse(r.out);
  ASSERT_EQ(j["hosts"].size(), 1u);
  EXPECT_EQ(j["hosts"][0]["host"], "web01");
  EXPECT_EQ(j["hosts"][0]["snapshot"]["id"], "s1");
  EXPECT_EQ(j["hosts"][0]["summary"]["fail"], 1);
  ASSERT_EQ(j["findings"].size(), 2u);
  EXPECT_EQ(j["findings"][0]["rule"], "accounts-no-games");
  EXPECT_EQ(j["findings"][0]["item"], "user:games");
  EXPECT_EQ(j["findings"][0]["source_file"], "/etc/passwd");
  EXPECT_EQ(j["findings"][0]["source_line"], 2);
  EXPECT_EQ(j["findings"][0]["snapshot"], "s1");
  EXPECT_EQ(j["findings"][1]["result"], "unknown");
  EXPECT_TRUE(j["findings"][1]["item"].is_null());
  EXPECT_TRUE(j["not_evaluated"].empty());

  // Filters: severity at or above, rule globs; and the exit code follows what is shown.
  r = Ctl({"--db", db_, "findings", "--severity", "high"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out.find("UNKNOWN"), std::string::npos) << r.out;
  r = Ctl({"--db", db_, "findings", "--rule", "sudo-*", "--fail-on", "medium"});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(r.out.find("accounts-uid0"), std::string::npos) << r.out;
  EXPECT_EQ(Ctl({"--db", db_, "findings", "--fail-on", "info", "--host", "db01"}).code, 4);
}

// --register: an active exception's failures are tolerated and do not count; expired, with the
// host still reporting them, the same items are a leftover: a critical failure of its own.
TEST_F(CtlFindingsTest, TheRegisterToleratesActiveExceptionsAndNamesLeftovers) {
  json users = json::array({User("root", 0, 1), User("toor", 0, 7)});
  Put("web01", "s1", users, 1764547200);  // 2025-12-01
  Judge();
  std::string reg = dir_.Host("/register.yaml");
  std::ofstream(reg) << "exceptions:\n  - id: MIG-5\n    hosts: [web01]\n    ticket: CHG-5\n"
                        "    owner: {name: Jane Roe, email: jane.roe@example.org}\n"
                        "    expires: 2025-12-10T00:00:00Z\n"
                        "    covers: [{table: users, where: {name: toor}}]\n";
  CtlRun r = Ctl({"--db", db_, "findings", "--register", reg, "--at", "2025-12-05"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;  // the critical failure is tolerated
  EXPECT_NE(r.out.find(": 0 fail, 1 tolerated, 1 unknown, 0 error, 1 pass\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("TOLERATED\tcritical\taccounts-uid0-only-root\tOnly root has UID 0\n"
                       "\tuser:toor\t/etc/passwd:7\tuid 0: toor\t[active: MIG-5, 5 days left, "
                       "owner Jane Roe, ticket CHG-5]\n"),
            std::string::npos)
      << r.out;
  // Without the register, as before.
  EXPECT_EQ(Ctl({"--db", db_, "findings", "--at", "2025-12-05"}).code, 3);
  // After the expiry the host reports the same state again ("seen"): a leftover.
  Put("web01", "s2", users, 1765411200);  // 2025-12-11
  r = Ctl({"--db", db_, "findings", "--register", reg, "--at", "2025-12-12", "--format", "json"});
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["hosts"][0]["summary"]["fail"], 2);
  EXPECT_EQ(j["hosts"][0]["summary"]["tolerated"], 0);
  EXPECT_EQ(j["findings"][0]["rule"], "accounts-uid0-only-root");
  EXPECT_EQ(j["findings"][0]["exception_status"], "leftover");
  EXPECT_EQ(j["findings"][1]["rule"], "exception:MIG-5");
  EXPECT_EQ(j["findings"][1]["severity"], "critical");
  EXPECT_EQ(j["findings"][1]["item"], "user:toor");
  // A register that does not load: an error naming it.
  std::ofstream(reg) << "exceptions: [\n";
  r = Ctl({"--db", db_, "findings", "--register", reg});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("register.yaml"), std::string::npos) << r.err;
}

// `report` (issue 12, begun): the same results and verdicts in one document, every format.
// Long on purpose: one fleet, then each format checked against the same facts.
TEST_F(CtlFindingsTest, ReportSummarizesHostsFindingsAndExceptions) {
  Put("web01", "s1", json::array({User("root", 0, 1), User("toor", 0, 7)}), 1764547200);
  Put("web02", "s1", json::array({User("root", 0, 1), User("games", 5, 2)}), 1764547200);
  Put("db01", "s1", json::array({User("root", 0, 1)}), 1763596800);  // 2025-11-20: stale
  Judge();
  std::string reg = dir_.Host("/register.yaml");
  std::ofstream(reg) << "exceptions:\n"
                        "  - id: MIG-1\n    hosts: [web01]\n    ticket: CHG-1\n"
                        "    owner: {name: Jane Roe, email: jane.roe@example.org}\n"
                        "    contact: {name: John Doe, phone: \"+49 30 2\"}\n"
                        "    expires: 2025-12-10T00:00:00Z\n"
                        "    covers: [{table: users, where: {name: toor}}]\n"
                        "  - id: MIG-2\n    hosts: [web02]\n    ticket: CHG-2\n"
                        "    owner: {name: Jane Roe, email: jane.roe@example.org}\n"
                        "    expires: 2025-11-25T00:00:00Z\n"
                        "    covers: [{table: users, where: {name: games}}]\n";
  std::vector<std::string> base = {
      "--db", db_, "report", "--register", reg, "--now", "2025-12-01T12:00:00Z"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    return Ctl(args);
  };
  CtlRun r = with({"--format", "json"});
  EXPECT_EQ(r.code, 5) << r.err;  // the leftover wins over the failures
  json j = json::parse(r.out);
  EXPECT_EQ(j["generated_at"], "2025-12-01T12:00:00Z");
  EXPECT_EQ(j["summary"]["hosts"], 3);
  EXPECT_EQ(j["summary"]["hosts_stale"], json::array({"db01"}));
  EXPECT_EQ(j["summary"]["findings"]["critical"], 1);  // exception:MIG-2 (toor is tolerated)
  EXPECT_EQ(j["summary"]["findings"]["low"], 1);       // games, still there after MIG-2
  EXPECT_EQ(j["summary"]["tolerated"], 1);
  EXPECT_EQ(j["summary"]["exceptions"]["leftover"], 1);
  EXPECT_EQ(j["summary"]["exceptions"]["active"], 1);
  EXPECT_EQ(j["exceptions"][0]["exception"], "MIG-2");
  EXPECT_EQ(j["exceptions"][0]["status"], "leftover");
  ASSERT_EQ(j["hosts"].size(), 3u);
  EXPECT_EQ(j["hosts"][0]["host"], "db01");
  EXPECT_TRUE(j["hosts"][0]["stale"]);
  EXPECT_EQ(j["hosts"][1]["failing"][0]["rule"], "accounts-uid0-only-root");
  EXPECT_TRUE(j["hosts"][1]["failing"][0]["tolerated"]);
  EXPECT_EQ(j["hosts"][1]["failing"][0]["items"][0]["exception"], "MIG-1");
  EXPECT_EQ(j["hosts"][1]["unknown"][0]["rule"], "sudo-no-nopasswd");
  EXPECT_EQ(j["hosts"][1]["incomplete_sections"], json::object());
  ASSERT_EQ(j["contacts"].size(), 2u);
  EXPECT_EQ(j["contacts"][0]["exceptions"], json::array({"MIG-1", "MIG-2"}));
  EXPECT_EQ(j["contacts"][1]["role"], "contact");

  // Several formats in one run; files mode 0640, the text on standard output.
  std::string out_json = dir_.Host("/r.json"), out_xml = dir_.Host("/r.xml"),
              out_csv = dir_.Host("/r.csv");
  r = with({"--format", "json", "--out", out_json, "--format", "junit", "--out", out_xml,
            "--format", "csv", "--out", out_csv, "--format", "text"});
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "tidemark report at 2025-12-01T12:00:00Z: 3 host(s), 2 reporting, 1 stale");
  EXPECT_NE(r.out.find("\nLEFTOVER\tMIG-2\tweb02\t"), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(stat(out_json.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  StatusOr<std::string> xml_file = ReadRegularFile(out_xml, 1 << 20);
  ASSERT_TRUE(xml_file.ok()) << xml_file.status().ToString();
  const std::string& xml = *xml_file;
  EXPECT_EQ(
      xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tidemark\"", 0), 0u)
      << xml;
  EXPECT_NE(xml.find("<testcase classname=\"web02\" name=\"exception:MIG-2\"><failure "
                     "type=\"leftover\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testcase classname=\"web01\" name=\"sudo-no-nopasswd\"><skipped "),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("name=\"exception:MIG-2\"><failure type=\"critical\""), std::string::npos);
  StatusOr<std::string> csv_file = ReadRegularFile(out_csv, 1 << 20);
  ASSERT_TRUE(csv_file.ok()) << csv_file.status().ToString();
  const std::string& csv = *csv_file;
  EXPECT_NE(csv.find("\nexception,web02,MIG-2,leftover,user:games,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nfinding,web01,accounts-uid0-only-root,tolerated critical,user:toor,"),
            std::string::npos)
      << csv;

  // Without a register: findings only; exit 3 for the critical failure.
  r = Ctl({"--db", db_, "report", "--now", "2025-12-01T12:00:00Z"});
  EXPECT_EQ(r.code, 3) << r.err;
  // The next night: web02 dropped games (MIG-2 now revoked). The report says what changed
  // since the previous one (recorded by the runs above), and --previous prints that one again.
  Put("web02", "s2", json::array({User("root", 0, 1)}), 1764633600);  // 2025-12-02
  r = Ctl({"--db", db_, "report", "--register", reg, "--now", "2025-12-02T06:00:00Z", "--format",
           "json"});
  EXPECT_EQ(r.code, 0) << r.err;  // MIG-1 still tolerates toor; nothing else high
  j = json::parse(r.out);
  EXPECT_EQ(j["summary"]["previous_report"], "2025-12-01T12:00:00Z");
  EXPECT_EQ(j["summary"]["hosts_changed_since_previous"], json::array({"web02"}));
  EXPECT_EQ(j["summary"]["revoked_since_previous"],
            json::array({{{"exception", "MIG-2"}, {"host", "web02"}}}));
  const json& web02 = j["hosts"][2];
  ASSERT_EQ(web02["host"], "web02");
  ASSERT_EQ(web02["changes_since_previous"].size(), 1u) << web02.dump();
  EXPECT_EQ(web02["changes_since_previous"][0]["id"], "user:games");
  EXPECT_EQ(web02["changes_since_previous"][0]["change"], "removed");
  EXPECT_EQ(web02["changes_since_previous"][0]["first_seen"]["snapshot"], "s2");
  EXPECT_TRUE(j["hosts"][0]["changes_since_previous"].empty());  // db01 did not change
  CtlRun text = Ctl(
      {"--db", db_, "report", "--register", reg, "--now", "2025-12-02T06:00:00Z", "--no-record"});
  EXPECT_NE(text.out.find("\nsince the previous report (2025-12-01T12:00:00Z): 1 host(s) "
                          "changed, 1 exception verdict(s) newly revoked\n"
                          "revoked since: MIG-2 on web02\n"),
            std::string::npos)
      << text.out;  // the previous is the last one strictly before --now
  CtlRun prev = Ctl({"--db", db_, "report", "--previous"});
  EXPECT_EQ(prev.code, 0) << prev.err;
  EXPECT_EQ(prev.out, r.out);
  // --no-record leaves the last recorded one as it is.
  EXPECT_EQ(Ctl({"--db", db_, "report", "--now", "2025-12-03T00:00:00Z", "--no-record"}).code, 3);
  EXPECT_EQ(Ctl({"--db", db_, "report", "--previous"}).out, r.out);
  EXPECT_EQ(Ctl({"--db", db_, "report", "--previous", "--format", "csv"}).code, 2);

  // Since the approved baseline: web01's approved state s1; a second UID 0 account appears.
  ASSERT_EQ(Ctl({"--db", db_, "baseline", "approve", "web01", "--by", "Jane Roe", "--note",
                 "cut-over state"})
                .code,
            0);
  Put("web01", "s3",
      json::array(
          {User("root", 0, 1), User("toor", 0, 7), User("evil", 0, 8), User("alice", 1000, 9)}),
      1764633600);
  // (The approval carries the real clock's time: the report looks from after it.)
  r = Ctl({"--db", db_, "report", "--register", reg, "--now", "2099-01-01", "--no-record",
           "--format", "json"});
  j = json::parse(r.out);
  EXPECT_EQ(j["summary"]["baseline_findings"], 1) << r.out;
  const json& web01 = j["hosts"][1];
  ASSERT_EQ(web01["host"], "web01");
  EXPECT_EQ(web01["baseline"]["snapshot"], "s1");
  EXPECT_EQ(web01["baseline"]["approved_by"], "Jane Roe");
  EXPECT_EQ(web01["baseline"]["findings"], 1);
  ASSERT_EQ(web01["baseline"]["changes"].size(), 2u) << web01.dump();
  for (const json& ch : web01["baseline"]["changes"]) {
    EXPECT_EQ(ch["change"], "added");
    EXPECT_EQ(ch["finding"], ch["id"] == "user:evil") << ch.dump();  // alice is only drift
  }
  EXPECT_TRUE(j["hosts"][2]["baseline"].is_null());  // web02 has none
  r = Ctl({"--db", db_, "report", "--register", reg, "--now", "2099-01-01", "--no-record"});
  EXPECT_NE(r.out.find("\nsince the approved baselines: 1 finding(s) on 1 host(s) "),
            std::string::npos)
      << r.out;

  // Usage: two formats to standard output; --out without its --format.
  EXPECT_EQ(with({"--format", "json", "--format", "text"}).code, 2);
  EXPECT_EQ(with({"--out", out_json}).code, 2);
  EXPECT_EQ(with({"--format", "pdf"}).code, 2);
}

TEST_F(CtlFindingsTest, AStateNotJudgedYetIsSaidSoAndIsNotAPass) {
  Put("web01", "s1", json::array({User("root", 0, 1)}), 1764547200);
  CtlRun r = Ctl({"--db", db_, "findings"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(r.out, "host web01: snapshot s1 received 2025-12-01T00:00:00Z: not judged yet\n");
  r = Ctl({"--db", db_, "findings", "--format", "json"});
  json j = json::parse(r.out);
  ASSERT_EQ(j["not_evaluated"].size(), 1u);
  EXPECT_EQ(j["not_evaluated"][0]["host"], "web01");
}

TEST_F(CtlFindingsTest, UsageAndStoreErrors) {
  EXPECT_EQ(Ctl({"--db", db_, "findings", "--severity", "urgent"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "findings", "--format", "csv"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "findings", "--at", "yesterday"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "findings", "extra"}).code, 2);
  CtlRun r = Ctl({"--db", dir_.Host("/none.db"), "findings"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such database"), std::string::npos) << r.err;
  r = Ctl({"findings", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("Usage: tidemarkctl findings", 0), 0u) << r.out;
}

TEST_F(CtlFindingsTest, QueryReadsTheFactsFileAndFallsBackForStatesItLacks) {
  Put("web01", "s1", json::array({User("root", 0, 1), User("games", 5, 2)}), 1764547200);
  Put("db01", "s1", json::array({User("root", 0, 1), User("toor", 0, 7)}), 1764547200);
  Judge();
  {
    // The evaluator kept both hosts' judged states as facts.
    auto facts = policy::FactDb::OpenFacts(FactsPathFor(db_));
    ASSERT_TRUE(facts.ok()) << facts.status().ToString();
    EXPECT_EQ((*facts)->FactStates()->size(), 2u);
  }
  const std::string sql = "SELECT name, uid, source_file, source_line FROM users ORDER BY uid";
  CtlRun fast = Ctl({"--db", db_, "query", sql});
  EXPECT_EQ(fast.code, 0) << fast.err;
  EXPECT_EQ(fast.out,
            "host\tname\tuid\tsource_file\tsource_line\n"
            "db01\troot\t0\t/etc/passwd\t1\n"
            "db01\ttoor\t0\t/etc/passwd\t7\n"
            "web01\troot\t0\t/etc/passwd\t1\n"
            "web01\tgames\t5\t/etc/passwd\t2\n");
  // Without the facts file every snapshot is decoded: the same answer.
  ASSERT_EQ(std::rename(FactsPathFor(db_).c_str(), (db_ + "-moved").c_str()), 0);
  EXPECT_EQ(Ctl({"--db", db_, "query", sql}).out, fast.out);
  ASSERT_EQ(std::rename((db_ + "-moved").c_str(), FactsPathFor(db_).c_str()), 0);
  // The content hash in `host` is the stored state's (verified once, while decoding).
  auto web = store_->LatestState("web01", std::nullopt);
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(Ctl({"--db", db_, "query", "SELECT content_hash FROM host", "--host", "web01"}).out,
            "host\tcontent_hash\nweb01\t" + web->content_hash + "\n");
  // A newer state not judged yet: read from its snapshot, never the older facts.
  Put("web01", "s2", json::array({User("root", 0, 1)}), 1764633600);
  CtlRun r = Ctl({"--db", db_, "query", "SELECT name FROM users", "--host", "web01"});
  EXPECT_EQ(r.out, "host\tname\nweb01\troot\n");
  // An older state (--at) is not in the facts file either.
  r = Ctl({"--db", db_, "query", "SELECT name FROM users WHERE uid > 0", "--host", "web01", "--at",
           "2025-12-01T12:00:00Z"});
  EXPECT_EQ(r.out, "host\tname\nweb01\tgames\n");
}

}  // namespace
}  // namespace tidemark::ctl
