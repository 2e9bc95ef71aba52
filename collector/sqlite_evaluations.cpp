// SqliteStore: the evaluations of stored states (store.h, docs/store.md "Evaluations").
#include <sqlite3.h>

#include <limits>

#include "collector/sqlite_store.h"
#include "collector/sqlite_store_impl.h"

namespace tidemark {

using sqlite_store_internal::Stmt;

StatusOr<std::vector<int64_t>> SqliteStore::PendingEvaluations(const std::string& policy_hash,
                                                               int64_t after_seq, int limit) {
  Impl& d = *impl_;
  // Never evaluated, or the host's latest state not evaluated under this policy.
  auto p = d.Prepare(
      "SELECT s.seq FROM snapshots s WHERE s.seq > ?1 AND ("
      "NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.snapshot_seq = s.seq) OR "
      "(s.seq = (SELECT max(t.seq) FROM snapshots t WHERE t.host = s.host) AND "
      "NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.snapshot_seq = s.seq AND "
      "e.policy_hash = ?2))) ORDER BY s.seq LIMIT ?3");
  if (!p.ok()) return p.status();
  Stmt s(*p);
  s.Bind(1, after_seq);
  s.Bind(2, std::string_view(policy_hash));
  s.Bind(3, static_cast<int64_t>(limit));
  std::vector<int64_t> seqs;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) seqs.push_back(s.Int(0));
  if (rc != SQLITE_DONE) return d.Error("list states to evaluate");
  return seqs;
}

OutcomeCounts CountOutcomes(const EvaluationRecord& record) {
  OutcomeCounts c;
  for (const StoredResult& x : record.results) {
    c.pass += x.outcome == "pass" ? 1 : 0;
    c.fail += x.outcome == "fail" ? 1 : 0;
    c.unknown += x.outcome == "unknown" ? 1 : 0;
    c.error += x.outcome == "error" ? 1 : 0;
  }
  return c;
}

Status SqliteStore::PutEvaluations(const std::vector<EvaluationRecord>& records) {
  Impl& d = *impl_;
  auto done = d.InTransaction<bool>([&]() -> StatusOr<bool> {
    for (const EvaluationRecord& r : records) {
      {
        auto p = d.Prepare("SELECT 1 FROM snapshots WHERE seq = ?1");
        if (!p.ok()) return p.status();
        Stmt s(*p);
        s.Bind(1, r.snapshot_seq);
        int rc = s.Step();
        if (rc == SQLITE_DONE) {
          return Status(StatusCode::kNotFound,
                        "no stored snapshot with sequence " + std::to_string(r.snapshot_seq));
        }
        if (rc != SQLITE_ROW) return d.Error("look up snapshot");
      }
      int64_t seq = 0;
      {
        auto p = d.Prepare(
            "INSERT INTO evaluations (snapshot_seq, policy_hash, evaluated_at, "
            "evaluated_at_text, passed, failed, unknown, errors) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
            "?7, ?8) ON CONFLICT (snapshot_seq, policy_hash) DO NOTHING RETURNING seq");
        if (!p.ok()) return p.status();
        Stmt s(*p);
        s.Bind(1, r.snapshot_seq);
        s.Bind(2, std::string_view(r.policy_hash));
        s.Bind(3, r.evaluated_at);
        s.Bind(4, std::string_view(FormatRfc3339(r.evaluated_at)));
        OutcomeCounts counts = CountOutcomes(r);
        s.Bind(5, counts.pass);
        s.Bind(6, counts.fail);
        s.Bind(7, counts.unknown);
        s.Bind(8, counts.error);
        int rc = s.Step();
        if (rc == SQLITE_DONE) continue;  // already evaluated under this policy: kept
        if (rc != SQLITE_ROW) return d.Error("store evaluation");
        seq = s.Int(0);
        if (s.Step() != SQLITE_DONE) return d.Error("store evaluation");
      }
      for (const StoredResult& x : r.results) {
        auto p = d.Prepare(
            "INSERT INTO results (evaluation_seq, rule_id, title, severity, outcome, message) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        if (!p.ok()) return p.status();
        Stmt s(*p);
        s.Bind(1, seq);
        s.Bind(2, std::string_view(x.rule_id));
        s.Bind(3, std::string_view(x.title));
        s.Bind(4, std::string_view(x.severity));
        s.Bind(5, std::string_view(x.outcome));
        s.Bind(6, std::string_view(x.message));
        if (s.Step() != SQLITE_DONE) return d.Error("store result of " + x.rule_id);
        int64_t n = 0;
        for (const StoredItem& item : x.items) {
          auto q = d.Prepare(
              "INSERT INTO result_items (evaluation_seq, rule_id, n, item_id, detail, "
              "source_file, source_line) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
          if (!q.ok()) return q.status();
          Stmt t(*q);
          t.Bind(1, seq);
          t.Bind(2, std::string_view(x.rule_id));
          t.Bind(3, n++);
          t.Bind(4, std::string_view(item.id));
          t.Bind(5, std::string_view(item.detail));
          t.Bind(6, item.source_file);
          t.Bind(7, item.source_line);
          if (t.Step() != SQLITE_DONE) return d.Error("store finding of " + x.rule_id);
        }
      }
    }
    return true;
  });
  return done.status();
}

StatusOr<std::optional<EvaluationRecord>> SqliteStore::EvaluationOf(int64_t snapshot_seq,
                                                                    std::optional<int64_t> at) {
  Impl& d = *impl_;
  EvaluationRecord out;
  int64_t seq = 0;
  {
    // The latest evaluated at or before `at`; failing that, the first one after it.
    auto p = d.Prepare(
        "SELECT seq, policy_hash, evaluated_at FROM evaluations WHERE snapshot_seq = ?1 "
        "ORDER BY (evaluated_at <= ?2) DESC, "
        "CASE WHEN evaluated_at <= ?2 THEN -evaluated_at ELSE evaluated_at END, "
        "CASE WHEN evaluated_at <= ?2 THEN -seq ELSE seq END LIMIT 1");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, snapshot_seq);
    s.Bind(2, at.value_or(std::numeric_limits<int64_t>::max()));
    int rc = s.Step();
    if (rc == SQLITE_DONE) return std::optional<EvaluationRecord>();
    if (rc != SQLITE_ROW) return d.Error("read evaluation");
    seq = s.Int(0);
    out.snapshot_seq = snapshot_seq;
    out.policy_hash = s.Text(1);
    out.evaluated_at = s.Int(2);
  }
  {
    auto p = d.Prepare(
        "SELECT rule_id, title, severity, outcome, message FROM results WHERE "
        "evaluation_seq = ?1 ORDER BY rule_id");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, seq);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      StoredResult r;
      r.rule_id = s.Text(0);
      r.title = s.Text(1);
      r.severity = s.Text(2);
      r.outcome = s.Text(3);
      r.message = s.Text(4);
      out.results.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return d.Error("read results");
  }
  {
    auto p = d.Prepare(
        "SELECT rule_id, item_id, detail, source_file, source_line FROM result_items WHERE "
        "evaluation_seq = ?1 ORDER BY rule_id, n");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, seq);
    size_t r = 0;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      std::string rule = s.Text(0);
      // Both lists are in rule id order: walk them together.
      while (r < out.results.size() && out.results[r].rule_id < rule) ++r;
      if (r == out.results.size() || out.results[r].rule_id != rule) {
        return Status(StatusCode::kIoError, d.path + ": evaluation " + std::to_string(seq) +
                                                " has a finding of rule " + rule +
                                                " without its result");
      }
      StoredItem item;
      item.id = s.Text(1);
      item.detail = s.Text(2);
      item.source_file = s.OptText(3);
      item.source_line = s.OptInt(4);
      out.results[r].items.push_back(std::move(item));
    }
    if (rc != SQLITE_DONE) return d.Error("read findings");
  }
  return std::optional<EvaluationRecord>(std::move(out));
}

}  // namespace tidemark
