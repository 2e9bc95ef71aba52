// SqliteStore's private parts, shared by its implementation files: sqlite_store.cpp (hosts,
// snapshots, seen records, retention) and sqlite_evaluations.cpp (the evaluations of stored
// states). Not for use outside SqliteStore.
#pragma once

#include <sqlite3.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "collector/sqlite_store.h"

namespace tidemark {
namespace sqlite_store_internal {

// The largest snapshot body stored (under SQLite's default 1e9-byte blob limit), and read back
// (a corrupted size field must not make us allocate without bound).
inline constexpr int64_t kMaxBodyBytes = 512 * 1024 * 1024;

// A cached prepared statement, reset and unbound when the holder goes out of scope.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int i) { sqlite3_bind_null(s_, i); }
  void Bind(int i, const std::optional<std::string>& v) {
    if (v) {
      Bind(i, std::string_view(*v));
    } else {
      BindNull(i);
    }
  }
  void Bind(int i, std::optional<int64_t> v) {
    if (v) {
      Bind(i, *v);
    } else {
      BindNull(i);
    }
  }
  int Step() { return sqlite3_step(s_); }
  std::string Text(int i) {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }
  std::optional<std::string> OptText(int i) {
    if (sqlite3_column_type(s_, i) == SQLITE_NULL) return std::nullopt;
    return Text(i);
  }
  int64_t Int(int i) { return sqlite3_column_int64(s_, i); }
  std::optional<int64_t> OptInt(int i) {
    if (sqlite3_column_type(s_, i) == SQLITE_NULL) return std::nullopt;
    return Int(i);
  }
  std::string_view Blob(int i) {
    const void* b = sqlite3_column_blob(s_, i);
    return b ? std::string_view(static_cast<const char*>(b),
                                static_cast<size_t>(sqlite3_column_bytes(s_, i)))
             : std::string_view();
  }

 private:
  sqlite3_stmt* s_;
};

inline std::optional<int64_t> ParseOptionalTime(const std::string& text) {
  auto t = ParseRfc3339(text);
  if (!t.ok()) return std::nullopt;
  return *t;
}

}  // namespace sqlite_store_internal

struct SqliteStore::Impl {
  using Stmt = sqlite_store_internal::Stmt;

  std::string path;
  sqlite3* db = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements;
  // Set (and never cleared) when SQLite reported SQLITE_CORRUPT or SQLITE_NOTADB.
  bool corrupt = false;

  ~Impl() {
    for (auto& [sql, s] : statements) sqlite3_finalize(s);
    if (db) sqlite3_close_v2(db);
  }

  // Records a corruption code (sticky: see SnapshotStore::Corrupt()).
  void NoteCode(int code) {
    code &= 0xff;
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) corrupt = true;
  }

  Status Error(std::string_view what) {
    if (!db) return {StatusCode::kIoError, path + ": " + std::string(what) + ": no connection"};
    int code = sqlite3_errcode(db) & 0xff;
    NoteCode(code);
    std::string hint = (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
                           ? " (the database file is corrupted; restore it from a backup)"
                           : "";
    return {StatusCode::kIoError,
            path + ": " + std::string(what) + ": " + sqlite3_errmsg(db) + hint};
  }

  Status Exec(const char* sql) {
    char* msg = nullptr;
    if (int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg); rc != SQLITE_OK) {
      NoteCode(rc);
      NoteCode(sqlite3_errcode(db));
      std::string m = msg ? msg : "unknown error";
      sqlite3_free(msg);
      return {StatusCode::kIoError, path + ": " + m};
    }
    return Status::Ok();
  }

  // Returns the cached statement for `sql`, preparing it once.
  StatusOr<sqlite3_stmt*> Prepare(std::string_view sql) {
    auto it = statements.find(sql);
    if (it != statements.end()) return it->second;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &s, nullptr) != SQLITE_OK) {
      return Error("prepare");
    }
    statements.emplace(std::string(sql), s);
    return s;
  }

  // Is the host's id already stored, as a snapshot or as a seen record? Ids are scoped per host:
  // another host may use the same id.
  StatusOr<bool> IdKnown(const std::string& host, const std::string& id) {
    auto p = Prepare(
        "SELECT 1 FROM snapshots WHERE host = ?1 AND id = ?2 UNION ALL "
        "SELECT 1 FROM seen WHERE host = ?1 AND id = ?2");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    s.Bind(2, std::string_view(id));
    int rc = s.Step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error("look up snapshot id");
  }

  // Creates the host or moves its last-seen time forward.
  Status TouchHost(const std::string& host, const std::string& agent_version, int64_t at) {
    auto p = Prepare(
        "INSERT INTO hosts (id, first_seen, first_seen_text, last_seen, last_seen_text, "
        "agent_version) VALUES (?1, ?2, ?3, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET "
        "last_seen = max(last_seen, excluded.last_seen), "
        "last_seen_text = CASE WHEN excluded.last_seen > last_seen THEN excluded.last_seen_text "
        "ELSE last_seen_text END, "
        "agent_version = CASE WHEN excluded.agent_version <> '' THEN excluded.agent_version "
        "ELSE agent_version END");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    s.Bind(2, at);
    s.Bind(3, std::string_view(FormatRfc3339(at)));
    s.Bind(4, std::string_view(agent_version));
    if (s.Step() != SQLITE_DONE) return Error("record host");
    return Status::Ok();
  }

  // Returns the seq and content hash of the host's most recently received snapshot.
  StatusOr<std::optional<std::pair<int64_t, std::string>>> LatestHash(const std::string& host) {
    auto p = Prepare(
        "SELECT seq, content_hash FROM snapshots WHERE host = ?1 ORDER BY seq DESC "
        "LIMIT 1");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      return std::optional<std::pair<int64_t, std::string>>(std::pair(s.Int(0), s.Text(1)));
    }
    if (rc == SQLITE_DONE) return std::optional<std::pair<int64_t, std::string>>();
    return Error("read latest snapshot");
  }

  StatusOr<bool> HostExists(const std::string& host) {
    auto p = Prepare("SELECT 1 FROM hosts WHERE id = ?1");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    int rc = s.Step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error("read host");
  }

  // The receive sequence shared by snapshots and seen records (history order).
  StatusOr<int64_t> NextSeq() {
    auto p = Prepare(
        "SELECT max(coalesce((SELECT max(seq) FROM snapshots), 0), "
        "coalesce((SELECT max(seq) FROM seen), 0)) + 1");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    if (s.Step() != SQLITE_ROW) return Error("next sequence");
    return s.Int(0);
  }

  Status InsertSeen(int64_t seq, const std::string& id, const std::string& host,
                    int64_t snapshot_seq, int64_t received_at, const std::string& collected_at,
                    const std::string& content_hash,
                    const std::optional<std::string>& imported_by) {
    auto p = Prepare(
        "INSERT INTO seen (seq, id, host, snapshot_seq, received_at, received_at_text, "
        "collected_at, collected_at_s, content_hash, imported_by) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, seq);
    s.Bind(2, std::string_view(id));
    s.Bind(3, std::string_view(host));
    s.Bind(4, snapshot_seq);
    s.Bind(5, received_at);
    s.Bind(6, std::string_view(FormatRfc3339(received_at)));
    s.Bind(7, std::string_view(collected_at));
    s.Bind(8, sqlite_store_internal::ParseOptionalTime(collected_at));
    s.Bind(9, std::string_view(content_hash));
    s.Bind(10, imported_by);
    if (s.Step() != SQLITE_DONE) return Error("record seen");
    return Status::Ok();
  }

  // Rebuilds the snapshots and seen tables of a version 1 store as version 2 (ids unique per
  // host). Foreign keys are off around the transaction, as SQLite's procedure requires, and
  // checked before the commit. Another process may have migrated first: the version is read
  // again inside the transaction.
  Status MigrateFromV1();  // defined in sqlite_store.cpp
  // The steps of Open after the file checks (sqlite_store.cpp): journal mode and sync, then
  // the schema, created or moved to this build's version.
  Status UseWal();
  Status CreateOrUpgradeSchema(bool create);
  Status Upgrade();
  // Adds the tables of `sql` to a store of schema `from_version` and moves it one version on.
  Status AddTables(int64_t from_version, const char* sql);
  // Reads a snapshots row selected with kSnapshotColumns (sqlite_store.cpp).
  StatusOr<StoredSnapshot> ReadSnapshotRow(Stmt& s, bool with_body, bool has_confirmed);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it fails.
  template <typename T, typename F>
  StatusOr<T> InTransaction(F body) {
    if (Status st = Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
    std::optional<StatusOr<T>> holder;
    try {
      holder.emplace(body());
    } catch (...) {
      // std::bad_alloc (a large body) or a library exception: never leave the transaction
      // open for the next caller.
      Exec("ROLLBACK");
      throw;
    }
    StatusOr<T> result = std::move(*holder);
    if (!result.ok()) {
      Exec("ROLLBACK");
      return result;
    }
    if (Status st = Exec("COMMIT"); !st.ok()) {
      Exec("ROLLBACK");
      return st;
    }
    return result;
  }

  // A group commit (PutBatch, RecordSeenBatch, UpsertHostBatch): `one` for each input in its own
  // savepoint inside one transaction, so one that fails leaves the others; an input `check`
  // refuses gets that error without touching the database. Fails as a whole only when the
  // transaction does, and then nothing of the batch is stored.
  template <typename R, typename In, typename Check, typename One>
  StatusOr<std::vector<StatusOr<R>>> InBatch(const std::vector<In>& inputs, Check check, One one) {
    return InTransaction<std::vector<StatusOr<R>>>([&]() -> StatusOr<std::vector<StatusOr<R>>> {
      std::vector<StatusOr<R>> results;
      results.reserve(inputs.size());
      for (const In& in : inputs) {
        if (Status st = check(in); !st.ok()) {
          results.emplace_back(st);
          continue;
        }
        if (Status st = Exec("SAVEPOINT item"); !st.ok()) return st;
        StatusOr<R> r = one(in);
        if (!r.ok()) {
          if (Status st = Exec("ROLLBACK TO item"); !st.ok()) return st;
        }
        if (Status st = Exec("RELEASE item"); !st.ok()) return st;
        results.push_back(std::move(r));
      }
      return results;
    });
  }
};

}  // namespace tidemark
