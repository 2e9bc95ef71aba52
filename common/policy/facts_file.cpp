// fact_db.h, "The facts file": each host's latest judged state's fact tables on disk.
//
// Layout (docs/store.md "Facts"): `facts_layout(hash)` — a hash of the table definitions, so
// that a file written by another version is emptied (writer) or not used (reader);
// `states(host PRIMARY KEY, seq)` (each host's latest judged state), `kept(host PRIMARY KEY,
// seq)` (its approved baseline's state, kept while the latest moves on, for drift since it);
// and per queryable table T a table `f_T(seq, columns of T)`
// with an index on seq. The writer copies the loaded in-memory tables into it with
// INSERT ... SELECT (no row passes through C++); a reader sees each table as a TEMP view of the
// state chosen, so that the user's SQL runs unchanged, per host, with an index look-up.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/policy/fact_db.h"
#include "common/policy/tables.h"
#include "common/sha256.h"

namespace tidemark::policy {
namespace {

std::string LayoutHash() {
  // Version 2: kept(host, seq), each host's approved baseline state kept beside its latest.
  std::string text = "states(host,seq);kept(host,seq);";
  for (const auto& [table, columns] : QueryableTables()) {
    text += table + "(";
    for (const auto& [name, type] : columns) text += name + " " + type + ",";
    text += ");";
  }
  return Sha256Hex(text);
}

std::string FactTable(const std::string& table) { return QuoteIdentifier("f_" + table); }

// Creates `path` with mode 0600 when it does not exist; an existing file is checked by lstat
// only (never opened here: closing a descriptor would drop this process's SQLite locks).
Status EnsureFile(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return IoError(path, errno);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      return {StatusCode::kIoError, path + ": cannot create: " + std::strerror(errno)};
    }
    if (fd >= 0) ::close(fd);
    if (::lstat(path.c_str(), &st) != 0) return {StatusCode::kIoError, path + ": cannot stat"};
  }
  if (!S_ISREG(st.st_mode)) return {StatusCode::kWrongType, path + ": not a regular file"};
  if ((st.st_mode & 077) != 0) {
    return {StatusCode::kPermissionDenied,
            path + ": other users may read or write it; refused (chmod 600 it)"};
  }
  return Status::Ok();
}

// host -> seq from `sql` (a SELECT of host, seq).
StatusOr<std::map<std::string, int64_t>> HostStates(sqlite3* db, const char* sql) {
  sqlite3_stmt* q = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &q, nullptr) != SQLITE_OK) {
    return Status{StatusCode::kIoError, std::string("facts: ") + sqlite3_errmsg(db)};
  }
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(q, &sqlite3_finalize);
  std::map<std::string, int64_t> out;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    out[reinterpret_cast<const char*>(sqlite3_column_text(q, 0))] = sqlite3_column_int64(q, 1);
  }
  if (rc != SQLITE_DONE) {
    return Status{StatusCode::kIoError, std::string("facts: ") + sqlite3_errmsg(db)};
  }
  return out;
}

}  // namespace

Status FactDb::AttachFacts(const std::string& path) {
  if (Status s = EnsureFile(path); !s.ok()) return s;
  sqlite3_limit(db_, SQLITE_LIMIT_ATTACHED, 1);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, "ATTACH DATABASE ? AS facts", -1, &raw, nullptr) != SQLITE_OK) {
    return {StatusCode::kInternal, std::string("facts: ") + sqlite3_errmsg(db_)};
  }
  PreparedStmt attach(raw);
  sqlite3_bind_text(raw, 1, path.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(raw) != SQLITE_DONE) {
    return {StatusCode::kIoError, path + ": cannot attach: " + sqlite3_errmsg(db_)};
  }
  attach.reset();
  // A cache of what the store holds: WAL so that readers never block the evaluator;
  // synchronous=NORMAL, since a lost commit is only a state read the slow way.
  if (Status s = Exec("PRAGMA facts.journal_mode=WAL; PRAGMA facts.synchronous=NORMAL;"); !s.ok()) {
    return s;
  }
  std::string hash = LayoutHash();
  std::string current;
  {
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "SELECT hash FROM facts.facts_layout WHERE "
                           "(SELECT count(*) FROM facts.sqlite_master WHERE name = "
                           "'facts_layout') > 0",
                           -1, &q, nullptr) == SQLITE_OK) {
      PreparedStmt stmt(q);
      if (sqlite3_step(q) == SQLITE_ROW) {
        current = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
      }
    }
  }
  if (current == hash) return Status::Ok();
  // New, or written by another version: start empty with this layout.
  std::string ddl = "BEGIN;";
  {
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "SELECT name FROM facts.sqlite_master WHERE type = 'table' AND name NOT "
                           "LIKE 'sqlite\\_%' ESCAPE '\\'",
                           -1, &q, nullptr) != SQLITE_OK) {
      return {StatusCode::kIoError, path + ": " + sqlite3_errmsg(db_)};
    }
    PreparedStmt stmt(q);
    while (sqlite3_step(q) == SQLITE_ROW) {
      ddl += "DROP TABLE facts." +
             QuoteIdentifier(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) + ";";
    }
  }
  ddl +=
      "CREATE TABLE facts.facts_layout(hash TEXT NOT NULL);"
      "CREATE TABLE facts.states(host TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
      "CREATE TABLE facts.kept(host TEXT PRIMARY KEY, seq INTEGER NOT NULL);";
  for (const auto& [table, columns] : QueryableTables()) {
    ddl += "CREATE TABLE facts." + FactTable(table) + "(seq INTEGER NOT NULL";
    for (const auto& [name, type] : columns) ddl += ", " + QuoteIdentifier(name) + " " + type;
    ddl += "); CREATE INDEX facts." + QuoteIdentifier("f_" + table + "_seq") + " ON " +
           FactTable(table) + "(seq);";
  }
  ddl += "INSERT INTO facts.facts_layout VALUES ('" + hash + "'); COMMIT;";
  if (Status s = Exec(ddl); !s.ok()) {
    Exec("ROLLBACK");
    return s;
  }
  return Status::Ok();
}

Status FactDb::SaveFacts(const std::string& host, int64_t seq, std::optional<int64_t> keep) {
  auto failed = [&](const std::string& what) {
    std::string message = "facts: " + what + ": " + sqlite3_errmsg(db_);
    Exec("ROLLBACK");
    return Status{StatusCode::kIoError, message};
  };
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  // The state held as the host's latest, and the one kept as its approved baseline.
  auto held = [&](const std::string& table, int64_t* out) {
    sqlite3_stmt* q = Internal("SELECT seq FROM facts." + table + " WHERE host = ?");
    if (q == nullptr) return false;
    sqlite3_bind_text(q, 1, host.c_str(), -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_reset(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
  };
  int64_t old_seq = -1;
  int64_t kept_seq = -1;
  if (!held("states", &old_seq) || !held("kept", &kept_seq)) return failed("read states");
  if (old_seq > seq) return Exec("ROLLBACK");  // a newer state's facts are there: keep them
  // Rows to remove: this state's (written again), and the older ones that are no longer the
  // latest nor the approved baseline.
  std::vector<int64_t> drop = {seq};
  for (int64_t old : {old_seq, kept_seq}) {
    if (old >= 0 && old != seq && (!keep || old != *keep) &&
        std::find(drop.begin(), drop.end(), old) == drop.end()) {
      drop.push_back(old);
    }
  }
  for (const auto& [table, columns] : QueryableTables()) {
    for (int64_t d : drop) {
      sqlite3_stmt* del = Internal("DELETE FROM facts." + FactTable(table) + " WHERE seq = ?");
      if (del == nullptr) return failed("prepare");
      sqlite3_bind_int64(del, 1, d);
      if (sqlite3_step(del) != SQLITE_DONE) return failed("delete " + table);
      sqlite3_reset(del);
    }
    sqlite3_stmt* copy = Internal("INSERT INTO facts." + FactTable(table) +
                                  " SELECT ?, * FROM main." + QuoteIdentifier(table));
    if (copy == nullptr) return failed("prepare");
    sqlite3_bind_int64(copy, 1, seq);
    if (sqlite3_step(copy) != SQLITE_DONE) return failed("copy " + table);
  }
  sqlite3_stmt* put = Internal("INSERT OR REPLACE INTO facts.states(host, seq) VALUES (?, ?)");
  if (put == nullptr) return failed("prepare");
  sqlite3_bind_text(put, 1, host.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(put, 2, seq);
  if (sqlite3_step(put) != SQLITE_DONE) return failed("record state");
  sqlite3_reset(put);
  // The approved baseline stays kept while its rows are here (it is this state, the latest
  // before it, or the one kept already); one approved after its rows left is read the slow way.
  const bool keeping = keep && (*keep == seq || *keep == old_seq || *keep == kept_seq);
  sqlite3_stmt* mark =
      Internal(keeping ? "INSERT OR REPLACE INTO facts.kept(host, seq) VALUES (?, ?)"
                       : "DELETE FROM facts.kept WHERE host = ?");
  if (mark == nullptr) return failed("prepare");
  sqlite3_bind_text(mark, 1, host.c_str(), -1, SQLITE_TRANSIENT);
  if (keeping) sqlite3_bind_int64(mark, 2, *keep);
  if (sqlite3_step(mark) != SQLITE_DONE) return failed("record the kept state");
  sqlite3_reset(mark);
  return Exec("COMMIT");
}

StatusOr<std::unique_ptr<FactDb>> FactDb::OpenFacts(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Status{StatusCode::kNotFound, path + ": no facts"};
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<FactDb> db(new FactDb(raw));  // one thread at a time, as every FactDb
  if (rc != SQLITE_OK) return Status{StatusCode::kIoError, path + ": cannot open"};
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_limit(raw, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(raw, SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024);
  {
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(raw, "SELECT hash FROM facts_layout", -1, &q, nullptr) != SQLITE_OK) {
      return Status{StatusCode::kInvalidArgument, path + ": not a facts file"};
    }
    PreparedStmt stmt(q);
    if (sqlite3_step(q) != SQLITE_ROW ||
        reinterpret_cast<const char*>(sqlite3_column_text(q, 0)) != LayoutHash()) {
      return Status{StatusCode::kInvalidArgument,
                    path + ": facts written with other table definitions"};
    }
  }
  std::string ddl =
      "CREATE TEMP TABLE current_state(seq INTEGER); "
      "INSERT INTO temp.current_state VALUES (NULL);";
  for (const auto& [table, columns] : QueryableTables()) {
    ddl += "CREATE TEMP VIEW " + QuoteIdentifier(table) + " AS SELECT ";
    for (size_t i = 0; i < columns.size(); ++i) {
      ddl += (i == 0 ? "" : ", ") + QuoteIdentifier(columns[i].first);
    }
    ddl += " FROM main." + FactTable(table) + " WHERE seq = (SELECT seq FROM temp.current_state);";
  }
  if (Status s = db->Exec(ddl); !s.ok()) return s;
  db->views_only_ = true;
  // As Open: the first use of json_each touches the schema, which the authorizer refuses.
  if (Status s = db->Exec("SELECT * FROM json_each('[]'), json_tree('[]')"); !s.ok()) return s;
  // One read transaction from here until the FactDb is closed (which ends it): the file as of
  // one moment, so that FactStates and the rows SelectState shows agree while the collector's
  // evaluator replaces states (a state listed and then replaced would read as empty tables), and
  // a command over a fleet takes the file's locks once instead of at every statement (WAL: the
  // writer goes on; a checkpoint waits for the end).
  if (Status s = db->Exec("BEGIN; SELECT count(*) FROM main.states;"); !s.ok()) return s;
  return db;
}

StatusOr<std::map<std::string, int64_t>> FactDb::FactStates() const {
  return HostStates(db_, "SELECT host, seq FROM main.states");
}

StatusOr<std::map<std::string, int64_t>> FactDb::KeptStates() const {
  return HostStates(db_, "SELECT host, seq FROM main.kept");
}

Status FactDb::SelectState(int64_t seq) {
  sqlite3_stmt* stmt = Internal("UPDATE temp.current_state SET seq = ?");
  if (stmt == nullptr) return {StatusCode::kInternal, std::string("facts: ") + sqlite3_errmsg(db_)};
  sqlite3_bind_int64(stmt, 1, seq);
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    return {StatusCode::kInternal, std::string("facts: ") + sqlite3_errmsg(db_)};
  }
  // What Load would know of the state: its sections' statuses (an absent section makes rules
  // and exception covers reading it unknown) and its content hash.
  sources_.clear();
  section_status_.clear();
  content_hash_.clear();
  sqlite3_stmt* sections = Internal("SELECT name, status FROM sections");
  if (sections == nullptr) {
    return {StatusCode::kInternal, std::string("facts: ") + sqlite3_errmsg(db_)};
  }
  while ((rc = sqlite3_step(sections)) == SQLITE_ROW) {
    section_status_[reinterpret_cast<const char*>(sqlite3_column_text(sections, 0))] =
        reinterpret_cast<const char*>(sqlite3_column_text(sections, 1));
  }
  sqlite3_reset(sections);
  if (rc != SQLITE_DONE) {
    return {StatusCode::kIoError, std::string("facts: ") + sqlite3_errmsg(db_)};
  }
  sqlite3_stmt* host = Internal("SELECT content_hash FROM host");
  if (host != nullptr && sqlite3_step(host) == SQLITE_ROW &&
      sqlite3_column_type(host, 0) == SQLITE_TEXT) {
    content_hash_ = reinterpret_cast<const char*>(sqlite3_column_text(host, 0));
  }
  if (host != nullptr) sqlite3_reset(host);
  return Status::Ok();
}

}  // namespace tidemark::policy
