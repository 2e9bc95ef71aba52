// SqliteStore on a real SQLite file in a temp directory: idempotence, seen records, ordering,
// retention, file mode, corruption, and the on-disk format checked with the sqlite3 CLI.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "collector/sqlite_store.h"
#include "common/snapshot.h"
#include "tests/collector/store_damage.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

struct Doc {
  std::string text;
  Snapshot snapshot;
};

// A snapshot whose state is `state` (changes the content hash) collected at `collected_at`.
Doc MakeDoc(const std::string& state, const std::string& collected_at = "2026-11-28T00:00:00Z") {
  Snapshot s;
  s.host.id = "h1";
  s.collected_at = collected_at;
  s.agent_version = "0.1.0";
  s.sections["accounts"].data["users"] = nlohmann::json::array({state});
  Doc d;
  d.text = SerializeSnapshot(s);
  auto decoded = DecodeSnapshot(d.text);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  d.snapshot = *decoded;
  return d;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Host("/tidemark.db");
    auto s = SqliteStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  StatusOr<PutResult> Put(const std::string& id, const Doc& d, int64_t received_at,
                          const std::string& host = "h1") {
    return store_->PutSnapshot(MakeSnapshotInput(host, id, d.snapshot, d.text, received_at));
  }

  std::vector<std::string> HistoryLine(const std::string& host) {
    std::vector<std::string> out;
    auto h = store_->History(host);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (!h.ok()) return out;
    for (const auto& e : *h) {
      out.push_back(std::string(e.kind == HistoryEntry::Kind::kSnapshot ? "snapshot " : "seen ") +
                    e.id);
    }
    return out;
  }

  testing::TempRoot dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(StoreTest, RePutOfTheSameIdIsStoredOnce) {
  Doc a = MakeDoc("a");
  auto r1 = Put("id1", a, 100);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(*r1, PutResult::kStored);
  auto r2 = Put("id1", a, 105);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, PutResult::kDuplicate);
  // Even a different body under a known id changes nothing (the id is the idempotency key).
  auto r3 = Put("id1", MakeDoc("b"), 110);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(*r3, PutResult::kDuplicate);
  EXPECT_EQ(HistoryLine("h1"), (std::vector<std::string>{"snapshot id1"}));
  auto latest = store_->Latest("h1", std::nullopt);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->body, a.text);
  EXPECT_EQ(latest->received_at, 100);
}

TEST_F(StoreTest, SnapshotIdsAreScopedPerHost) {
  // Another host using the same id is its own snapshot (before: acked `duplicate`, lost).
  Doc a = MakeDoc("a"), b = MakeDoc("b");
  EXPECT_EQ(*Put("same-id", a, 100, "h1"), PutResult::kStored);
  auto other = Put("same-id", b, 101, "h2");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(*other, PutResult::kStored);
  EXPECT_EQ(*Put("same-id", b, 102, "h2"), PutResult::kDuplicate);
  // The offer path too.
  auto seen = store_->RecordSeen("h1", "seen-id", ContentHash(a.snapshot), "x", 103);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  auto seen2 = store_->RecordSeen("h2", "seen-id", ContentHash(b.snapshot), "x", 104);
  ASSERT_TRUE(seen2.ok()) << seen2.status().ToString();
  EXPECT_EQ(*seen2, PutResult::kSeen);
  EXPECT_EQ(HistoryLine("h1"), (std::vector<std::string>{"snapshot same-id", "seen seen-id"}));
  EXPECT_EQ(HistoryLine("h2"), (std::vector<std::string>{"snapshot same-id", "seen seen-id"}));
  auto latest = store_->Latest("h2", std::nullopt);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->body, b.text);
}

TEST_F(StoreTest, UnchangedHashIsASeenRecordWithoutBody) {
  Doc a = MakeDoc("a"), a_later = MakeDoc("a", "2026-11-28T01:00:00Z"), b = MakeDoc("b");
  // Same content hash, different collected_at: the state did not change.
  ASSERT_EQ(ContentHash(a.snapshot), ContentHash(a_later.snapshot));
  EXPECT_EQ(*Put("id1", a, 100), PutResult::kStored);
  EXPECT_EQ(*Put("id2", a_later, 100), PutResult::kSeen);
  {
    auto latest = store_->Latest("h1", std::nullopt);
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ(latest->id, "id1");  // the seen record does not replace the stored state
    EXPECT_EQ(latest->body, a.text);
  }
  EXPECT_EQ(*Put("id3", b, 100), PutResult::kStored);
  // Back to state a: differs from the latest (b), so it is a new stored snapshot.
  EXPECT_EQ(*Put("id4", a, 100), PutResult::kStored);
  // The hash-only path.
  auto seen = store_->RecordSeen("h1", "id5", ContentHash(a.snapshot), "2026-11-28T02:00:00Z", 100);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(*seen, PutResult::kSeen);
  auto again = store_->RecordSeen("h1", "id5", ContentHash(a.snapshot), "x", 101);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, PutResult::kDuplicate);
  auto stale = store_->RecordSeen("h1", "id6", ContentHash(b.snapshot), "x", 101);
  EXPECT_EQ(stale.status().code(), StatusCode::kNotFound);
  auto unknown = store_->RecordSeen("h2", "id7", ContentHash(b.snapshot), "x", 101);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  // All received in the same second: history keeps the receive order.
  EXPECT_EQ(HistoryLine("h1"), (std::vector<std::string>{"snapshot id1", "seen id2", "snapshot id3",
                                                         "snapshot id4", "seen id5"}));
  auto hosts = store_->ListHosts();
  ASSERT_TRUE(hosts.ok());
  ASSERT_EQ(hosts->size(), 1u);
  EXPECT_EQ((*hosts)[0].snapshot_count, 3);
  EXPECT_EQ((*hosts)[0].seen_count, 2);
  // Hosts are separate: the same state for another host is stored for it.
  EXPECT_EQ(*Put("id8", a, 100, "h2"), PutResult::kStored);
}

TEST_F(StoreTest, BatchGivesEachSnapshotItsOwnResultInOneCommit) {
  Doc a = MakeDoc("a"), b = MakeDoc("b");
  std::vector<SnapshotInput> batch = {
      MakeSnapshotInput("h1", "id1", a.snapshot, a.text, 100),
      MakeSnapshotInput("h1", "id1", a.snapshot, a.text, 100),  // re-sent within the batch
      MakeSnapshotInput("h1", "id2", a.snapshot, a.text, 101),
      MakeSnapshotInput("", "id3", a.snapshot, a.text, 101),  // invalid: no host
      MakeSnapshotInput("h2", "id4", b.snapshot, b.text, 102),
  };
  auto results = store_->PutBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 5u);
  EXPECT_EQ(*(*results)[0], PutResult::kStored);
  EXPECT_EQ(*(*results)[1], PutResult::kDuplicate);
  EXPECT_EQ(*(*results)[2], PutResult::kSeen);
  EXPECT_EQ((*results)[3].status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*(*results)[4], PutResult::kStored);
  EXPECT_EQ(HistoryLine("h1"), (std::vector<std::string>{"snapshot id1", "seen id2"}));
  EXPECT_EQ(HistoryLine("h2"), (std::vector<std::string>{"snapshot id4"}));
}

TEST_F(StoreTest, SeenBatchGivesEachOfferItsOwnResultInOneCommit) {
  Doc a = MakeDoc("a"), b = MakeDoc("b");
  ASSERT_EQ(*Put("id1", a, 100), PutResult::kStored);
  std::string ha = ContentHash(a.snapshot), hb = ContentHash(b.snapshot);
  std::vector<SeenInput> batch = {
      {"h1", "o1", ha, "2026-11-28T01:00:00Z", 101},
      {"h1", "o1", ha, "2026-11-28T01:00:00Z", 101},  // re-sent within the batch
      {"h1", "o2", hb, "2026-11-28T01:00:00Z", 102},  // not the latest state: send the body
      {"h9", "o3", ha, "2026-11-28T01:00:00Z", 102},  // unknown host
      {"", "o4", ha, "x", 102},                       // invalid
      {"h1", "o5", ha, "2026-11-28T02:00:00Z", 103},
  };
  auto results = store_->RecordSeenBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 6u);
  EXPECT_EQ(*(*results)[0], PutResult::kSeen);
  EXPECT_EQ(*(*results)[1], PutResult::kDuplicate);
  EXPECT_EQ((*results)[2].status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*results)[3].status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*results)[4].status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*(*results)[5], PutResult::kSeen);
  EXPECT_EQ(HistoryLine("h1"), (std::vector<std::string>{"snapshot id1", "seen o1", "seen o5"}));
  EXPECT_EQ(store_->History("h9").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, LatestAtOrBeforeUsesReceiveTimeNotAgentClock) {
  // The agent clock says b was collected before a; the receive time decides.
  Doc a = MakeDoc("a", "2030-01-01T00:00:00Z"), b = MakeDoc("b", "2001-01-01T00:00:00Z");
  ASSERT_EQ(*Put("id1", a, 1000), PutResult::kStored);
  ASSERT_EQ(*Put("id2", b, 2000), PutResult::kStored);
  auto at1500 = store_->Latest("h1", 1500);
  ASSERT_TRUE(at1500.ok());
  EXPECT_EQ(at1500->id, "id1");
  EXPECT_EQ(at1500->body, a.text);
  auto at2000 = store_->Latest("h1", 2000);
  ASSERT_TRUE(at2000.ok());
  EXPECT_EQ(at2000->id, "id2");
  EXPECT_EQ(at2000->collected_at, "2001-01-01T00:00:00Z");
  auto now = store_->Latest("h1", std::nullopt);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->id, "id2");
  auto early = store_->Latest("h1", 999);
  EXPECT_EQ(early.status().code(), StatusCode::kNotFound);
  EXPECT_NE(early.status().message().find("at or before 1970-01-01T00:16:39Z"), std::string::npos)
      << early.status().message();
  auto nohost = store_->Latest("nope", std::nullopt);
  EXPECT_EQ(nohost.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(nohost.status().message(), "no such host: nope");
  EXPECT_EQ(store_->History("nope").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ThinningDropsOldSeenRecordsAndKeepsEveryState) {
  constexpr int64_t kDay = 86400;
  Doc a = MakeDoc("a"), b = MakeDoc("b");
  ASSERT_EQ(*Put("s1", a, 0), PutResult::kStored);  // 100 days old state
  ASSERT_EQ(*Put("seen-old", a, 1 * kDay), PutResult::kSeen);
  ASSERT_EQ(*Put("s2", b, 2 * kDay), PutResult::kStored);
  ASSERT_EQ(*Put("seen-mid", b, 50 * kDay), PutResult::kSeen);
  ASSERT_EQ(*Put("seen-new", b, 95 * kDay), PutResult::kSeen);
  {
    auto b_state = store_->Latest("h1", 60 * kDay);
    ASSERT_TRUE(b_state.ok());
    EXPECT_EQ(b_state->id, "s2");
    EXPECT_EQ(b_state->received_at, 2 * kDay);
    EXPECT_EQ(b_state->last_confirmed_at, 50 * kDay);  // seen-new is after the asked time
    auto a_state = store_->Latest("h1", 1 * kDay);
    ASSERT_TRUE(a_state.ok());
    EXPECT_EQ(a_state->last_confirmed_at, 1 * kDay);
  }
  auto thinned = store_->Thin(30, 100 * kDay);
  ASSERT_TRUE(thinned.ok()) << thinned.status().ToString();
  EXPECT_EQ(*thinned, 2);
  EXPECT_EQ(HistoryLine("h1"),
            (std::vector<std::string>{"snapshot s1", "snapshot s2", "seen seen-new"}));
  auto old_state = store_->Latest("h1", 1 * kDay);
  ASSERT_TRUE(old_state.ok());
  EXPECT_EQ(old_state->body, a.text);
  EXPECT_EQ(*store_->Thin(30, 100 * kDay), 0);
}

TEST_F(StoreTest, HelloBatchRecordsEachHostInOneCommitWithItsOwnResult) {
  ASSERT_TRUE(store_->UpsertHost("h1", "0.1.0", "sha256:aa", 10).ok());
  auto results = store_->UpsertHostBatch({{"h1", "0.2.0", "sha256:bb", 20},
                                          {"", "0.1.0", "sha256:cc", 20},
                                          {"h2", "0.1.0", "sha256:dd", 21},
                                          {"h2", "0.1.0", "sha256:ee", 22}});
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 4u);
  ASSERT_TRUE((*results)[0].ok());
  EXPECT_TRUE(*(*results)[0]);  // h1's fingerprint changed
  EXPECT_EQ((*results)[1].status().code(), StatusCode::kInvalidArgument);  // the others stay
  ASSERT_TRUE((*results)[2].ok());
  EXPECT_FALSE(*(*results)[2]);  // first contact
  ASSERT_TRUE((*results)[3].ok());
  EXPECT_TRUE(*(*results)[3]);  // changed again within the same batch: sees the row above
  auto hosts = store_->ListHosts();
  ASSERT_TRUE(hosts.ok());
  ASSERT_EQ(hosts->size(), 2u);
  EXPECT_EQ((*hosts)[0].id, "h1");
  EXPECT_EQ((*hosts)[0].agent_version, "0.2.0");
  EXPECT_EQ((*hosts)[0].cert_fingerprint, "sha256:bb");
  EXPECT_EQ((*hosts)[0].last_seen, 20);
  EXPECT_EQ((*hosts)[1].id, "h2");
  EXPECT_EQ((*hosts)[1].first_seen, 21);
  EXPECT_EQ((*hosts)[1].last_seen, 22);
  EXPECT_EQ((*hosts)[1].cert_fingerprint, "sha256:ee");
}

TEST_F(StoreTest, FingerprintChangeIsReportedAndRecorded) {
  EXPECT_FALSE(*store_->UpsertHost("h1", "0.1.0", "sha256:aa", 10));
  EXPECT_FALSE(*store_->UpsertHost("h1", "0.1.0", "sha256:aa", 20));
  auto changed = store_->UpsertHost("h1", "0.2.0", "sha256:bb", 30);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  auto hosts = store_->ListHosts();
  ASSERT_TRUE(hosts.ok());
  ASSERT_EQ(hosts->size(), 1u);
  EXPECT_EQ((*hosts)[0].cert_fingerprint, "sha256:bb");
  EXPECT_EQ((*hosts)[0].agent_version, "0.2.0");
  EXPECT_EQ((*hosts)[0].first_seen, 10);
  EXPECT_EQ((*hosts)[0].last_seen, 30);
  // An older receive time never moves last_seen back.
  ASSERT_TRUE(store_->UpsertHost("h1", "", "", 5).ok());
  EXPECT_EQ((*store_->ListHosts())[0].last_seen, 30);
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT old_fingerprint, new_fingerprint, changed_at_text FROM "
                               "fingerprint_changes",
                               -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "sha256:aa");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)), "sha256:bb");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)), "1970-01-01T00:00:30Z");
  EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_F(StoreTest, SurvivesReopen) {
  Doc a = MakeDoc("a");
  ASSERT_EQ(*Put("id1", a, 100), PutResult::kStored);
  store_.reset();
  SqliteStore::Options no_create;
  no_create.create = false;
  auto s = SqliteStore::Open(path_, no_create);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto latest = (*s)->Latest("h1", std::nullopt);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->body, a.text);
  EXPECT_EQ(*(*s)->PutSnapshot(MakeSnapshotInput("h1", "id1", a.snapshot, a.text, 200)),
            PutResult::kDuplicate);
}

TEST(StoreFileTest, CreatedMode0600AndRefusedWhenOthersCanRead) {
  testing::TempRoot dir;
  std::string path = dir.Host("/t.db");
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Doc a = MakeDoc("a");
    ASSERT_TRUE((*s)->PutSnapshot(MakeSnapshotInput("h1", "i", a.snapshot, a.text, 1)).ok());
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    // SQLite gives the WAL the database's permissions.
    ASSERT_EQ(stat((path + "-wal").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
  for (unsigned mode : {0644u, 0660u, 0602u}) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    auto s = SqliteStore::Open(path);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
    EXPECT_NE(s.status().message().find("lets other users read or write"), std::string::npos)
        << s.status().message();
  }
  // A missing file is not created when only reading.
  SqliteStore::Options no_create;
  no_create.create = false;
  auto missing = SqliteStore::Open(dir.Host("/missing.db"), no_create);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  struct stat st {};
  EXPECT_NE(stat(dir.Host("/missing.db").c_str(), &st), 0);
  // A symlink is refused (O_NOFOLLOW).
  dir.Symlink("/link.db", path);
  auto link = SqliteStore::Open(dir.Host("/link.db"));
  EXPECT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::kLoop);
  EXPECT_NE(link.status().message().find("link.db: is a symbolic link; refused"), std::string::npos)
      << link.status().message();
}

TEST(StoreFileTest, CorruptedOrForeignDatabaseGivesAClearError) {
  testing::TempRoot dir;
  dir.Write("/garbage.db", std::string(8192, '\x5a'), 0600);
  auto g = SqliteStore::Open(dir.Host("/garbage.db"));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("garbage.db: not a tidemark database, or corrupted"),
            std::string::npos)
      << g.status().message();
  // SQLite's SQLITE_NOTADB: a damaged store as far as anyone can tell (the collector exits 3).
  EXPECT_EQ(g.status().code(), StatusCode::kDataLoss) << g.status().ToString();
  // A real SQLite database of something else.
  std::string other = dir.Host("/other.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_EQ(chmod(other.c_str(), 0600), 0);
  auto o = SqliteStore::Open(other);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("not a tidemark store"), std::string::npos)
      << o.status().message();
  EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);  // foreign, not damaged
  // A store whose schema page is damaged: SQLITE_CORRUPT before anything can be read.
  std::string smashed = dir.Host("/smashed.db");
  ASSERT_TRUE(SqliteStore::Open(smashed).ok());
  testing::SmashSchemaPage(smashed);
  auto d = SqliteStore::Open(smashed);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kDataLoss) << d.status().ToString();
  EXPECT_NE(d.status().message().find("smashed.db"), std::string::npos) << d.status().message();
  // Our schema from a future version.
  std::string future = dir.Host("/future.db");
  {
    ASSERT_TRUE(SqliteStore::Open(future).ok());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(future.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 9", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto f = SqliteStore::Open(future);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("schema version 9"), std::string::npos)
      << f.status().message();
}

TEST(StoreFileTest, DamagedPagesGiveAClearError) {
  testing::TempRoot dir;
  std::string path = dir.Host("/t.db");
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok());
    Doc a = MakeDoc("a");
    ASSERT_TRUE((*s)->PutSnapshot(MakeSnapshotInput("h1", "i", a.snapshot, a.text, 1)).ok());
  }  // the last connection checkpoints the WAL into the file
  std::string bytes = testing::ReadHostFile(path);
  ASSERT_GT(bytes.size(), 4096u);
  // Keep the header page (sqlite_master), overwrite every table page.
  dir.Write("/t.db", bytes.substr(0, 4096) + std::string(bytes.size() - 4096, 'x'), 0600);
  std::string message;
  auto s = SqliteStore::Open(path);
  if (!s.ok()) {
    message = s.status().message();
  } else {
    auto h = (*s)->History("h1");
    ASSERT_FALSE(h.ok());
    message = h.status().message();
  }
  EXPECT_NE(message.find("corrupted"), std::string::npos) << message;
  EXPECT_NE(message.find("t.db"), std::string::npos) << message;
}

// The version 1 schema (ids unique across the store), as stores made before (host, id) have it.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE hosts (id TEXT PRIMARY KEY, first_seen INTEGER NOT NULL,
  first_seen_text TEXT NOT NULL, last_seen INTEGER NOT NULL, last_seen_text TEXT NOT NULL,
  agent_version TEXT NOT NULL DEFAULT '', cert_fingerprint TEXT NOT NULL DEFAULT '');
CREATE TABLE fingerprint_changes (host TEXT NOT NULL REFERENCES hosts(id),
  old_fingerprint TEXT NOT NULL, new_fingerprint TEXT NOT NULL, changed_at INTEGER NOT NULL,
  changed_at_text TEXT NOT NULL);
CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  host TEXT NOT NULL REFERENCES hosts(id), received_at INTEGER NOT NULL,
  received_at_text TEXT NOT NULL, collected_at TEXT NOT NULL, collected_at_s INTEGER,
  agent_version TEXT NOT NULL DEFAULT '', content_hash TEXT NOT NULL, imported_by TEXT,
  body_encoding TEXT NOT NULL CHECK (body_encoding IN ('zstd')), body_size INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX snapshots_by_host ON snapshots (host, received_at, seq);
CREATE TABLE seen (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  host TEXT NOT NULL REFERENCES hosts(id), snapshot_seq INTEGER NOT NULL REFERENCES snapshots(seq),
  received_at INTEGER NOT NULL, received_at_text TEXT NOT NULL, collected_at TEXT NOT NULL,
  collected_at_s INTEGER, content_hash TEXT NOT NULL, imported_by TEXT);
CREATE INDEX seen_by_host ON seen (host, seq);
CREATE INDEX seen_by_received ON seen (received_at);
CREATE INDEX seen_by_snapshot ON seen (snapshot_seq, received_at);
INSERT INTO hosts VALUES ('h1', 1, 'a', 1, 'a', '', '');
INSERT INTO snapshots VALUES (1, 'shared', 'h1', 1, 'a', 'c', NULL, '', 'sha256:1', NULL, 'zstd',
  1, x'00');
INSERT INTO seen VALUES (2, 'shared-seen', 'h1', 1, 2, 'b', 'c', NULL, 'sha256:1', NULL);
)sql";

TEST(StoreFileTest, VersionOneStoreIsMigratedToIdsPerHost) {
  testing::TempRoot dir;
  std::string path = dir.Host("/v1.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* msg = nullptr;
    ASSERT_EQ(sqlite3_exec(db, kSchemaV1, nullptr, nullptr, &msg), SQLITE_OK) << msg;
    sqlite3_close(db);
  }
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // What was stored is kept, in order.
  auto h = (*s)->History("h1");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].id, "shared");
  EXPECT_EQ((*h)[1].id, "shared-seen");
  // Another host may now use the same ids.
  Doc a = MakeDoc("a");
  auto r = (*s)->PutSnapshot(MakeSnapshotInput("h2", "shared", a.snapshot, a.text, 5));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, PutResult::kStored);
  auto dup = (*s)->PutSnapshot(MakeSnapshotInput("h1", "shared", a.snapshot, a.text, 6));
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(*dup, PutResult::kDuplicate);
  auto problems = (*s)->IntegrityCheck(false);
  ASSERT_TRUE(problems.ok()) << problems.status().ToString();
  EXPECT_TRUE(problems->empty());
  s->reset();
  // Migrated on through version 5 (evaluations, baselines, reports); opening again changes
  // nothing.
  auto again = SqliteStore::Open(path);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 5);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(StoreFileTest, CorruptionIsStickyAndIntegrityCheckNamesIt) {
  testing::TempRoot dir;
  std::string path = dir.Host("/c.db");
  Doc a = MakeDoc("a"), b = MakeDoc("b");
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->PutSnapshot(MakeSnapshotInput("h1", "i1", a.snapshot, a.text, 1)).ok());
    EXPECT_FALSE((*s)->Corrupt());
  }
  testing::SmashRootPage(path, "sqlite_autoindex_snapshots_1");
  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();  // the header and schema are intact
  EXPECT_FALSE((*s)->Corrupt());
  auto r = (*s)->PutSnapshot(MakeSnapshotInput("h1", "i2", b.snapshot, b.text, 2));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("corrupted"), std::string::npos) << r.status().message();
  EXPECT_TRUE((*s)->Corrupt());
  auto problems = (*s)->IntegrityCheck(false);
  ASSERT_TRUE(problems.ok()) << problems.status().ToString();
  EXPECT_FALSE(problems->empty());
}

// The sqlite3 CLI is the oracle for the on-disk format: WAL, the documented tables, zstd bodies.
TEST(StoreFileTest, Sqlite3CliSeesWalAndTheDocumentedSchema) {
  TIDEMARK_REQUIRE(testing::HaveProgram("sqlite3"), "sqlite3 CLI not installed");
  testing::TempRoot dir;
  std::string path = dir.Host("/t.db");
  Snapshot big;
  big.host.id = "h1";
  big.collected_at = "2026-11-28T00:00:00Z";
  for (int i = 0; i < 500; ++i) {
    big.sections["accounts"].data["users"].push_back("user" + std::to_string(i));
  }
  std::string text = SerializeSnapshot(big);
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->PutSnapshot(MakeSnapshotInput("h1", "i1", big, text, 1764288000)).ok());
  }
  auto q = [&](const std::string& sql) {
    std::string out, err;
    int rc = testing::RunCommand("sqlite3 '" + path + "' \"" + sql + "\"", &out, &err);
    EXPECT_EQ(rc, 0) << err;
    return out;
  };
  EXPECT_EQ(q("PRAGMA journal_mode"), "wal\n");
  EXPECT_EQ(q("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
            "baselines\nevaluations\nfingerprint_changes\nhosts\nreports\nresult_items\n"
            "results\nschema_version\nseen\nsnapshots\n");
  EXPECT_EQ(q("SELECT version FROM schema_version"), "5\n");
  EXPECT_EQ(q("SELECT group_concat(name, ',') FROM pragma_table_info('snapshots')"),
            "seq,id,host,received_at,received_at_text,collected_at,collected_at_s,agent_version,"
            "content_hash,imported_by,body_encoding,body_size,body\n");
  EXPECT_EQ(q("SELECT received_at_text, collected_at_s, body_encoding, body_size = " +
              std::to_string(text.size()) + ", length(body) < body_size FROM snapshots"),
            "2025-11-28T00:00:00Z|1795824000|zstd|1|1\n");
  EXPECT_EQ(q("PRAGMA integrity_check"), "ok\n");
  // The unchanged-state path looks up a host's latest snapshot on every offer: through an
  // index, never by sorting all of the host's snapshots.
  std::string plan =
      q("EXPLAIN QUERY PLAN SELECT seq, content_hash FROM snapshots WHERE host = "
        "'h1' ORDER BY seq DESC LIMIT 1");
  EXPECT_NE(plan.find("snapshots_by_host_seq"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  // A store made without that index gets it when it is opened.
  q("DROP INDEX snapshots_by_host_seq");
  ASSERT_TRUE(SqliteStore::Open(path).ok());
  EXPECT_EQ(q("SELECT count(*) FROM sqlite_master WHERE name = 'snapshots_by_host_seq'"), "1\n");
}

}  // namespace
}  // namespace tidemark
