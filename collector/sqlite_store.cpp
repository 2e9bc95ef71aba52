#include "collector/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>

#include "collector/sqlite_store_impl.h"
#include "common/sha256.h"

namespace tidemark {
namespace {

// The schema (docs/store.md documents every column). Times are stored twice: integer seconds
// since the epoch (for ordering and comparison) and RFC 3339 UTC text (for people and tools).
// Version 2: snapshot ids are unique per host ((host, id)), not across the store.
constexpr const char* kHostsSql = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE hosts (
  id               TEXT PRIMARY KEY,
  first_seen       INTEGER NOT NULL,
  first_seen_text  TEXT NOT NULL,
  last_seen        INTEGER NOT NULL,
  last_seen_text   TEXT NOT NULL,
  agent_version    TEXT NOT NULL DEFAULT '',
  cert_fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE TABLE fingerprint_changes (
  host             TEXT NOT NULL REFERENCES hosts(id),
  old_fingerprint  TEXT NOT NULL,
  new_fingerprint  TEXT NOT NULL,
  changed_at       INTEGER NOT NULL,
  changed_at_text  TEXT NOT NULL
);
)sql";

// The snapshots and seen tables under a given name (the v1 -> v2 migration builds them beside
// the old ones, then renames them).
std::string SnapshotsTableSql(const std::string& name) {
  return "CREATE TABLE " + name + R"sql( (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL,
  host             TEXT NOT NULL REFERENCES hosts(id),
  received_at      INTEGER NOT NULL,
  received_at_text TEXT NOT NULL,
  collected_at     TEXT NOT NULL,
  collected_at_s   INTEGER,
  agent_version    TEXT NOT NULL DEFAULT '',
  content_hash     TEXT NOT NULL,
  imported_by      TEXT,
  body_encoding    TEXT NOT NULL CHECK (body_encoding IN ('zstd')),
  body_size        INTEGER NOT NULL,
  body             BLOB NOT NULL,
  UNIQUE (host, id)
);
)sql";
}

std::string SeenTableSql(const std::string& name) {
  return "CREATE TABLE " + name + R"sql( (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL,
  host             TEXT NOT NULL REFERENCES hosts(id),
  snapshot_seq     INTEGER NOT NULL REFERENCES snapshots(seq),
  received_at      INTEGER NOT NULL,
  received_at_text TEXT NOT NULL,
  collected_at     TEXT NOT NULL,
  collected_at_s   INTEGER,
  content_hash     TEXT NOT NULL,
  imported_by      TEXT,
  UNIQUE (host, id)
);
)sql";
}

constexpr const char* kIndexesSql = R"sql(
CREATE INDEX snapshots_by_host ON snapshots (host, received_at, seq);
CREATE INDEX snapshots_by_host_seq ON snapshots (host, seq);
CREATE INDEX seen_by_host ON seen (host, seq);
CREATE INDEX seen_by_received ON seen (received_at);
CREATE INDEX seen_by_snapshot ON seen (snapshot_seq, received_at);
)sql";

// Version 3: the evaluations of stored states (docs/store.md "Evaluations"). A version 2 store
// gets these tables at open.
constexpr const char* kEvaluationsSql = R"sql(
CREATE TABLE evaluations (
  seq               INTEGER PRIMARY KEY,
  snapshot_seq      INTEGER NOT NULL REFERENCES snapshots(seq),
  policy_hash       TEXT NOT NULL,
  evaluated_at      INTEGER NOT NULL,
  evaluated_at_text TEXT NOT NULL,
  passed            INTEGER NOT NULL,
  failed            INTEGER NOT NULL,
  unknown           INTEGER NOT NULL,
  errors            INTEGER NOT NULL,
  UNIQUE (snapshot_seq, policy_hash)
);
CREATE INDEX evaluations_by_snapshot ON evaluations (snapshot_seq, evaluated_at);
CREATE TABLE results (
  evaluation_seq INTEGER NOT NULL REFERENCES evaluations(seq),
  rule_id        TEXT NOT NULL,
  title          TEXT NOT NULL,
  severity       TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
  outcome        TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'unknown', 'error')),
  message        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (evaluation_seq, rule_id)
) WITHOUT ROWID;
CREATE TABLE result_items (
  evaluation_seq INTEGER NOT NULL REFERENCES evaluations(seq),
  rule_id        TEXT NOT NULL,
  n              INTEGER NOT NULL,
  item_id        TEXT NOT NULL,
  detail         TEXT NOT NULL DEFAULT '',
  source_file    TEXT,
  source_line    INTEGER,
  PRIMARY KEY (evaluation_seq, rule_id, n)
) WITHOUT ROWID;
)sql";

// Version 4: the approved baselines (docs/store.md "Baselines"): each approval of a host's
// stored state as its documented configuration, kept forever (the latest at a time counts).
constexpr const char* kBaselinesSql = R"sql(
CREATE TABLE baselines (
  seq              INTEGER PRIMARY KEY,
  host             TEXT NOT NULL REFERENCES hosts(id),
  snapshot_seq     INTEGER NOT NULL REFERENCES snapshots(seq),
  approved_by      TEXT NOT NULL,
  note             TEXT NOT NULL,
  approved_at      INTEGER NOT NULL,
  approved_at_text TEXT NOT NULL
);
CREATE INDEX baselines_by_host ON baselines (host, approved_at);
)sql";

// Version 5: the report runs (docs/store.md "Reports"): when each `tidemarkctl report` ran,
// with what options, its summary and its whole JSON document (zstd), so that the next report
// says what changed since and `report --previous` prints it again.
constexpr const char* kReportsSql = R"sql(
CREATE TABLE reports (
  seq               INTEGER PRIMARY KEY,
  generated_at      INTEGER NOT NULL,
  generated_at_text TEXT NOT NULL,
  options           TEXT NOT NULL,
  summary           TEXT NOT NULL,
  document_encoding TEXT NOT NULL CHECK (document_encoding = 'zstd'),
  document_size     INTEGER NOT NULL,
  document          BLOB NOT NULL
);
CREATE INDEX reports_by_time ON reports (generated_at);
)sql";

std::string SchemaSql() {
  return std::string(kHostsSql) + SnapshotsTableSql("snapshots") + SeenTableSql("seen") +
         kIndexesSql + kEvaluationsSql + kBaselinesSql + kReportsSql;
}

// Version 1 -> 2: snapshot ids were unique across all hosts, so a host reusing another host's
// id was acked `duplicate` and its snapshot lost. SQLite cannot drop a UNIQUE constraint: the
// two tables are rebuilt (sqlite.org/lang_altertable.html, "other kinds of table schema
// changes"), with foreign keys off around the transaction.
std::string MigrateV1Sql() {
  return SnapshotsTableSql("snapshots_v2") +
         "INSERT INTO snapshots_v2 SELECT seq, id, host, received_at, received_at_text, "
         "collected_at, collected_at_s, agent_version, content_hash, imported_by, body_encoding, "
         "body_size, body FROM snapshots;\n" +
         SeenTableSql("seen_v2") +
         "INSERT INTO seen_v2 SELECT seq, id, host, snapshot_seq, received_at, received_at_text, "
         "collected_at, collected_at_s, content_hash, imported_by FROM seen;\n"
         "DROP TABLE seen;\n"
         "DROP TABLE snapshots;\n"
         "ALTER TABLE snapshots_v2 RENAME TO snapshots;\n"
         "ALTER TABLE seen_v2 RENAME TO seen;\n" +
         kIndexesSql + "UPDATE schema_version SET version = 2;\n";
}

constexpr int kZstdLevel = 3;

}  // namespace

using sqlite_store_internal::kMaxBodyBytes;
using sqlite_store_internal::ParseOptionalTime;
using sqlite_store_internal::Stmt;

// Version 2 -> 3 adds the evaluation tables, 3 -> 4 the baselines. Another process may have
// migrated first: the version is read again inside the transaction.
Status SqliteStore::Impl::AddTables(int64_t from_version, const char* sql) {
  auto done = InTransaction<bool>([&]() -> StatusOr<bool> {
    auto p = Prepare("SELECT version FROM schema_version");
    if (!p.ok()) return p.status();
    int64_t version = 0;
    {
      Stmt s(*p);
      if (s.Step() != SQLITE_ROW) return Error("read schema version");
      version = s.Int(0);
    }
    if (version != from_version) return false;
    std::string all = std::string(sql) +
                      "UPDATE schema_version SET version = " + std::to_string(from_version + 1) +
                      ";\n";
    if (Status st = Exec(all.c_str()); !st.ok()) return st;
    return true;
  });
  return done.status();
}

Status SqliteStore::Impl::MigrateFromV1() {
  if (Status st = Exec("PRAGMA foreign_keys=OFF"); !st.ok()) return st;
  auto done = InTransaction<bool>([&]() -> StatusOr<bool> {
    int64_t version = 0;
    {
      auto p = Prepare("SELECT version FROM schema_version");
      if (!p.ok()) return p.status();
      Stmt s(*p);
      if (s.Step() != SQLITE_ROW) return Error("read schema version");
      version = s.Int(0);
    }
    if (version != 1) return false;
    if (Status st = Exec(MigrateV1Sql().c_str()); !st.ok()) return st;
    sqlite3_stmt* check = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &check, nullptr) != SQLITE_OK) {
      return Error("migrate to schema version 2");
    }
    int rc = sqlite3_step(check);
    sqlite3_finalize(check);
    if (rc == SQLITE_ROW) {
      return Status(StatusCode::kIoError,
                    path + ": migrate to schema version 2: a foreign key does not hold");
    }
    if (rc != SQLITE_DONE) return Error("migrate to schema version 2");
    return true;
  });
  Status on = Exec("PRAGMA foreign_keys=ON");
  if (!done.ok()) return done.status();
  return on;
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

namespace {

Status FileError(const std::string& path, int e) {
  if (e == EACCES || e == EPERM) {
    return Status(StatusCode::kPermissionDenied, path + ": " + std::strerror(e));
  }
  if (e == ELOOP) return Status(StatusCode::kLoop, path + ": is a symbolic link; refused");
  if (e == EISDIR) return Status(StatusCode::kWrongType, path + ": is a directory");
  return Status(StatusCode::kIoError, path + ": " + std::strerror(e));
}

// Creates the file ourselves so it is born 0600 (never world-readable, even for a moment),
// and checks an existing file: snapshots describe a fleet's weak points.
//
// An existing file is checked by path (lstat), never opened here: closing any descriptor of
// the database releases every POSIX lock this process holds on it, including those of
// another connection (the collector's evaluator opens a second one), and another process
// would then take that connection's WAL for abandoned and delete it
// (sqlite.org/howtocorrupt.html, 2.2).
Status CheckDatabaseFile(const std::string& path, bool create) {
  struct stat file_stat {};
  if (::lstat(path.c_str(), &file_stat) != 0) {
    int e = errno;
    if (e != ENOENT) return FileError(path, e);
    if (!create) return Status(StatusCode::kNotFound, path + ": no such database");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
      return Status(StatusCode::kNotFound,
                    path + ": cannot create the database (does its directory exist?)");
    }
    if (fd < 0 && errno != EEXIST) return FileError(path, errno);
    if (fd >= 0) ::close(fd);  // new: no connection of this process has it open
    if (::lstat(path.c_str(), &file_stat) != 0) return FileError(path, errno);
  }
  if (S_ISLNK(file_stat.st_mode)) return FileError(path, ELOOP);
  if (S_ISDIR(file_stat.st_mode)) return FileError(path, EISDIR);
  if (!S_ISREG(file_stat.st_mode))
    return Status(StatusCode::kWrongType, path + ": not a regular file");
  if ((file_stat.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(file_stat.st_mode & 07777));
    return Status(StatusCode::kPermissionDenied,
                  path + ": mode " + mode +
                      " lets other users read or write the database; refused (chmod 600 it)");
  }
  // SQLite would open a file it may not write read-only, silently: refuse it here.
  if (::faccessat(AT_FDCWD, path.c_str(), R_OK | W_OK, AT_EACCESS) != 0) {
    return FileError(path, errno);
  }
  return Status::Ok();
}

}  // namespace

// WAL: readers (tidemarkctl) never block the collector's writes and a commit is one append.
// A garbage or corrupted file fails here, on the first read of the header.
//
// synchronous=FULL: the collector acks a snapshot only after its commit returns, and the
// agent then drops it from its spool; so a committed snapshot must survive power loss, which
// in WAL mode needs the WAL to be fsync'd at every commit (NORMAL would only protect against
// corruption, not against losing the last commits).
Status SqliteStore::Impl::UseWal() {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, nullptr);
  std::string mode;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) mode = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  std::string msg = sqlite3_errmsg(db);
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW) {
    NoteCode(rc);
    return Status(StatusCode::kInvalidArgument,
                  path + ": not a tidemark database, or corrupted (" + msg + ")");
  }
  if (mode != "wal") {
    return Status(StatusCode::kIoError, path + ": cannot switch to WAL mode (" + mode + ")");
  }
  return Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
}

// Schema: create on an empty database, accept only our own version otherwise.
Status SqliteStore::Impl::CreateOrUpgradeSchema(bool create) {
  auto p = Prepare(
      "SELECT (SELECT count(*) FROM sqlite_master), "
      "(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')");
  if (!p.ok()) {
    return Status(StatusCode::kInvalidArgument,
                  path + ": not a tidemark database, or corrupted (" + p.status().message() + ")");
  }
  int64_t objects = 0, has_version = 0;
  {
    Stmt s(*p);
    if (s.Step() != SQLITE_ROW) return Error("read schema");
    objects = s.Int(0);
    has_version = s.Int(1);
  }
  if (objects == 0) {
    if (!create)
      return Status(StatusCode::kNotFound, path + ": empty database (no tidemark schema)");
    auto created = InTransaction<bool>([&]() -> StatusOr<bool> {
      if (Status st = Exec(SchemaSql().c_str()); !st.ok()) return st;
      std::string v =
          "INSERT INTO schema_version VALUES (" + std::to_string(kStoreSchemaVersion) + ")";
      if (Status st = Exec(v.c_str()); !st.ok()) return st;
      return true;
    });
    return created.ok() ? Status::Ok() : created.status();
  }
  if (has_version == 0) {
    return Status(StatusCode::kInvalidArgument,
                  path + ": a SQLite database but not a tidemark store (no schema_version)");
  }
  return Upgrade();
}

// Moves a store of an older schema to this build's, one version at a time.
Status SqliteStore::Impl::Upgrade() {
  int64_t version = 0;
  {
    auto v = Prepare("SELECT version FROM schema_version");
    if (!v.ok()) return v.status();
    Stmt s(*v);
    int rc = s.Step();
    if (rc == SQLITE_DONE) {
      return Status(StatusCode::kInvalidArgument, path + ": schema_version is empty");
    }
    if (rc != SQLITE_ROW) {
      NoteCode(rc);
      return Status(StatusCode::kInvalidArgument, path +
                                                      ": not a tidemark database, or "
                                                      "corrupted (" +
                                                      sqlite3_errmsg(db) + ")");
    }
    version = s.Int(0);
  }  // reset: the migration reads the version again in its transaction
  if (version == 1) {
    if (Status st = MigrateFromV1(); !st.ok()) return st;
    version = 2;
  }
  if (version == 2) {
    if (Status st = AddTables(2, kEvaluationsSql); !st.ok()) return st;
    version = 3;
  }
  if (version == 3) {
    if (Status st = AddTables(3, kBaselinesSql); !st.ok()) return st;
    version = 4;
  }
  if (version == 4) {
    if (Status st = AddTables(4, kReportsSql); !st.ok()) return st;
    version = 5;
  }
  if (version != kStoreSchemaVersion) {
    return Status(StatusCode::kInvalidArgument,
                  path + ": store schema version " + std::to_string(version) +
                      ", this build reads version " + std::to_string(kStoreSchemaVersion));
  }
  // Stores made before the (host, seq) index existed get it once: without it, finding a
  // host's latest state sorts all its snapshots on every offer.
  auto idx = Prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'snapshots_by_host_seq'");
  if (!idx.ok()) return idx.status();
  Stmt has_index(*idx);
  if (has_index.Step() == SQLITE_DONE) {
    return Exec("CREATE INDEX snapshots_by_host_seq ON snapshots (host, seq)");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Options options) {
  if (path.empty()) return Status(StatusCode::kInvalidArgument, "empty database path");
  if (Status st = CheckDatabaseFile(path, options.create); !st.ok()) return st;
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  // A store too damaged to open (SQLite said SQLITE_CORRUPT or SQLITE_NOTADB on the way) is
  // kDataLoss, as corruption found later is: the collector exits 3, not 1 (cannot start).
  auto failed = [&impl](Status st) {
    return impl->corrupt ? Status(StatusCode::kDataLoss, st.message()) : st;
  };
  if (sqlite3_open_v2(path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return failed(impl->Error("cannot open"));
  }
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, 5000);
  if (Status st = impl->UseWal(); !st.ok()) return failed(st);
  if (Status st = impl->CreateOrUpgradeSchema(options.create); !st.ok()) return failed(st);
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

StatusOr<bool> SqliteStore::UpsertHost(const std::string& host, const std::string& agent_version,
                                       const std::string& cert_fingerprint, int64_t seen_at) {
  if (host.empty()) return Status(StatusCode::kInvalidArgument, "empty host id");
  HostContact contact{host, agent_version, cert_fingerprint, seen_at};
  return impl_->InTransaction<bool>([&] { return UpsertHostInTransaction(contact); });
}

StatusOr<std::vector<StatusOr<bool>>> SqliteStore::UpsertHostBatch(
    const std::vector<HostContact>& contacts) {
  return impl_->InBatch<bool>(
      contacts,
      [](const HostContact& c) {
        return c.host.empty() ? Status(StatusCode::kInvalidArgument, "empty host id")
                              : Status::Ok();
      },
      [this](const HostContact& c) { return UpsertHostInTransaction(c); });
}

StatusOr<bool> SqliteStore::UpsertHostInTransaction(const HostContact& contact) {
  Impl& d = *impl_;
  const std::string& host = contact.host;
  const std::string& cert_fingerprint = contact.cert_fingerprint;
  std::optional<std::string> old;
  {
    auto p = d.Prepare("SELECT cert_fingerprint FROM hosts WHERE id = ?1");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      old = s.Text(0);
    } else if (rc != SQLITE_DONE) {
      return d.Error("read host");
    }
  }
  if (Status st = d.TouchHost(host, contact.agent_version, contact.seen_at); !st.ok()) return st;
  bool changed = old && !old->empty() && !cert_fingerprint.empty() && *old != cert_fingerprint;
  if (changed) {
    auto p = d.Prepare(
        "INSERT INTO fingerprint_changes (host, old_fingerprint, new_fingerprint, changed_at, "
        "changed_at_text) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    s.Bind(2, std::string_view(*old));
    s.Bind(3, std::string_view(cert_fingerprint));
    s.Bind(4, contact.seen_at);
    s.Bind(5, std::string_view(FormatRfc3339(contact.seen_at)));
    if (s.Step() != SQLITE_DONE) return d.Error("record fingerprint change");
  }
  if (!cert_fingerprint.empty()) {
    auto p = d.Prepare("UPDATE hosts SET cert_fingerprint = ?2 WHERE id = ?1");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    s.Bind(2, std::string_view(cert_fingerprint));
    if (s.Step() != SQLITE_DONE) return d.Error("record fingerprint");
  }
  return changed;
}

namespace {
Status CheckInput(const SnapshotInput& in) {
  if (in.host.empty() || in.snapshot_id.empty() || in.content_hash.empty()) {
    return Status(StatusCode::kInvalidArgument, "snapshot needs a host, an id and a content hash");
  }
  if (static_cast<int64_t>(in.body.size()) > kMaxBodyBytes) {
    return Status(StatusCode::kTooLarge, "snapshot " + in.snapshot_id + " of host " + in.host +
                                             " is larger than " + std::to_string(kMaxBodyBytes) +
                                             " bytes");
  }
  return Status::Ok();
}
}  // namespace

StatusOr<PutResult> SqliteStore::PutInTransaction(const SnapshotInput& in) {
  Impl& d = *impl_;
  auto known = d.IdKnown(in.host, in.snapshot_id);
  if (!known.ok()) return known.status();
  if (*known) return PutResult::kDuplicate;
  if (Status st = d.TouchHost(in.host, in.agent_version, in.received_at); !st.ok()) return st;
  auto latest = d.LatestHash(in.host);
  if (!latest.ok()) return latest.status();
  auto seq = d.NextSeq();
  if (!seq.ok()) return seq.status();
  if (*latest && (*latest)->second == in.content_hash) {
    if (Status st = d.InsertSeen(*seq, in.snapshot_id, in.host, (*latest)->first, in.received_at,
                                 in.collected_at, in.content_hash, in.imported_by);
        !st.ok()) {
      return st;
    }
    return PutResult::kSeen;
  }
  std::string packed(ZSTD_compressBound(in.body.size()), '\0');
  size_t n =
      ZSTD_compress(packed.data(), packed.size(), in.body.data(), in.body.size(), kZstdLevel);
  if (ZSTD_isError(n)) {
    return Status(StatusCode::kInternal,
                  std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  packed.resize(n);
  auto p = d.Prepare(
      "INSERT INTO snapshots (seq, id, host, received_at, received_at_text, collected_at, "
      "collected_at_s, agent_version, content_hash, imported_by, body_encoding, body_size, "
      "body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'zstd', ?11, ?12)");
  if (!p.ok()) return p.status();
  Stmt s(*p);
  s.Bind(1, *seq);
  s.Bind(2, std::string_view(in.snapshot_id));
  s.Bind(3, std::string_view(in.host));
  s.Bind(4, in.received_at);
  s.Bind(5, std::string_view(FormatRfc3339(in.received_at)));
  s.Bind(6, std::string_view(in.collected_at));
  s.Bind(7, ParseOptionalTime(in.collected_at));
  s.Bind(8, std::string_view(in.agent_version));
  s.Bind(9, std::string_view(in.content_hash));
  s.Bind(10, in.imported_by);
  s.Bind(11, static_cast<int64_t>(in.body.size()));
  s.BindBlob(12, packed);
  if (s.Step() != SQLITE_DONE) return d.Error("store snapshot");
  return PutResult::kStored;
}

StatusOr<PutResult> SqliteStore::PutSnapshot(const SnapshotInput& in) {
  if (Status st = CheckInput(in); !st.ok()) return st;
  return impl_->InTransaction<PutResult>([&] { return PutInTransaction(in); });
}

StatusOr<std::vector<StatusOr<PutResult>>> SqliteStore::PutBatch(
    const std::vector<SnapshotInput>& inputs) {
  return impl_->InBatch<PutResult>(
      inputs, CheckInput, [this](const SnapshotInput& in) { return PutInTransaction(in); });
}

StatusOr<PutResult> SqliteStore::SeenInTransaction(const SeenInput& in) {
  Impl& d = *impl_;
  auto known = d.IdKnown(in.host, in.snapshot_id);
  if (!known.ok()) return known.status();
  if (*known) return PutResult::kDuplicate;
  auto latest = d.LatestHash(in.host);
  if (!latest.ok()) return latest.status();
  if (!*latest || (*latest)->second != in.content_hash) {
    return Status(StatusCode::kNotFound,
                  "host " + in.host + ": that content hash is not its latest state; send the body");
  }
  if (Status st = d.TouchHost(in.host, "", in.received_at); !st.ok()) return st;
  auto seq = d.NextSeq();
  if (!seq.ok()) return seq.status();
  if (Status st = d.InsertSeen(*seq, in.snapshot_id, in.host, (*latest)->first, in.received_at,
                               in.collected_at, in.content_hash, std::nullopt);
      !st.ok()) {
    return st;
  }
  return PutResult::kSeen;
}

namespace {
Status CheckSeen(const SeenInput& in) {
  if (in.host.empty() || in.snapshot_id.empty() || in.content_hash.empty()) {
    return Status(StatusCode::kInvalidArgument, "seen needs a host, an id and a content hash");
  }
  return Status::Ok();
}
}  // namespace

StatusOr<PutResult> SqliteStore::RecordSeen(const std::string& host, const std::string& snapshot_id,
                                            const std::string& content_hash,
                                            const std::string& collected_at, int64_t received_at) {
  SeenInput in{host, snapshot_id, content_hash, collected_at, received_at};
  if (Status st = CheckSeen(in); !st.ok()) return st;
  return impl_->InTransaction<PutResult>([&]() { return SeenInTransaction(in); });
}

StatusOr<std::vector<StatusOr<PutResult>>> SqliteStore::RecordSeenBatch(
    const std::vector<SeenInput>& inputs) {
  return impl_->InBatch<PutResult>(inputs, CheckSeen,
                                   [this](const SeenInput& in) { return SeenInTransaction(in); });
}

StatusOr<std::vector<HostInfo>> SqliteStore::ListHosts() {
  Impl& d = *impl_;
  auto p = d.Prepare(
      "SELECT h.id, h.first_seen, h.last_seen, h.agent_version, h.cert_fingerprint, "
      "(SELECT count(*) FROM snapshots s WHERE s.host = h.id), "
      "(SELECT count(*) FROM seen n WHERE n.host = h.id) FROM hosts h ORDER BY h.id");
  if (!p.ok()) return p.status();
  Stmt s(*p);
  std::vector<HostInfo> hosts;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    HostInfo h;
    h.id = s.Text(0);
    h.first_seen = s.Int(1);
    h.last_seen = s.Int(2);
    h.agent_version = s.Text(3);
    h.cert_fingerprint = s.Text(4);
    h.snapshot_count = s.Int(5);
    h.seen_count = s.Int(6);
    hosts.push_back(std::move(h));
  }
  if (rc != SQLITE_DONE) return d.Error("list hosts");
  return hosts;
}

namespace {
// The columns ReadSnapshotRow reads, in its order.
constexpr const char* kSnapshotColumns =
    "s.seq, s.id, s.host, s.received_at, s.collected_at, s.content_hash, s.agent_version, "
    "s.imported_by, s.body_encoding, s.body_size";
}  // namespace

// Reads the kSnapshotColumns of the current row (then `body` at column 10 when asked; the
// last confirmation time at column 11 when present).
StatusOr<StoredSnapshot> SqliteStore::Impl::ReadSnapshotRow(Stmt& s, bool with_body,
                                                            bool has_confirmed) {
  StoredSnapshot out;
  out.seq = s.Int(0);
  out.id = s.Text(1);
  out.host = s.Text(2);
  out.received_at = s.Int(3);
  out.collected_at = s.Text(4);
  out.content_hash = s.Text(5);
  out.agent_version = s.Text(6);
  out.imported_by = s.OptText(7);
  out.last_confirmed_at = has_confirmed ? std::max(out.received_at, s.Int(11)) : out.received_at;
  if (!with_body) return out;
  std::string encoding = s.Text(8);
  int64_t size = s.Int(9);
  std::string_view packed = s.Blob(10);
  if (encoding != "zstd" || size < 0 || size > kMaxBodyBytes ||
      ZSTD_getFrameContentSize(packed.data(), packed.size()) !=
          static_cast<unsigned long long>(size)) {
    return Status(StatusCode::kIoError,
                  path + ": snapshot " + out.id + " has a corrupted body (encoding or size)");
  }
  out.body.resize(static_cast<size_t>(size));
  size_t n = ZSTD_decompress(out.body.data(), out.body.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != out.body.size()) {
    return Status(StatusCode::kIoError,
                  path + ": snapshot " + out.id + " has a corrupted body (zstd)");
  }
  return out;
}

StatusOr<StoredSnapshot> SqliteStore::LatestImpl(const std::string& host,
                                                 std::optional<int64_t> at_or_before,
                                                 bool with_body) {
  Impl& d = *impl_;
  {
    // Two cached statements: the one without the body does not read the blob's pages.
    std::string sql = std::string("SELECT ") + kSnapshotColumns +
                      (with_body ? ", s.body" : ", NULL") +
                      ", (SELECT max(n.received_at) FROM seen n WHERE n.snapshot_seq = s.seq AND "
                      "n.received_at <= ?2) FROM snapshots s WHERE host = ?1 AND received_at <= ?2 "
                      "ORDER BY received_at DESC, seq DESC LIMIT 1";
    auto p = d.Prepare(sql);
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    s.Bind(2, at_or_before.value_or(std::numeric_limits<int64_t>::max()));
    int rc = s.Step();
    if (rc == SQLITE_ROW) return d.ReadSnapshotRow(s, with_body, true);
    if (rc != SQLITE_DONE) return d.Error("read snapshot");
  }
  auto exists = d.HostExists(host);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status(StatusCode::kNotFound, "no such host: " + host);
  if (at_or_before) {
    return Status(
        StatusCode::kNotFound,
        "host " + host + " has no snapshot received at or before " + FormatRfc3339(*at_or_before));
  }
  return Status(StatusCode::kNotFound, "host " + host + " has no stored snapshot");
}

StatusOr<StoredSnapshot> SqliteStore::Latest(const std::string& host,
                                             std::optional<int64_t> at_or_before) {
  return LatestImpl(host, at_or_before, true);
}

StatusOr<StoredSnapshot> SqliteStore::LatestState(const std::string& host,
                                                  std::optional<int64_t> at_or_before) {
  return LatestImpl(host, at_or_before, false);
}

StatusOr<StoredSnapshot> SqliteStore::SnapshotBySeq(int64_t seq) {
  Impl& d = *impl_;
  auto p = d.Prepare(std::string("SELECT ") + kSnapshotColumns +
                     ", s.body FROM snapshots s WHERE s.seq = ?1");
  if (!p.ok()) return p.status();
  Stmt s(*p);
  s.Bind(1, seq);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return d.ReadSnapshotRow(s, true, false);
  if (rc != SQLITE_DONE) return d.Error("read snapshot");
  return Status(StatusCode::kNotFound, "no stored snapshot with sequence " + std::to_string(seq));
}

StatusOr<std::vector<HistoryEntry>> SqliteStore::History(const std::string& host) {
  Impl& d = *impl_;
  std::vector<HistoryEntry> out;
  {
    auto p = d.Prepare(
        "SELECT 0, seq, id, received_at, collected_at, content_hash, imported_by, seq "
        "FROM snapshots WHERE host = ?1 UNION ALL "
        "SELECT 1, seq, id, received_at, collected_at, content_hash, imported_by, snapshot_seq "
        "FROM seen WHERE host = ?1 ORDER BY 2");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, std::string_view(host));
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      HistoryEntry e;
      e.kind = s.Int(0) == 0 ? HistoryEntry::Kind::kSnapshot : HistoryEntry::Kind::kSeen;
      e.id = s.Text(2);
      e.received_at = s.Int(3);
      e.collected_at = s.Text(4);
      e.content_hash = s.Text(5);
      e.imported_by = s.OptText(6);
      e.state_seq = s.Int(7);
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return d.Error("read history");
  }
  if (out.empty()) {
    auto exists = d.HostExists(host);
    if (!exists.ok()) return exists.status();
    if (!*exists) return Status(StatusCode::kNotFound, "no such host: " + host);
  }
  return out;
}

StatusOr<int64_t> SqliteStore::Thin(int retention_days, int64_t now) {
  if (retention_days < 0) return Status(StatusCode::kInvalidArgument, "negative retention");
  Impl& d = *impl_;
  return d.InTransaction<int64_t>([&]() -> StatusOr<int64_t> {
    auto p = d.Prepare("DELETE FROM seen WHERE received_at < ?1");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, now - int64_t{retention_days} * 86400);
    if (s.Step() != SQLITE_DONE) return d.Error("thin seen records");
    return static_cast<int64_t>(sqlite3_changes64(d.db));
  });
}

bool SqliteStore::Corrupt() const { return impl_->corrupt; }

StatusOr<std::vector<std::string>> SqliteStore::IntegrityCheck(bool quick) {
  Impl& d = *impl_;
  sqlite3_stmt* s = nullptr;
  const char* sql = quick ? "PRAGMA quick_check(100)" : "PRAGMA integrity_check(100)";
  if (sqlite3_prepare_v2(d.db, sql, -1, &s, nullptr) != SQLITE_OK) return d.Error("check");
  std::vector<std::string> problems;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(s, 0);
    std::string line = t ? reinterpret_cast<const char*>(t) : "";
    if (line != "ok") problems.push_back(std::move(line));
  }
  Status error = rc == SQLITE_DONE ? Status::Ok() : d.Error("check");
  sqlite3_finalize(s);
  // A page too damaged for the check to go on is itself its finding.
  if (!error.ok() && !d.corrupt) return error;
  if (!error.ok()) problems.push_back(error.message());
  if (!problems.empty()) d.corrupt = true;
  return problems;
}

// ---- store.h helpers -----------------------------------------------------------------------

SnapshotInput MakeSnapshotInput(const std::string& host, const std::string& snapshot_id,
                                const Snapshot& snapshot, std::string_view text,
                                int64_t received_at) {
  SnapshotInput in;
  in.host = host;
  in.snapshot_id = snapshot_id;
  in.content_hash = ContentHash(snapshot);
  in.collected_at = snapshot.collected_at;
  in.agent_version = snapshot.agent_version;
  in.body = text;
  in.received_at = received_at;
  return in;
}

SnapshotInput MakeSnapshotInput(const std::string& host, const std::string& snapshot_id,
                                const VerifiedSnapshot& snapshot, std::string_view text,
                                int64_t received_at) {
  SnapshotInput in;
  in.host = host;
  in.snapshot_id = snapshot_id;
  in.content_hash = snapshot.content_hash;
  in.collected_at = snapshot.collected_at;
  in.agent_version = snapshot.agent_version;
  in.body = text;
  in.received_at = received_at;
  return in;
}

namespace {
std::string ImportId(const std::string& host, const std::string& content_hash,
                     const std::string& collected_at) {
  std::string key = host + '\n' + content_hash + '\n' + collected_at;
  return "import-" + Sha256Hex(key).substr(0, 32);
}
}  // namespace

std::string ImportSnapshotId(const std::string& host, const Snapshot& snapshot) {
  return ImportId(host, ContentHash(snapshot), snapshot.collected_at);
}

std::string ImportSnapshotId(const std::string& host, const VerifiedSnapshot& snapshot) {
  return ImportId(host, snapshot.content_hash, snapshot.collected_at);
}

std::string_view PutResultName(PutResult result) {
  switch (result) {
    case PutResult::kStored:
      return "stored";
    case PutResult::kDuplicate:
      return "duplicate";
    case PutResult::kSeen:
      return "seen";
  }
  return "unknown";
}

}  // namespace tidemark
