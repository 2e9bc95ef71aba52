// `tidemarkctl exceptions` and `verify-revocations` over a store (issue 11): statuses decided
// from stored states at their receive times ("seen" records confirm an unchanged state), hosts
// named but never heard from, scopes that match nothing, filters, formats, exit codes, and the
// same verdicts from the facts file as from decoding the snapshots.
#include <gtest/gtest.h>

#include <fstream>

#include "collector/evaluator.h"
#include "collector/sqlite_store.h"
#include "tests/collector/ctl_run.h"
#include "tests/collector/judged_store.h"

namespace tidemark::ctl {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::User;

constexpr int64_t kNov20 = 1795132800;  // 2026-11-20T00:00:00Z
constexpr int64_t kDec02 = 1796169600;  // 2026-12-02T00:00:00Z

constexpr const char* kRegister = R"(exceptions:
  - id: MIG-1
    title: Vendor account during the cut-over
    hosts: ["web*"]
    owner: {name: Jane Roe, organisation: Example Provider, email: jane.roe@example.org}
    contact: {name: John Doe, email: john.doe@example.com}
    ticket: CHG-1
    expires: 2026-12-01T00:00:00Z
    covers:
      - {table: users, where: {name: vendor_ops}}
  - id: MIG-2
    hosts: [db07]
    owner: {name: Jane Roe, phone: "+49 30 1"}
    ticket: CHG-2
    expires: 2026-12-01T00:00:00Z
    covers:
      - {table: users, where: {uid: 0, name: toor}}
  - id: MIG-3
    hosts: ["mail*"]
    owner: {name: Jane Roe, phone: "+49 30 1"}
    ticket: CHG-3
    expires: 2027-06-01T00:00:00Z
    covers:
      - {table: users, where: {name: vendor_ops}}
)";

class CtlExceptionsTest : public testing::JudgedStoreTest {
 protected:
  void SetUp() override {
    JudgedStoreTest::SetUp();
    reg_ = dir_.Host("/register.yaml");
    std::ofstream(reg_) << kRegister;
    json with = json::array({User("root", 0, 1), User("vendor_ops", 1001, 2)});
    json without = json::array({User("root", 0, 1)});
    // web01 removed the account after the expiry; web02 still has it (its unchanged state
    // reported again after the expiry); web03 was last heard from before the expiry.
    Put("web01", "a", with, kNov20);
    Put("web01", "b", without, kDec02);
    Put("web02", "a", with, kNov20);
    Put("web02", "b", with, kDec02);  // same content: a "seen" record
    Put("web03", "a", with, kNov20);
    Put("db01", "a", with, kDec02);  // out of every scope
  }

  CtlRun Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db_});
    return Ctl(args);
  }

  std::string reg_;
};

TEST_F(CtlExceptionsTest, StatusesFromStoredStatesAtTheirReceiveTimes) {
  CtlRun r = Run({"exceptions", "--register", reg_, "--now", "2026-12-02T12:00:00Z"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "exceptions at 2026-12-02T12:00:00Z: 1 leftover, 3 unverified, 0 active, 1 revoked");
  // Leftover first, with owner, contact, ticket, evidence and the item's file:line.
  EXPECT_NE(r.out.find("LEFTOVER\tMIG-1\tweb02\texpired 2026-12-01T00:00:00Z (1 day ago)\t"
                       "Vendor account during the cut-over\n"
                       "\towner Jane Roe (Example Provider) <jane.roe@example.org>; contact John "
                       "Doe <john.doe@example.com>; ticket CHG-1\n"
                       "\t1 covered item(s) still present 1 day after the expiry "
                       "2026-12-01T00:00:00Z\n"
                       "\tevidence: snapshot a received 2026-11-20T00:00:00Z, last reported "
                       "2026-12-02T00:00:00Z\n"
                       "\tusers\tuser:vendor_ops\t/etc/passwd:2\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("UNVERIFIED\tMIG-1\tweb03\t"), std::string::npos) << r.out;
  // Named outright but never heard from; a glob that matches no host.
  EXPECT_NE(r.out.find("UNVERIFIED\tMIG-2\tdb07\t"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\tno snapshot of this host received by 2026-12-02T12:00:00Z\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("UNVERIFIED\tMIG-3\t(no host)\t"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("REVOKED\tMIG-1\tweb01\t"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("db01"), std::string::npos) << r.out;

  // Before the expiry all three web hosts hold the account: active.
  r = Run({"exceptions", "--register", reg_, "--now", "2026-11-25", "--status", "active",
           "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["summary"]["active"], 3);
  ASSERT_EQ(j["verdicts"].size(), 3u);
  EXPECT_EQ(j["verdicts"][0]["host"], "web01");
  EXPECT_EQ(j["verdicts"][0]["days_left"], 6);
  EXPECT_EQ(j["verdicts"][0]["evidence"]["clock"], "collector");
  EXPECT_EQ(j["verdicts"][0]["items"][0]["source_file"], "/etc/passwd");

  // --host filters; CSV is one row per exception and host.
  r = Run({"exceptions", "--register", reg_, "--now", "2026-12-02T12:00:00Z", "--host", "web0[12]",
           "--format", "csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  EXPECT_NE(r.out.find("\nMIG-1,web02,leftover,2026-12-01T00:00:00Z,,1,Jane Roe,"),
            std::string::npos)
      << r.out;
}

TEST_F(CtlExceptionsTest, VerifyRevocationsExitCodes) {
  // web02's leftover: 5.
  CtlRun r = Run({"verify-revocations", "--register", reg_, "--now", "2026-12-02T12:00:00Z"});
  EXPECT_EQ(r.code, 5) << r.out << r.err;
  // MIG-3 has not expired: not listed.
  EXPECT_EQ(r.out.find("MIG-3"), std::string::npos) << r.out;

  // The leftover removed (web02 reports without the account), web03 and db07 still silent: 6.
  Put("web02", "c", json::array({User("root", 0, 1)}), kDec02 + 3600);
  r = Run({"verify-revocations", "--register", reg_, "--now", "2026-12-02T12:00:00Z"});
  EXPECT_EQ(r.code, 6) << r.out << r.err;
  // Everyone reports without the covered items: 0.
  Put("web03", "b", json::array({User("root", 0, 1)}), kDec02);
  Put("db07", "a", json::array({User("root", 0, 1)}), kDec02);
  r = Run({"verify-revocations", "--register", reg_, "--now", "2026-12-02T12:00:00Z", "--format",
           "json"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["summary"]["revoked"], 4);
  // The same evidence, too old for --max-age: 6 again.
  r = Run({"verify-revocations", "--register", reg_, "--now", "2026-12-02T12:00:00Z", "--max-age",
           "6h"});
  EXPECT_EQ(r.code, 6) << r.out << r.err;
  // Nothing expired yet: 0, and it says so.
  r = Run({"verify-revocations", "--register", reg_, "--now", "2026-11-01"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "no exception of " + reg_ + " has expired by 2026-11-01T00:00:00Z");
}

TEST_F(CtlExceptionsTest, TheFactsFileGivesTheSameVerdictsAndWays) {
  std::vector<std::string> args = {"exceptions",           "--register", reg_,  "--now",
                                   "2026-12-02T12:00:00Z", "--format",   "json"};
  CtlRun decoded = Run(args);
  ASSERT_EQ(decoded.code, 0) << decoded.err;
  std::vector<std::string> who = {"who", "vendor_ops", "--format", "json"};
  CtlRun who_decoded = Run(who);
  ASSERT_EQ(who_decoded.code, 3) << who_decoded.err;
  collector::Evaluator::Options o;
  o.db = db_;
  o.facts = FactsPathFor(db_);
  auto e = collector::Evaluator::Start(o, testing::Policies("rules: []\n"));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_TRUE((*e)->WaitIdle(20s));
  e->reset();
  ASSERT_TRUE(std::ifstream(FactsPathFor(db_)).good());
  CtlRun facts = Run(args);
  EXPECT_EQ(facts.out, decoded.out);
  CtlRun who_facts = Run(who);  // its sudo probe reads json_each over the facts file's views
  EXPECT_EQ(who_facts.code, 3) << who_facts.err;
  EXPECT_EQ(who_facts.out, who_decoded.out);
}

TEST_F(CtlExceptionsTest, BadInputIsRefusedClearly) {
  CtlRun r = Run({"exceptions", "--register", reg_, "--max-age", "0h"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'0h' is not a duration"), std::string::npos) << r.err;
  r = Run({"exceptions", "--register", reg_, "--now", "2026-12-02T12:00:00"});
  EXPECT_EQ(r.code, 2);
  r = Run({"verify-revocations"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--register"), std::string::npos) << r.err;
  r = Run({"exceptions", "--register", reg_, "--status", "gone"});
  EXPECT_EQ(r.code, 2);

  std::string bad = dir_.Host("/bad.yaml");
  std::ofstream(bad) << "exceptions:\n  - id: X\n    hosts: [a]\n    ticket: T\n"
                        "    owner: {name: N, email: e}\n    expires: 2026-12-01T00:00:00\n"
                        "    covers: [{table: users, where: {name: x}}]\n";
  r = Run({"exceptions", "--register", bad});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(bad + ":6: exception X: 'expires' must be an instant with its timezone"),
            std::string::npos)
      << r.err;
  r = Run({"exceptions", "--register", reg_, "--policies", dir_.Host("/none")});
  EXPECT_EQ(r.code, 1);
  r = Ctl({"--db", dir_.Host("/missing.db"), "exceptions", "--register", reg_});
  EXPECT_EQ(r.code, 1);
}

// who over the store: the latest states (or at --at); the states hold only the accounts
// section, so every host is incomplete for the rest and says so.
TEST_F(CtlExceptionsTest, WhoAcrossTheFleet) {
  CtlRun r = Run({"who", "vendor_ops", "--format", "json"});
  EXPECT_EQ(r.code, 3) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["kind"], "user");
  EXPECT_EQ(j["summary"]["hosts_checked"], 4);
  EXPECT_EQ(j["summary"]["hosts_with_access"], 3);  // web01 removed the account
  EXPECT_EQ(j["summary"]["hosts_incomplete"], 4);
  ASSERT_EQ(j["hosts"].size(), 4u);
  EXPECT_EQ(j["hosts"][0]["host"], "db01");
  EXPECT_EQ(j["hosts"][0]["access"][0]["kind"], "account");
  EXPECT_EQ(j["hosts"][0]["access"][0]["source_line"], 2);
  EXPECT_EQ(j["hosts"][1]["host"], "web01");
  EXPECT_TRUE(j["hosts"][1]["access"].empty());
  EXPECT_NE(j["hosts"][1]["incomplete"].dump().find("section sudo is not in the snapshot"),
            std::string::npos);

  // Before web01 removed it: on web01 too, as text.
  r = Run({"who", "vendor_ops", "--at", "2026-11-25", "--host", "web01"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "who vendor_ops (a user) at 2026-11-25T00:00:00Z: access on 1 of 1 host(s); 1 "
            "incomplete");
  EXPECT_NE(r.out.find("\taccount\tuid 1001, shell /bin/sh (login shell), password "),
            std::string::npos)
      << r.out;
  // Nobody of that name: nothing found, but not proof (sections missing): 4.
  EXPECT_EQ(Run({"who", "mallory"}).code, 4);
  EXPECT_EQ(Run({"who", ""}).code, 2);
  EXPECT_EQ(Run({"who", "x", "--at", "someday"}).code, 2);
}

// drift and baselines over web01's states; a third state adds a second UID 0 account.
TEST_F(CtlExceptionsTest, DriftBetweenStatesAndSinceTheApprovedBaseline) {
  constexpr int64_t kDec03 = kDec02 + 86400;
  json toor = json::array({User("root", 0, 1), User("toor", 0, 2), User("alice", 1000, 3)});
  Put("web01", "c", toor, kDec03);

  // Default: the last two states.
  CtlRun r = Run({"drift", "web01"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "drift web01: from snapshot b (received 2026-12-02T00:00:00Z) to snapshot c "
            "(received 2026-12-03T00:00:00Z), 2 state(s): 2 added, 0 removed, 0 changed");
  EXPECT_NE(r.out.find("ADDED\tusers\tuser:toor\tsince 2026-12-03T00:00:00Z (snapshot c)\t"
                       "/etc/passwd:2\n"),
            std::string::npos)
      << r.out;
  // Over all three: vendor_ops removed since b, toor and alice added since c.
  r = Run({"drift", "web01", "--from", "a", "--format", "json"});
  EXPECT_EQ(r.code, 3) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["states"], 3);
  EXPECT_EQ(j["summary"], json({{"added", 2}, {"removed", 1}, {"changed", 0}}));
  for (const json& c : j["changes"]) {
    if (c["id"] == "user:vendor_ops") {
      EXPECT_EQ(c["change"], "removed");
      EXPECT_EQ(c["first_seen"]["snapshot"], "b");
      EXPECT_EQ(c["before"]["uid"], 1001);
    }
  }
  EXPECT_EQ(Run({"drift", "web01", "--since", "2026-12-02T12:00:00Z", "--to", "b"}).code, 0);
  EXPECT_EQ(Run({"drift", "web01", "--from", "a", "--to", "a"}).code, 0);
  EXPECT_EQ(Run({"drift", "web01", "--from", "nope"}).code, 1);
  EXPECT_EQ(Run({"drift", "web01", "--from", "c", "--to", "a"}).code, 2);
  EXPECT_EQ(Run({"drift", "web01", "--from", "a", "--since", "1d"}).code, 2);
  EXPECT_EQ(Run({"drift", "web01", "--since", "soon"}).code, 2);
  // A duration counts back from --now: one day before Dec 3 noon is b's time.
  r = Run({"drift", "web01", "--since", "1d", "--now", "2026-12-03T12:00:00Z"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.out.find("from snapshot b "), std::string::npos) << r.out;
  EXPECT_EQ(Run({"drift", "web01", "--register", reg_}).code, 2);  // goes with --baseline

  // No approved baseline yet.
  r = Run({"drift", "web01", "--baseline"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("host web01 has no approved baseline"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"baseline", "show", "web01"}).code, 1);
  // Approve b (after the clean-up); then toor (uid 0) is a finding, alice is drift only.
  r = Run({"baseline", "approve", "web01", "--snapshot", "b", "--by", "Jane Roe", "--note",
           "after the cut-over"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("approved web01 snapshot b by Jane Roe at ", 0), 0u) << r.out;
  r = Run({"drift", "web01", "--baseline"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.out.find("): 1 finding(s)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FINDING ADDED\tusers\tuser:toor\t"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nADDED\tusers\tuser:alice\t"), std::string::npos) << r.out;
  // An active exception covering toor: covered, no finding.
  std::string reg = dir_.Host("/toor.yaml");
  std::ofstream(reg) << "exceptions:\n  - id: MIG-9\n    hosts: [web01]\n    ticket: T\n"
                        "    owner: {name: N, email: e}\n    expires: 2027-01-01T00:00:00Z\n"
                        "    covers: [{table: users, where: {name: toor, uid: 0}}]\n";
  r = Run({"drift", "web01", "--baseline", "--register", reg, "--now", "2026-12-04", "--format",
           "json"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["summary"]["findings"], 0);
  EXPECT_EQ(j["baseline"]["approved_by"], "Jane Roe");
  bool covered = false;
  for (const json& c : j["changes"]) covered |= c["covered_by"] == "MIG-9";
  EXPECT_TRUE(covered) << r.out;
  // Expired by --now: a finding again.
  EXPECT_EQ(Run({"drift", "web01", "--baseline", "--register", reg, "--now", "2027-02-01"}).code,
            3);

  // The baseline as documentation.
  r = Run({"baseline", "show", "web01", "--format", "markdown"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("# Documented configuration of web01\n\n- snapshot b, received "
                       "2026-12-02T00:00:00Z\n- approved by Jane Roe at "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(": after the cut-over\n- not collected fully: "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("## Accounts (1)\n\n| name | uid |"), std::string::npos) << r.out;
  r = Run({"baseline", "show", "web01", "--format", "json"});
  j = json::parse(r.out);
  EXPECT_EQ(j["snapshot"], "b");
  EXPECT_EQ(j["parts"][0]["rows"][0]["name"], "root");
  EXPECT_EQ(
      Run({"baseline", "approve", "web01", "--snapshot", "zz", "--by", "x", "--note", "y"}).code,
      1);
  EXPECT_EQ(Run({"baseline", "approve", "web01", "--by", "x"}).code, 2);  // --note missing
  EXPECT_EQ(Run({"baseline"}).code, 2);
}

}  // namespace
}  // namespace tidemark::ctl
