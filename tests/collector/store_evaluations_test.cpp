// SqliteStore's evaluations (docs/store.md "Evaluations") on a real SQLite file: what is
// pending, idempotent puts, the evaluation current at a time, findings' items round-tripped;
// and two connections in one process (the collector's store thread and its evaluator) beside
// another process, without losing the WAL.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "collector/sqlite_store.h"
#include "common/snapshot.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

// A stored snapshot of `host` whose state is `state`.
SnapshotInput Input(const std::string& host, const std::string& id, const std::string& state,
                    int64_t received_at, std::string& text) {
  Snapshot s;
  s.host.id = host;
  s.collected_at = "2026-12-01T00:00:00Z";
  s.agent_version = "0.1.0";
  s.sections["accounts"].data["users"] = nlohmann::json::array({state});
  text = SerializeSnapshot(s);
  return MakeSnapshotInput(host, id, s, text, received_at);
}

EvaluationRecord Record(int64_t seq, const std::string& hash, int64_t at,
                        const std::string& outcome) {
  EvaluationRecord r;
  r.snapshot_seq = seq;
  r.policy_hash = hash;
  r.evaluated_at = at;
  StoredResult pass{"a-pass", "A rule that passes", "low", "pass", "", {}};
  StoredResult other{"b-rule", "The rule under test", "high", outcome, "", {}};
  if (outcome == "fail") {
    other.items.push_back({"user:root", "uid 0", std::string("/etc/passwd"), int64_t{1}});
    other.items.push_back({"file:/etc/missing", "", std::nullopt, std::nullopt});
  } else if (outcome == "unknown") {
    other.message = "section accounts is not in the snapshot";
  }
  r.results = {pass, other};
  return r;
}

class StoreEvaluationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Host("/tidemark.db");
    auto s = SqliteStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  int64_t Put(const std::string& host, const std::string& id, const std::string& state,
              int64_t at) {
    std::string text;
    auto r = store_->PutSnapshot(Input(host, id, state, at, text));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto latest = store_->LatestState(host, std::nullopt);
    EXPECT_TRUE(latest.ok()) << latest.status().ToString();
    return latest.ok() ? latest->seq : -1;
  }

  std::vector<int64_t> Pending(const std::string& hash, int64_t after = 0) {
    auto p = store_->PendingEvaluations(hash, after, 100);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : std::vector<int64_t>{};
  }

  testing::TempRoot dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(StoreEvaluationsTest, PendingAreUnjudgedStatesAndEachHostsLatestUnderANewPolicy) {
  int64_t a1 = Put("a", "1", "x", 100);
  int64_t a2 = Put("a", "2", "y", 200);
  int64_t b1 = Put("b", "1", "x", 150);
  EXPECT_EQ(Pending("sha256:p1"), (std::vector<int64_t>{a1, a2, b1}));  // receive order
  EXPECT_EQ(Pending("sha256:p1", a2), (std::vector<int64_t>{b1}));      // after a watermark

  ASSERT_TRUE(store_
                  ->PutEvaluations({Record(a1, "sha256:p1", 300, "fail"),
                                    Record(a2, "sha256:p1", 300, "pass"),
                                    Record(b1, "sha256:p1", 300, "unknown")})
                  .ok());
  EXPECT_TRUE(Pending("sha256:p1").empty());
  // New policies: each host's latest state again, not the history.
  EXPECT_EQ(Pending("sha256:p2"), (std::vector<int64_t>{a2, b1}));
  // A seen record (same state again) needs nothing: it points at a judged state.
  std::string text;
  auto seen = store_->PutSnapshot(Input("a", "3", "y", 400, text));
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, PutResult::kSeen);
  EXPECT_TRUE(Pending("sha256:p1").empty());
  // The judgement survives a reopen.
  store_.reset();
  auto s = SqliteStore::Open(path_);
  ASSERT_TRUE(s.ok());
  store_ = std::move(*s);
  EXPECT_TRUE(Pending("sha256:p1").empty());
}

TEST_F(StoreEvaluationsTest, ResultsAndItemsRoundTripAndAPutIsIdempotent) {
  int64_t a1 = Put("a", "1", "x", 100);
  ASSERT_TRUE(store_->PutEvaluations({Record(a1, "sha256:p1", 300, "fail")}).ok());
  // Again under the same policy: kept as it was (not a second evaluation, not an error).
  ASSERT_TRUE(store_->PutEvaluations({Record(a1, "sha256:p1", 999, "pass")}).ok());
  auto e = store_->EvaluationOf(a1, std::nullopt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_TRUE(e->has_value());
  const EvaluationRecord& r = **e;
  EXPECT_EQ(r.evaluated_at, 300);
  EXPECT_EQ(r.policy_hash, "sha256:p1");
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.results[0].rule_id, "a-pass");
  EXPECT_EQ(r.results[1].outcome, "fail");
  EXPECT_EQ(r.results[1].severity, "high");
  ASSERT_EQ(r.results[1].items.size(), 2u);
  EXPECT_EQ(r.results[1].items[0].id, "user:root");
  EXPECT_EQ(r.results[1].items[0].detail, "uid 0");
  EXPECT_EQ(r.results[1].items[0].source_file, "/etc/passwd");
  EXPECT_EQ(r.results[1].items[0].source_line, 1);
  EXPECT_EQ(r.results[1].items[1].id, "file:/etc/missing");
  EXPECT_FALSE(r.results[1].items[1].source_file.has_value());
  EXPECT_FALSE(r.results[1].items[1].source_line.has_value());
}

TEST_F(StoreEvaluationsTest, TheEvaluationCurrentAtATime) {
  int64_t a1 = Put("a", "1", "x", 100);
  auto none = store_->EvaluationOf(a1, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // not judged yet
  ASSERT_TRUE(store_->PutEvaluations({Record(a1, "sha256:p1", 300, "fail")}).ok());
  ASSERT_TRUE(store_->PutEvaluations({Record(a1, "sha256:p2", 500, "pass")}).ok());
  auto outcome_at = [&](std::optional<int64_t> at) {
    auto e = store_->EvaluationOf(a1, at);
    EXPECT_TRUE(e.ok() && e->has_value());
    return e.ok() && e->has_value() ? (*e)->results[1].outcome : "";
  };
  EXPECT_EQ(outcome_at(std::nullopt), "pass");  // the latest
  EXPECT_EQ(outcome_at(499), "fail");           // the one current then
  EXPECT_EQ(outcome_at(600), "pass");
  EXPECT_EQ(outcome_at(200), "fail");  // all came later: the first one
}

TEST_F(StoreEvaluationsTest, AnUnknownStateIsRefusedAndNothingOfTheBatchIsStored) {
  int64_t a1 = Put("a", "1", "x", 100);
  Status s = store_->PutEvaluations(
      {Record(a1, "sha256:p1", 300, "fail"), Record(a1 + 99, "sha256:p1", 300, "fail")});
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  auto e = store_->EvaluationOf(a1, std::nullopt);
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_value());
  auto missing = store_->SnapshotBySeq(a1 + 99);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto body = store_->SnapshotBySeq(a1);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->host, "a");
  EXPECT_NE(body->body.find("\"users\""), std::string::npos);
  EXPECT_TRUE(store_->LatestState("a", std::nullopt)->body.empty());  // without the body
}

TEST_F(StoreEvaluationsTest, AVersionTwoStoreGetsTheEvaluationTables) {
  int64_t a1 = Put("a", "1", "x", 100);
  store_.reset();
  {
    // Back to what version 2 had: no evaluation tables (nor the baselines and reports of
    // versions 4 and 5).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* msg = nullptr;
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE result_items; DROP TABLE results; DROP TABLE evaluations; "
                           "DROP TABLE baselines; DROP TABLE reports; "
                           "UPDATE schema_version SET version = 2;",
                           nullptr, nullptr, &msg),
              SQLITE_OK)
        << msg;
    sqlite3_close(db);
  }
  auto s = SqliteStore::Open(path_);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  store_ = std::move(*s);
  EXPECT_EQ(Pending("sha256:p1"), (std::vector<int64_t>{a1}));  // kept, and to be judged
  ASSERT_TRUE(store_->PutEvaluations({Record(a1, "sha256:p1", 300, "fail")}).ok());
  // On through version 4: baselines can be approved.
  BaselineApproval approval{"a", a1, "Jane Roe", "cut-over done", 400, "", 0};
  ASSERT_TRUE(store_->ApproveBaseline(approval).ok());
  auto problems = store_->IntegrityCheck(false);
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty());
}

TEST_F(StoreEvaluationsTest, BaselineApprovalsAreKeptAndTheLatestAtATimeCounts) {
  int64_t a1 = Put("a", "1", "x", 100);
  int64_t a2 = Put("a", "2", "y", 200);
  int64_t b1 = Put("b", "1", "x", 100);
  auto none = store_->ApprovedBaseline("a", std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  ASSERT_TRUE(store_->ApproveBaseline({"a", a1, "Jane Roe", "first", 150, "", 0}).ok());
  ASSERT_TRUE(
      store_->ApproveBaseline({"a", a2, "John Doe", "after the cut-over", 250, "", 0}).ok());
  // Another host's state is not this host's baseline; an unknown state neither.
  EXPECT_EQ(store_->ApproveBaseline({"a", b1, "x", "y", 260, "", 0}).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ApproveBaseline({"a", 999, "x", "y", 260, "", 0}).code(),
            StatusCode::kNotFound);
  auto latest = store_->ApprovedBaseline("a", std::nullopt);
  ASSERT_TRUE(latest.ok() && *latest);
  EXPECT_EQ((*latest)->snapshot_seq, a2);
  EXPECT_EQ((*latest)->snapshot_id, "2");
  EXPECT_EQ((*latest)->snapshot_received_at, 200);
  EXPECT_EQ((*latest)->approved_by, "John Doe");
  EXPECT_EQ((*latest)->note, "after the cut-over");
  auto earlier = store_->ApprovedBaseline("a", 200);
  ASSERT_TRUE(earlier.ok() && *earlier);
  EXPECT_EQ((*earlier)->snapshot_seq, a1);
  EXPECT_FALSE(*store_->ApprovedBaseline("a", 100));
  EXPECT_FALSE(*store_->ApprovedBaseline("b", std::nullopt));
}

TEST_F(StoreEvaluationsTest, ReportRunsAreKeptWithTheirDocument) {
  auto none = store_->LatestReport(std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  std::string big(100000, 'x');  // compressed in the store, whole when read
  ASSERT_TRUE(
      store_->PutReport({100, "{\"o\":1}", "{\"s\":1}", "{\"first\":\"" + big + "\"}"}).ok());
  ASSERT_TRUE(store_->PutReport({200, "{}", "{}", "{\"second\":true}"}).ok());
  auto latest = store_->LatestReport(std::nullopt);
  ASSERT_TRUE(latest.ok() && *latest);
  EXPECT_EQ((*latest)->generated_at, 200);
  EXPECT_EQ((*latest)->document, "{\"second\":true}");
  auto before = store_->LatestReport(200);  // strictly before
  ASSERT_TRUE(before.ok() && *before);
  EXPECT_EQ((*before)->generated_at, 100);
  EXPECT_EQ((*before)->options, "{\"o\":1}");
  EXPECT_EQ((*before)->document.size(), big.size() + 12);
  EXPECT_FALSE(*store_->LatestReport(100));
  ASSERT_TRUE(store_->PutReport({150, "{}", "{\"s\":2}", "{}"}).ok());
  auto window = store_->ReportSummaries(100, 200);  // [from, to), oldest first
  ASSERT_TRUE(window.ok()) << window.status().message();
  ASSERT_EQ(window->size(), 2u);
  EXPECT_EQ((*window)[0].generated_at, 100);
  EXPECT_EQ((*window)[0].summary, "{\"s\":1}");
  EXPECT_TRUE((*window)[0].document.empty());
  EXPECT_EQ((*window)[1].generated_at, 150);
  EXPECT_TRUE(store_->ReportSummaries(201, 300)->empty());
}

// The collector opens the store twice (store thread and evaluator). Opening the second one
// must not release the first one's locks (closing any descriptor of the file does, POSIX):
// another process closing its connection (tidemarkctl) would then take itself for the last
// one and delete the live WAL, and what the collector commits next would be invisible to
// everyone else, and lost at its close.
TEST_F(StoreEvaluationsTest, ASecondConnectionInTheProcessKeepsTheWalAlive) {
  TIDEMARK_REQUIRE(testing::HaveProgram("sqlite3"), "sqlite3 CLI not installed");
  Put("a", "1", "x", 100);
  SqliteStore::Options no_create;
  no_create.create = false;
  auto second = SqliteStore::Open(path_, no_create);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto sql = [&](const std::string& q) {
    std::string out, err;
    int rc = testing::RunCommand("sqlite3 '" + path_ + "' \"" + q + "\"", &out, &err);
    EXPECT_EQ(rc, 0) << err;
    return out;
  };
  EXPECT_EQ(sql("SELECT count(*) FROM hosts"), "1\n");  // another process opens and closes
  Put("a", "2", "y", 200);
  EXPECT_EQ(sql("SELECT id FROM snapshots ORDER BY seq DESC LIMIT 1"), "2\n");
  auto latest = (*second)->LatestState("a", std::nullopt);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->id, "2");
}

}  // namespace
}  // namespace tidemark
