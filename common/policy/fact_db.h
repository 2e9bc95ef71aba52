// FactDb: one snapshot's fact tables (tables.h), served to an in-memory SQLite database as
// virtual tables over the loaded snapshot's data, and the only way to query them: one read-only
// SELECT at a time, bounded in work, with the tables it read reported back (so that an empty
// answer from a table whose section could not be read is `unknown`, never `pass`). One thread
// at a time per FactDb.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/snapshot.h"
#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tidemark::policy {

// What a query may cost before it is stopped (QueryResult is then an error naming the limit).
struct QueryLimits {
  uint64_t max_steps = 50'000'000;  // SQLite VM instructions, counted in steps of 1000
  size_t max_rows = 100'000;        // result rows
  int64_t max_millis = 10'000;      // wall time
  // All rules of one evaluation together (EvaluateLoaded): a snapshot made to be slow cannot
  // hold the collector's evaluator for rules x max_millis. Rules left are `error`.
  int64_t max_total_millis = 60'000;
};

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;  // null, integer, real or string per cell
  std::set<std::string> tables_read;              // fact tables the statement reads
};

class FactDb {
 public:
  // Opens an empty in-memory database with every fact table created.
  static StatusOr<std::unique_ptr<FactDb>> Open();
  ~FactDb();
  FactDb(const FactDb&) = delete;
  FactDb& operator=(const FactDb&) = delete;

  // Loads `snapshot` (replacing what was loaded before), decoded or straight from the
  // section readers (Section::items are read as data). A section whose data does not have the
  // documented shape leaves its tables empty and is `unknown_shape` in `sections`; that is not
  // an error of Load. The fact tables serve the snapshot's data in place (no row is copied into
  // SQLite): the FactDb keeps the snapshot until the next Load or its end.
  Status Load(std::shared_ptr<const Snapshot> snapshot);
  // The same for a snapshot whose content hash is known (DecodeSnapshot verified it, the
  // collector stored it): not computed again.
  Status Load(std::shared_ptr<const Snapshot> snapshot, std::string content_hash);
  // The same for a snapshot the caller keeps using: a copy is loaded (tests, one-off tools;
  // a caller that is done with its snapshot moves it into a shared_ptr instead).
  Status Load(const Snapshot& snapshot);
  Status Load(const Snapshot& snapshot, std::string content_hash);

  // Lets go of the loaded snapshot and its rows (the fact tables are empty until the next
  // Load): a caller done with a snapshot does not keep its memory until the next one.
  void Unload();

  // Runs `sql`, which must be exactly one SELECT (or WITH ... SELECT) over the fact tables:
  // anything that writes, ATTACH, PRAGMA, a transaction or a function outside SQLite's built-in
  // scalar, aggregate, date and JSON functions is refused with kInvalidArgument naming it; an
  // unknown table or column likewise. kTooLarge when a limit stops it.
  StatusOr<QueryResult> Query(std::string_view sql, const QueryLimits& limits = {}) const;
  // The same with named parameters (`:name` in the SQL; values null, boolean, integer, string,
  // or an array/object bound as JSON text). A parameter without a value is kInvalidArgument.
  using QueryParams = std::map<std::string, nlohmann::json>;
  StatusOr<QueryResult> Query(std::string_view sql, const QueryParams& params,
                              const QueryLimits& limits = {}) const;

  // Checks `sql` as Query would, without running it (unknown tables and columns included);
  // returns the names of its parameters (without the colon).
  StatusOr<std::vector<std::string>> CheckQuery(std::string_view sql) const;

  // Returns the source (file, line) of the row with `id` in the first of `tables` that has one
  // with a known file.
  std::optional<std::pair<std::string, std::optional<int64_t>>> SourceOf(
      const std::set<std::string>& tables, const std::string& id) const;

  // ---- The facts file: the fact tables of each host's latest judged state, on disk, so that
  // a query over a fleet reads SQL tables instead of decoding every snapshot (docs/store.md
  // "Facts"). Written by the collector's evaluator, read by `tidemarkctl query`. ----

  // Attaches the facts file at `path` (created with mode 0600 when missing; a file of another
  // table layout is emptied) to this database, for SaveFacts. Queries never read it.
  Status AttachFacts(const std::string& path);
  // Keeps what is loaded now as the facts of `host`'s state `seq` in the attached file,
  // replacing that host's older state's (never a newer one's). `keep`: the host's approved
  // baseline state, whose rows stay (or start to be kept) when they are in the file. One
  // transaction.
  Status SaveFacts(const std::string& host, int64_t seq, std::optional<int64_t> keep = {});

  // Opens the facts file read-only for queries over one stored state at a time: every fact
  // table is a view of the state chosen with SelectState. Reads the file as of its opening (one
  // read transaction, until the FactDb is destroyed). kNotFound when there is no file;
  // kInvalidArgument when it has another table layout (its states are then read the slow way).
  static StatusOr<std::unique_ptr<FactDb>> OpenFacts(const std::string& path);
  // Returns host -> the state whose facts the file holds (OpenFacts).
  StatusOr<std::map<std::string, int64_t>> FactStates() const;
  // Returns host -> its approved baseline's state, kept in the file beside the latest
  // (OpenFacts).
  StatusOr<std::map<std::string, int64_t>> KeptStates() const;
  // Makes the views show state `seq` (OpenFacts).
  Status SelectState(int64_t seq);

  // Returns the status of each section loaded ("ok", "partial", "error", "not_applicable",
  // "unknown_shape"); a section the snapshot lacks is not listed.
  const std::map<std::string, std::string>& section_status() const { return section_status_; }
  // Returns the content hash of the snapshot loaded ("" before a successful Load).
  const std::string& content_hash() const { return content_hash_; }

 private:
  struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const;
  };
  using PreparedStmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

  explicit FactDb(sqlite3* db);
  Status Exec(const std::string& sql);
  StatusOr<PreparedStmt> PrepareChecked(std::string_view sql, void* authorizer_context) const;

  // A prepared query and the fact tables it reads (recorded by the authorizer when prepared).
  struct CachedQuery {
    PreparedStmt stmt;
    std::set<std::string> tables_read;
  };
  static constexpr size_t kMaxCachedQueries = 1024;

  sqlite3* db_;
  mutable std::map<std::string, CachedQuery, std::less<>> query_cache_;
  // The internal statements (Load's rows of `sections` and `host`, SourceOf, SaveFacts,
  // SelectState), each prepared once and returned reset; nullptr when it does not prepare
  // (sqlite3_errmsg says why).
  sqlite3_stmt* Internal(const std::string& sql) const;
  mutable std::map<std::string, PreparedStmt, std::less<>> internal_;
  // SourceOf's look-up of one table, built at its first use after a Load or SelectState: id ->
  // (file, line) of the first row with that id and a known file.
  using SourceIndex =
      std::unordered_map<std::string, std::pair<std::string, std::optional<int64_t>>>;
  const SourceIndex* SourcesOf(const std::string& table) const;
  mutable std::map<std::string, SourceIndex, std::less<>> sources_;
  std::map<std::string, std::string> section_status_;
  // The rows of the fact tables, served to SQLite as virtual tables (fact_db.cpp).
  struct Loaded;
  std::unique_ptr<Loaded> loaded_;
  bool views_only_ = false;  // OpenFacts: the stored tables only through the fact views
  std::string content_hash_;
};

// Returns true when `status` of a section means its tables are complete ("ok" or
// "not_applicable").
bool SectionComplete(std::string_view status);

}  // namespace tidemark::policy
