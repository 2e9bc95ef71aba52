// SnapshotStore: where the collector keeps what agents send — hosts, every distinct snapshot
// (body included) and "seen" records for snapshots whose state was already stored.
//
// The receive time (given by the caller, the collector's clock) is authoritative for ordering;
// the agent's collected_at is recorded beside it and never used to order. A put is idempotent
// by (host, snapshot id): ids are scoped per host. Implementations: SqliteStore
// (collector/sqlite_store.h, the embedded default); docs/store.md describes the contract for
// another backend (PostgreSQL). An instance is used by one thread at a time; callers serialize
// access.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"
#include "common/snapshot_verify.h"
#include "common/status.h"
#include "common/time.h"

namespace tidemark {

// A snapshot to store. `body` is the document as received (EncodeSnapshot/SnapshotWriter text);
// the other fields are taken from its decoded form by the caller (see MakeSnapshotInput).
struct SnapshotInput {
  std::string host;          // the authenticated host id (certificate CN, or `import --as`)
  std::string snapshot_id;   // chosen by the sender; the same id is stored once
  std::string content_hash;  // "sha256:..." of the canonical sections
  std::string collected_at;  // the agent's clock, RFC 3339; recorded, never trusted
  std::string agent_version;
  std::string_view body;    // the whole snapshot document
  int64_t received_at = 0;  // the collector's clock, seconds since the epoch (authoritative)
  std::optional<std::string> imported_by;  // set for `tidemarkctl import`: who imported it
};

// Fills a SnapshotInput from a decoded snapshot and its text (body points into `text`).
SnapshotInput MakeSnapshotInput(const std::string& host, const std::string& snapshot_id,
                                const Snapshot& snapshot, std::string_view text,
                                int64_t received_at);

// Fills a SnapshotInput from a document verified by VerifySnapshotText and its text: the
// content hash computed while verifying, without decoding or hashing the body again.
SnapshotInput MakeSnapshotInput(const std::string& host, const std::string& snapshot_id,
                                const VerifiedSnapshot& snapshot, std::string_view text,
                                int64_t received_at);

// Returns the deterministic id of an imported snapshot: "import-" + 32 hex digits of
// SHA-256(host, content hash, collected_at), so importing the same file twice stores it once.
std::string ImportSnapshotId(const std::string& host, const Snapshot& snapshot);
std::string ImportSnapshotId(const std::string& host, const VerifiedSnapshot& snapshot);

// An offered content hash (the unchanged-state path), for RecordSeenBatch.
struct SeenInput {
  std::string host;
  std::string snapshot_id;
  std::string content_hash;
  std::string collected_at;
  int64_t received_at = 0;
};

// One agent's hello, as the store records it (UpsertHost).
struct HostContact {
  std::string host;
  std::string agent_version;
  std::string cert_fingerprint;
  int64_t seen_at = 0;
};

enum class PutResult {
  kStored,     // a new state: the body was stored
  kDuplicate,  // this snapshot id was already stored (or recorded as seen): nothing changed
  kSeen,       // same content hash as the host's latest snapshot: a "seen" record, no body
};
std::string_view PutResultName(PutResult result);

struct HostInfo {
  std::string id;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  std::string agent_version;     // empty when unknown
  std::string cert_fingerprint;  // empty when unknown (imported only)
  int64_t snapshot_count = 0;
  int64_t seen_count = 0;
};

struct StoredSnapshot {
  int64_t seq = 0;  // the receive sequence: the state's key (evaluations refer to it)
  std::string id;
  std::string host;
  int64_t received_at = 0;
  std::string collected_at;
  std::string content_hash;
  std::string agent_version;
  std::optional<std::string> imported_by;
  // The latest receive time (up to the asked time) at which this state was reported: its own
  // receive time, or its latest "seen" record's.
  int64_t last_confirmed_at = 0;
  std::string body;  // the document as received (decompressed); empty from LatestState
};

struct HistoryEntry {
  enum class Kind { kSnapshot, kSeen };
  Kind kind = Kind::kSnapshot;
  std::string id;
  int64_t received_at = 0;
  std::string collected_at;
  std::string content_hash;
  std::optional<std::string> imported_by;
  int64_t state_seq = 0;  // the state: a snapshot's own seq, or the one a "seen" reported again
};

// The results of evaluating one stored state against the collector's policies
// (docs/store.md "Evaluations"). Severity and outcome are kept as their names (the policy
// engine's words: "high", "fail"), so that the store does not depend on the engine.
struct StoredItem {
  std::string id;
  std::string detail;
  std::optional<std::string> source_file;
  std::optional<int64_t> source_line;
};

struct StoredResult {
  std::string rule_id;
  std::string title;
  std::string severity;           // critical, high, medium, low, info
  std::string outcome;            // pass, fail, unknown, error
  std::string message;            // unknown: which sections; error: what failed
  std::vector<StoredItem> items;  // fail: the violating items
};

struct EvaluationRecord {
  int64_t snapshot_seq = 0;           // the state evaluated (StoredSnapshot::seq)
  std::string policy_hash;            // which policies (PolicyHash: "sha256:...")
  int64_t evaluated_at = 0;           // the collector's clock
  std::vector<StoredResult> results;  // every rule that applied, in rule id order
};

// An approval of a host's stored state as its documented configuration (tidemarkctl baseline
// approve; docs/store.md "Baselines").
struct BaselineApproval {
  std::string host;
  int64_t snapshot_seq = 0;  // the state approved
  std::string approved_by;
  std::string note;
  int64_t approved_at = 0;  // the collector's (tidemarkctl's) clock
  // Filled when read: the approved state's snapshot id and receive time.
  std::string snapshot_id;
  int64_t snapshot_received_at = 0;
};

// One run of `tidemarkctl report` (docs/store.md "Reports").
struct ReportRecord {
  int64_t generated_at = 0;  // the report's --now
  std::string options;       // JSON: the options it ran with
  std::string summary;       // JSON: its summary
  std::string document;      // its whole JSON document
};

// How many results of an evaluation had each outcome.
struct OutcomeCounts {
  int64_t pass = 0, fail = 0, unknown = 0, error = 0;
};
OutcomeCounts CountOutcomes(const EvaluationRecord& record);

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  // Records that `host` spoke at `seen_at` with this agent version and certificate fingerprint.
  // Creates the host on first contact. Returns true when the host already had a different
  // fingerprint (the change is recorded in the fingerprint history; the caller logs it).
  virtual StatusOr<bool> UpsertHost(const std::string& host, const std::string& agent_version,
                                    const std::string& cert_fingerprint, int64_t seen_at) = 0;

  // Group commit of hellos: UpsertHost for each contact in one durable transaction (one fsync:
  // a reconnect storm of 10,000 agents is not 10,000 commits); each gets its own result as
  // UpsertHost would give it. The whole call fails only when the commit fails, and then nothing
  // of the batch is recorded.
  virtual StatusOr<std::vector<StatusOr<bool>>> UpsertHostBatch(
      const std::vector<HostContact>& contacts) = 0;

  // Stores a snapshot durably (committed before it returns: only then may the caller ack).
  // A snapshot id the host already used -> kDuplicate. A content hash equal to the host's latest
  // snapshot -> a "seen" record without the body (kSeen). Otherwise the body is stored (kStored).
  // Creates the host if needed and moves its last-seen time forward.
  virtual StatusOr<PutResult> PutSnapshot(const SnapshotInput& input) = 0;

  // Group commit: stores several snapshots (from several connections) in one durable
  // transaction, one fsync for all. Each gets its own result, as PutSnapshot would give it (a
  // failing one does not undo the others); the whole call fails only when the commit fails,
  // and then nothing of the batch is stored.
  virtual StatusOr<std::vector<StatusOr<PutResult>>> PutBatch(
      const std::vector<SnapshotInput>& inputs) = 0;

  // The unchanged-state path: the sender offers only the content hash. When it equals the
  // host's latest snapshot, records "seen" (kSeen) or, for a known id, kDuplicate. Otherwise
  // kNotFound: the sender must send the body.
  virtual StatusOr<PutResult> RecordSeen(const std::string& host, const std::string& snapshot_id,
                                         const std::string& content_hash,
                                         const std::string& collected_at, int64_t received_at) = 0;

  // Group commit of offers: RecordSeen for each input in one durable transaction (one fsync);
  // each gets its own result as RecordSeen would give it (kNotFound: send the body). The whole
  // call fails only when the commit fails, and then nothing of the batch is stored.
  virtual StatusOr<std::vector<StatusOr<PutResult>>> RecordSeenBatch(
      const std::vector<SeenInput>& inputs) = 0;

  // Returns all hosts, ordered by id.
  virtual StatusOr<std::vector<HostInfo>> ListHosts() = 0;

  // Returns the latest snapshot of `host` received at or before `at_or_before` (any time when
  // absent). kNotFound names the host when it is unknown or has nothing that early.
  virtual StatusOr<StoredSnapshot> Latest(const std::string& host,
                                          std::optional<int64_t> at_or_before) = 0;

  // Latest without the body (no decompression): what findings and listings need.
  virtual StatusOr<StoredSnapshot> LatestState(const std::string& host,
                                               std::optional<int64_t> at_or_before) = 0;

  // Returns the stored snapshot with receive sequence `seq`, body included. kNotFound when
  // there is none.
  virtual StatusOr<StoredSnapshot> SnapshotBySeq(int64_t seq) = 0;

  // ---- Evaluations (the collector evaluates every stored state; docs/store.md) ----

  // Returns up to `limit` sequence numbers greater than `after_seq`, ascending, of stored
  // states that need evaluating under `policy_hash`: those never evaluated at all, and each
  // host's latest state when it was not evaluated under this policy (so that a changed policy
  // re-judges every host's current state, while history keeps the verdicts it had).
  virtual StatusOr<std::vector<int64_t>> PendingEvaluations(const std::string& policy_hash,
                                                            int64_t after_seq, int limit) = 0;

  // Stores evaluations durably in one transaction. One already stored for the same state and
  // policy is kept (the call is idempotent). kNotFound when a state does not exist.
  virtual Status PutEvaluations(const std::vector<EvaluationRecord>& records) = 0;

  // Returns the evaluation of state `snapshot_seq` that was current at `at` (the latest one
  // evaluated at or before it; when all came later, the first one), or the latest when `at`
  // is absent; nullopt when the state was not evaluated yet.
  virtual StatusOr<std::optional<EvaluationRecord>> EvaluationOf(int64_t snapshot_seq,
                                                                 std::optional<int64_t> at) = 0;

  // Returns the host's snapshots and seen records in receive order. kNotFound: unknown host.
  virtual StatusOr<std::vector<HistoryEntry>> History(const std::string& host) = 0;

  // Retention: deletes "seen" records received before now - retention_days; every stored
  // snapshot (every distinct state) is kept. Returns how many records were deleted.
  virtual StatusOr<int64_t> Thin(int retention_days, int64_t now) = 0;

  // ---- Baselines ----

  // Records an approval (durably). kNotFound when the state does not exist or belongs to
  // another host.
  virtual Status ApproveBaseline(const BaselineApproval& approval) = 0;

  // Returns the host's approval in force at `at` (the latest approved at or before it), or the
  // latest; nullopt when none.
  virtual StatusOr<std::optional<BaselineApproval>> ApprovedBaseline(const std::string& host,
                                                                     std::optional<int64_t> at) = 0;

  // ---- Reports ----

  // Records a report run (durably).
  virtual Status PutReport(const ReportRecord& report) = 0;
  // Returns the latest report generated before `before` (any when absent); nullopt when none.
  virtual StatusOr<std::optional<ReportRecord>> LatestReport(std::optional<int64_t> before) = 0;
  // Returns the reports generated in [from, to), oldest first, with their time and summary
  // only (options and document left empty): the report's history chart.
  virtual StatusOr<std::vector<ReportRecord>> ReportSummaries(int64_t from, int64_t to) = 0;

  // Returns true once any call met a corrupted database (SQLite: SQLITE_CORRUPT or
  // SQLITE_NOTADB). Sticky: the collector stops acknowledging and exits when it sees it.
  virtual bool Corrupt() const { return false; }
};

}  // namespace tidemark
