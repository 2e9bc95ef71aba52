// SqliteStore: the embedded SnapshotStore, one SQLite file (WAL, synchronous=FULL, mode 0600).
//
// The schema, durability setting and retention are documented in docs/store.md. Bodies are
// compressed with zstd. Open() refuses a file that others may read or write, and a file that is
// not a tidemark database. One connection; used by one thread at a time. The implementation is
// split by concern: sqlite_store.cpp (hosts, snapshots, seen records, retention),
// sqlite_evaluations.cpp (evaluations); sqlite_store_impl.h holds what they share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "collector/store.h"

struct sqlite3;

namespace tidemark {

inline constexpr int kStoreSchemaVersion = 5;

// The facts file beside a store (docs/store.md "Facts"): the fact tables of each host's latest
// judged state, written by the collector's evaluator, read by `tidemarkctl query`.
inline std::string FactsPathFor(const std::string& db) { return db + "-facts"; }

class SqliteStore : public SnapshotStore {
 public:
  struct Options {
    bool create = true;  // create the file (mode 0600) and the schema when missing
  };

  // Opens (or creates) the database at `path`.
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path, Options options);
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path) {
    return Open(path, Options{});
  }
  // Opens the store at `path` only when it exists (the commands that read it): never creates an
  // empty store by mistake.
  static StatusOr<std::unique_ptr<SqliteStore>> OpenExisting(const std::string& path) {
    Options options;
    options.create = false;
    return Open(path, options);
  }
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StatusOr<bool> UpsertHost(const std::string& host, const std::string& agent_version,
                            const std::string& cert_fingerprint, int64_t seen_at) override;
  StatusOr<std::vector<StatusOr<bool>>> UpsertHostBatch(
      const std::vector<HostContact>& contacts) override;
  StatusOr<PutResult> PutSnapshot(const SnapshotInput& input) override;
  StatusOr<std::vector<StatusOr<PutResult>>> PutBatch(
      const std::vector<SnapshotInput>& inputs) override;
  StatusOr<PutResult> RecordSeen(const std::string& host, const std::string& snapshot_id,
                                 const std::string& content_hash, const std::string& collected_at,
                                 int64_t received_at) override;
  StatusOr<std::vector<StatusOr<PutResult>>> RecordSeenBatch(
      const std::vector<SeenInput>& inputs) override;
  StatusOr<std::vector<HostInfo>> ListHosts() override;
  StatusOr<StoredSnapshot> Latest(const std::string& host,
                                  std::optional<int64_t> at_or_before) override;
  StatusOr<StoredSnapshot> LatestState(const std::string& host,
                                       std::optional<int64_t> at_or_before) override;
  StatusOr<StoredSnapshot> SnapshotBySeq(int64_t seq) override;
  StatusOr<std::vector<int64_t>> PendingEvaluations(const std::string& policy_hash,
                                                    int64_t after_seq, int limit) override;
  Status PutEvaluations(const std::vector<EvaluationRecord>& records) override;
  StatusOr<std::optional<EvaluationRecord>> EvaluationOf(int64_t snapshot_seq,
                                                         std::optional<int64_t> at) override;
  StatusOr<std::vector<HistoryEntry>> History(const std::string& host) override;
  StatusOr<int64_t> Thin(int retention_days, int64_t now) override;
  Status ApproveBaseline(const BaselineApproval& approval) override;
  StatusOr<std::optional<BaselineApproval>> ApprovedBaseline(const std::string& host,
                                                             std::optional<int64_t> at) override;
  Status PutReport(const ReportRecord& report) override;
  StatusOr<std::optional<ReportRecord>> LatestReport(std::optional<int64_t> before) override;
  StatusOr<std::vector<ReportRecord>> ReportSummaries(int64_t from, int64_t to) override;
  bool Corrupt() const override;

  // Runs PRAGMA integrity_check (quick: PRAGMA quick_check, which skips index contents).
  // Returns SQLite's messages: empty when the database is intact. An error only when the
  // check could not run at all (a database too damaged to start it is reported as an error
  // whose message says it is corrupted).
  StatusOr<std::vector<std::string>> IntegrityCheck(bool quick);

 private:
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  // PutSnapshot's work; REQUIRES: inside a write transaction.
  StatusOr<PutResult> PutInTransaction(const SnapshotInput& input);
  StatusOr<PutResult> SeenInTransaction(const SeenInput& input);
  StatusOr<bool> UpsertHostInTransaction(const HostContact& contact);
  StatusOr<StoredSnapshot> LatestImpl(const std::string& host, std::optional<int64_t> at_or_before,
                                      bool with_body);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemark
