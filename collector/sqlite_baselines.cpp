// SqliteStore: the approved baselines (store.h, docs/store.md "Baselines").
#include <sqlite3.h>

#include <limits>

#include "collector/sqlite_store.h"
#include "collector/sqlite_store_impl.h"

namespace tidemark {

using sqlite_store_internal::Stmt;

Status SqliteStore::ApproveBaseline(const BaselineApproval& a) {
  Impl& d = *impl_;
  auto done = d.InTransaction<bool>([&]() -> StatusOr<bool> {
    {
      auto p = d.Prepare("SELECT host FROM snapshots WHERE seq = ?1");
      if (!p.ok()) return p.status();
      Stmt s(*p);
      s.Bind(1, a.snapshot_seq);
      int rc = s.Step();
      if (rc == SQLITE_DONE || (rc == SQLITE_ROW && s.Text(0) != a.host)) {
        return Status(StatusCode::kNotFound,
                      "host " + a.host + " has no stored state " + std::to_string(a.snapshot_seq));
      }
      if (rc != SQLITE_ROW) return d.Error("look up snapshot");
    }
    auto p = d.Prepare(
        "INSERT INTO baselines (host, snapshot_seq, approved_by, note, approved_at, "
        "approved_at_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(a.host));
    s.Bind(2, a.snapshot_seq);
    s.Bind(3, std::string_view(a.approved_by));
    s.Bind(4, std::string_view(a.note));
    s.Bind(5, a.approved_at);
    s.Bind(6, std::string_view(FormatRfc3339(a.approved_at)));
    if (s.Step() != SQLITE_DONE) return d.Error("approve baseline");
    return true;
  });
  return done.status();
}

StatusOr<std::optional<BaselineApproval>> SqliteStore::ApprovedBaseline(const std::string& host,
                                                                        std::optional<int64_t> at) {
  Impl& d = *impl_;
  auto p = d.Prepare(
      "SELECT b.snapshot_seq, b.approved_by, b.note, b.approved_at, s.id, s.received_at "
      "FROM baselines b JOIN snapshots s ON s.seq = b.snapshot_seq WHERE b.host = ?1 AND "
      "b.approved_at <= ?2 ORDER BY b.approved_at DESC, b.seq DESC LIMIT 1");
  if (!p.ok()) return p.status();
  Stmt s(*p);
  s.Bind(1, std::string_view(host));
  s.Bind(2, at.value_or(std::numeric_limits<int64_t>::max()));
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<BaselineApproval>();
  if (rc != SQLITE_ROW) return d.Error("read baseline");
  BaselineApproval a;
  a.host = host;
  a.snapshot_seq = s.Int(0);
  a.approved_by = s.Text(1);
  a.note = s.Text(2);
  a.approved_at = s.Int(3);
  a.snapshot_id = s.Text(4);
  a.snapshot_received_at = s.Int(5);
  return std::optional<BaselineApproval>(std::move(a));
}

}  // namespace tidemark
