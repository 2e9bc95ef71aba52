// The collector's evaluator (collector/evaluator.h) on a real store file: every stored state
// judged as the host that sent it, results stored, unreadable states recorded as errors,
// pending work found again after a restart, a wake for new states, and new policies judging
// each host's latest state again.
#include "collector/evaluator.h"

#include <gtest/gtest.h>

#include <atomic>

#include "collector/log.h"
#include "collector/sqlite_store.h"
#include "common/snapshot.h"
#include "tests/collector/judged_store.h"
#include "tests/collector/store_damage.h"

namespace tidemark::collector {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPolicies = R"(
rules:
  - id: accounts-uid0-only-root
    title: Only root has UID 0
    severity: high
    query: |
      SELECT id, 'uid 0: ' || name AS detail FROM users WHERE uid = 0 AND name <> 'root'
  - id: sudo-no-nopasswd
    title: sudo asks for a password
    severity: medium
    query: SELECT id FROM sudo_grants WHERE nopasswd
baselines:
  - id: web
    title: Web servers
    hosts: ["web*"]
    rules: ["*"]
)";

using testing::Policies;
using testing::User;

class EvaluatorTest : public testing::JudgedStoreTest {
 protected:
  // Stores a state of `host` whose document says it is "liar"; returns its sequence.
  int64_t Put(const std::string& host, const std::string& id, json users, int64_t at) {
    return JudgedStoreTest::Put(host, id, std::move(users), at, "liar");
  }

  int64_t Seq(const std::string& host) {
    auto latest = store_->LatestState(host, std::nullopt);
    EXPECT_TRUE(latest.ok()) << latest.status().ToString();
    return latest.ok() ? latest->seq : -1;
  }

  std::unique_ptr<Evaluator> Start(const std::string& policies,
                                   int64_t max_state_bytes = kDefaultMaxEvaluateBytes) {
    Evaluator::Options o;
    o.db = db_;
    o.max_state_bytes = max_state_bytes;
    o.poll = 1h;  // only Start and Wake make it look
    auto e = Evaluator::Start(o, Policies(policies));
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(*e) : nullptr;
  }

  std::optional<EvaluationRecord> Judged(int64_t seq) {
    auto e = store_->EvaluationOf(seq, std::nullopt);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : std::nullopt;
  }

  static const StoredResult& Result(const EvaluationRecord& r, const std::string& rule) {
    for (const StoredResult& x : r.results) {
      if (x.rule_id == rule) return x;
    }
    static const StoredResult none;
    ADD_FAILURE() << "no result for " << rule;
    return none;
  }
};

TEST_F(EvaluatorTest, JudgesEveryStoredStateAsTheHostThatSentIt) {
  int64_t web = Put("web01", "s1", json::array({User("root", 0, 1), User("toor", 0, 7)}), 100);
  int64_t db = Put("db01", "s1", json::array({User("toor", 0, 7)}), 100);
  auto e = Start(kPolicies);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->WaitIdle(20s));
  EXPECT_EQ(e->evaluated(), 2);

  auto r = Judged(web);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->policy_hash, policy::PolicyHash(*Policies(kPolicies)));
  ASSERT_EQ(r->results.size(), 2u);  // the web baseline applies to web01, not to "liar"
  const StoredResult& uid0 = Result(*r, "accounts-uid0-only-root");
  EXPECT_EQ(uid0.outcome, "fail");
  EXPECT_EQ(uid0.severity, "high");
  ASSERT_EQ(uid0.items.size(), 1u);
  EXPECT_EQ(uid0.items[0].id, "user:toor");
  EXPECT_EQ(uid0.items[0].detail, "uid 0: toor");
  EXPECT_EQ(uid0.items[0].source_file, "/etc/passwd");
  EXPECT_EQ(uid0.items[0].source_line, 7);
  const StoredResult& sudo = Result(*r, "sudo-no-nopasswd");
  EXPECT_EQ(sudo.outcome, "unknown");  // no sudo section: never a pass
  EXPECT_NE(sudo.message.find("section sudo"), std::string::npos) << sudo.message;

  // No baseline names db01: judged, with nothing that applies.
  auto d = Judged(db);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->results.empty());
}

// Decoding and judging a state takes about 20-27 times its size: a 60 MB snapshot took the
// collector to 1.24 GB. A state over max_state_bytes is not decoded; its one result is an
// error that says why, never a pass, and the states within the limit are judged as before.
TEST_F(EvaluatorTest, AStateOverTheSizeLimitIsAnErrorNotDecoded) {
  json many = json::array({User("root", 0, 1), User("toor", 0, 2)});
  for (int i = 0; i < 40; ++i) many.push_back(User("u" + std::to_string(i), 1000 + i, 3 + i));
  int64_t big = Put("web01", "big", many, 100);
  int64_t small = Put("web02", "small", json::array({User("toor", 0, 7)}), 100);
  auto big_state = store_->SnapshotBySeq(big);
  auto small_state = store_->SnapshotBySeq(small);
  ASSERT_TRUE(big_state.ok() && small_state.ok());
  ASSERT_LT(small_state->body.size(), big_state->body.size());
  auto e = Start(kPolicies, static_cast<int64_t>(big_state->body.size()) - 1);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->WaitIdle(20s));
  auto r = Judged(big);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->results.size(), 1u);
  EXPECT_EQ(r->results[0].rule_id, kEvaluationRuleId);
  EXPECT_EQ(r->results[0].outcome, "error");
  EXPECT_NE(r->results[0].message.find("max_evaluate_bytes = " +
                                       std::to_string(big_state->body.size() - 1)),
            std::string::npos)
      << r->results[0].message;
  auto s = Judged(small);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(Result(*s, "accounts-uid0-only-root").outcome, "fail");
}

TEST_F(EvaluatorTest, AStateThatCannotBeReadIsAnErrorNotASilentPass) {
  SnapshotInput in;
  in.host = "web02";
  in.snapshot_id = "garbage";
  in.content_hash = "sha256:00";
  in.collected_at = "2026-12-03T00:00:00Z";
  in.body = "{\"this is\": not a snapshot";
  in.received_at = 100;
  ASSERT_TRUE(store_->PutSnapshot(in).ok());
  auto e = Start(kPolicies);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->WaitIdle(20s));
  auto r = Judged(Seq("web02"));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->results.size(), 1u);
  EXPECT_EQ(r->results[0].rule_id, kEvaluationRuleId);
  EXPECT_EQ(r->results[0].outcome, "error");
  EXPECT_NE(r->results[0].message.find("garbage"), std::string::npos) << r->results[0].message;
}

TEST_F(EvaluatorTest, WhatWasStoredWhileStoppedIsJudgedAfterTheNextStart) {
  int64_t first = Put("web01", "s1", json::array({User("root", 0, 1)}), 100);
  {
    auto e = Start(kPolicies);
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(e->WaitIdle(20s));
  }  // stopped
  int64_t second = Put("web01", "s2", json::array({User("toor", 0, 3)}), 200);
  EXPECT_FALSE(Judged(second).has_value());
  auto e = Start(kPolicies);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->WaitIdle(20s));
  EXPECT_EQ(e->evaluated(), 1);  // the first state is not judged twice
  ASSERT_TRUE(Judged(second).has_value());
  EXPECT_EQ(Result(*Judged(second), "accounts-uid0-only-root").outcome, "fail");
  ASSERT_TRUE(Judged(first).has_value()) << "state " << first << " is not judged";
  EXPECT_EQ(Result(*Judged(first), "accounts-uid0-only-root").outcome, "pass");
}

TEST_F(EvaluatorTest, AWakeJudgesANewStateAndNewPoliciesJudgeTheLatestAgain) {
  int64_t old_state = Put("web01", "s1", json::array({User("root", 0, 1)}), 100);
  auto e = Start(kPolicies);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->WaitIdle(20s));
  int64_t latest = Put("web01", "s2", json::array({User("toor", 0, 3)}), 200);
  e->Wake();
  ASSERT_TRUE(e->WaitIdle(20s));
  ASSERT_TRUE(Judged(latest).has_value());
  EXPECT_EQ(Judged(latest)->results.size(), 2u);

  // The uid 0 rule becomes critical: the latest state is judged again, history is kept.
  std::string stricter = kPolicies;
  stricter.replace(stricter.find("severity: high"), 14, "severity: critical");
  std::string old_hash = Judged(latest)->policy_hash;
  e->SetPolicies(Policies(stricter));
  ASSERT_TRUE(e->WaitIdle(20s));
  auto now = Judged(latest);
  ASSERT_TRUE(now.has_value());
  EXPECT_NE(now->policy_hash, old_hash);
  EXPECT_EQ(Result(*now, "accounts-uid0-only-root").severity, "critical");
  ASSERT_TRUE(Judged(old_state).has_value()) << "state " << old_state << " is not judged";
  EXPECT_EQ(Judged(old_state)->policy_hash, old_hash);
}

TEST_F(EvaluatorTest, WithoutPoliciesNothingIsJudgedUntilSomeAreGiven) {
  int64_t state = Put("web01", "s1", json::array({User("toor", 0, 3)}), 100);
  Evaluator::Options o;
  o.db = db_;
  o.poll = 1h;
  auto e = Evaluator::Start(o, nullptr);  // evaluation off
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  (*e)->Wake();
  ASSERT_TRUE((*e)->WaitIdle(20s));
  EXPECT_FALSE(Judged(state).has_value());
  EXPECT_EQ((*e)->policy_hash(), "");
  (*e)->SetPolicies(Policies(kPolicies));
  ASSERT_TRUE((*e)->WaitIdle(20s));
  ASSERT_TRUE(Judged(state).has_value());
  EXPECT_EQ(Result(*Judged(state), "accounts-uid0-only-root").outcome, "fail");
}

// A store the evaluator finds corrupted is reported (the collector then stops acknowledging
// and exits, as when its store thread meets it), once, and the evaluator never says idle.
TEST_F(EvaluatorTest, ACorruptStoreIsReportedNotIdle) {
  Put("web01", "s1", json::array({User("root", 0, 1)}), 100);
  store_.reset();
  testing::SmashRootPage(db_, "evaluations");
  std::atomic<int> reported{0};
  Evaluator::Options o;
  o.db = db_;
  o.poll = 50ms;
  o.on_corrupt = [&] { ++reported; };
  auto e = Evaluator::Start(o, Policies(kPolicies));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_FALSE((*e)->WaitIdle(500ms));  // the store failed: not idle, tried again
  (*e)->Stop();
  EXPECT_EQ(reported.load(), 1);
}

// A hostile host cannot make the store keep every row a rule matches on every change.
TEST_F(EvaluatorTest, TheItemsKeptPerRuleAreBounded) {
  json users = json::array();
  for (int i = 0; i < static_cast<int>(kMaxStoredItems) + 500; ++i) {
    users.push_back(User("u" + std::to_string(i), 0, i + 1));
  }
  int64_t state = Put("web01", "s1", users, 100);
  auto e = Start(kPolicies);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->WaitIdle(60s));
  auto r = Judged(state);
  ASSERT_TRUE(r.has_value());
  const StoredResult& uid0 = Result(*r, "accounts-uid0-only-root");
  EXPECT_EQ(uid0.outcome, "fail");
  EXPECT_EQ(uid0.items.size(), kMaxStoredItems);
  EXPECT_NE(uid0.message.find("1500 items, the first 1000 kept"), std::string::npos)
      << uid0.message;
}

// `info evaluated` is logged once the judgement is stored: an operator (or a test) that sees
// the line and runs `tidemarkctl findings` sees the judgement (before, the line came first and
// findings could still show nothing: CollectorServerTest.JudgesWhatItStores... failed once so).
TEST_F(EvaluatorTest, LogsAJudgementOnceItIsStored) {
  int64_t seq = Put("web01", "s1", json::array({User("toor", 0, 2)}), 100);
  std::atomic<int> lines{0};
  std::atomic<int> stored_at_line{0};
  Log::SetSink([&](const std::string& line) {
    if (line.rfind("info evaluated ", 0) != 0) return;
    ++lines;
    // The log line is written on the evaluator's thread; the test's thread is waiting in
    // WaitIdle and leaves its connection to this one.
    auto r = store_->EvaluationOf(seq, std::nullopt);
    if (r.ok() && r->has_value()) ++stored_at_line;
  });
  auto e = Start(kPolicies);
  ASSERT_NE(e, nullptr);
  bool idle = e->WaitIdle(20s);
  Log::SetSink(nullptr);
  ASSERT_TRUE(idle);
  EXPECT_EQ(lines.load(), 1);
  EXPECT_EQ(stored_at_line.load(), 1);
}

// The FactDb serves the state it loaded in place (fact_db.h); the evaluator lets go of it once
// the state is judged, so that it holds no decoded snapshot while it waits for the next.
TEST_F(EvaluatorTest, LetsGoOfTheStateItJudged) {
  int64_t seq = Put("web01", "s1", json::array({User("root", 0, 1), User("toor", 0, 2)}), 100);
  auto state = store_->SnapshotBySeq(seq);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  auto db = policy::FactDb::Open();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EvaluationRecord r = EvaluateStored(*state, *Policies(kPolicies), "hash", 100, db->get(), false,
                                      policy::QueryLimits{});
  EXPECT_EQ(Result(r, "accounts-uid0-only-root").outcome, "fail");
  auto users = (*db)->Query("SELECT count(*) FROM users");
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  EXPECT_EQ(users->rows.at(0).at(0), 0);
  EXPECT_TRUE((*db)->section_status().empty());
  EXPECT_EQ((*db)->content_hash(), "");
}

// The facts file keeps each host's approved baseline's state beside its latest, so that drift
// since the baseline (drift --baseline, the report) reads both without decoding a body.
TEST_F(EvaluatorTest, KeepsTheApprovedBaselinesFactsBesideTheLatest) {
  int64_t handed_over = Put("web01", "s1", json::array({User("root", 0, 1)}), 100);
  Evaluator::Options o;
  o.db = db_;
  o.facts = FactsPathFor(db_);
  o.poll = 1h;
  auto e = Evaluator::Start(o, Policies(kPolicies));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_TRUE((*e)->WaitIdle(20s));
  BaselineApproval approval;
  approval.host = "web01";
  approval.snapshot_seq = handed_over;
  approval.approved_by = "Migration Lead";
  approval.approved_at = 150;
  ASSERT_TRUE(store_->ApproveBaseline(approval).ok());
  Put("web01", "s2", json::array({User("root", 0, 1), User("vendor", 1001, 2)}), 200);
  (*e)->Wake();
  ASSERT_TRUE((*e)->WaitIdle(20s));
  int64_t latest = Put("web01", "s3", json::array({User("root", 0, 1)}), 300);
  (*e)->Wake();
  ASSERT_TRUE((*e)->WaitIdle(20s));
  e->reset();
  auto facts = policy::FactDb::OpenFacts(FactsPathFor(db_));
  ASSERT_TRUE(facts.ok()) << facts.status().ToString();
  EXPECT_EQ(*(*facts)->FactStates(), (std::map<std::string, int64_t>{{"web01", latest}}));
  EXPECT_EQ(*(*facts)->KeptStates(), (std::map<std::string, int64_t>{{"web01", handed_over}}));
  ASSERT_TRUE((*facts)->SelectState(handed_over).ok());
  auto users = (*facts)->Query("SELECT name FROM users");
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  EXPECT_EQ(users->rows.size(), 1u);
}

}  // namespace
}  // namespace tidemark::collector
