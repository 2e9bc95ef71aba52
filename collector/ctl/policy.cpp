// `tidemarkctl tables`, `query` and `evaluate` (commands.h): the fact tables (common/policy/)
// as the user sees them: their definitions; read-only SELECTs over the latest state of every
// host in the store or over snapshot files; a snapshot file judged against the policies.

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>

#include "collector/ctl/commands.h"
#include "collector/ctl/stored_facts.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate_command.h"
#include "common/policy/fact_db.h"
#include "common/policy/rules.h"
#include "common/policy/tables.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "common/text.h"

namespace tidemark::ctl {
namespace {

using json = nlohmann::json;

constexpr const char* kTablesFooter =
    "Lists the fact tables that rules and queries read: each table, the snapshot section it\n"
    "comes from and its columns. --format markdown prints docs/tables.md.\n"
    "Exit codes: 0 printed, 2 usage.\n";

constexpr const char* kQueryFooter =
    "Runs one read-only SELECT (or WITH ... SELECT) over the fact tables (docs/tables.md;\n"
    "tidemarkctl tables) of every host's latest state in the store received at or before\n"
    "TIME (default: now), or, with --snapshot FILE (repeatable), of the given snapshot files,\n"
    "one host at a time. A column `host` (the host id) comes first in every row (a column\n"
    "of the query named `host` is shown as `host:1`). Writes, ATTACH, PRAGMA and more than\n"
    "one statement are refused; a query that runs too long is stopped. --host GLOB (fnmatch,\n"
    "repeatable) limits the hosts. TIME is RFC 3339 or a date (its start in UTC).\n"
    "Text and CSV show cells as text, with control characters escaped (\\xNN); text cuts\n"
    "cells at 4096 bytes; JSON (an array of objects) keeps them whole.\n"
    "Exit codes: 0 done, 1 an SQL error, a snapshot or store that cannot be read, 2 usage.\n";

struct QueryOptions {
  std::string format;
  std::string sql;
  std::optional<int64_t> at;
  std::vector<std::string> hosts;      // globs
  std::vector<std::string> snapshots;  // files
};

int RunTables(const std::string& format, std::ostream& out) {
  const auto& tables = policy::FactTables();
  if (format == "markdown") {
    out << policy::TablesMarkdown();
    return 0;
  }
  if (format == "json") {
    json all = json::array();
    for (const policy::Table& t : tables) {
      json columns = json::array();
      for (const policy::Column& c : t.columns) {
        columns.push_back({{"name", c.name},
                           {"type", policy::ColumnTypeName(c.type)},
                           {"meaning", c.meaning},
                           {"from", c.path.empty() ? "/" + c.name : c.path},
                           {"compact_default", c.compact_default},
                           {"changes_by_itself", c.changes_by_itself}});
      }
      all.push_back({{"name", t.name},
                     {"section", t.section},
                     {"meaning", t.meaning},
                     {"columns", std::move(columns)}});
    }
    out << all.dump(2) << "\n";
    return 0;
  }
  for (const policy::Table& t : tables) {
    out << t.name << " (" << t.section << "): id, source_file, source_line";
    for (const policy::Column& c : t.columns) out << ", " << c.name;
    out << "\n";
  }
  return 0;
}

// Text cells are cut here (JSON keeps them whole): a host may have written a megabyte of GECOS.
constexpr size_t kMaxTextCellBytes = 4096;

// Writes rows as they come, host by host, in the chosen format.
class Printer {
 public:
  Printer(std::ostream& out, std::string format) : out_(out), format_(std::move(format)) {}

  void Rows(const std::string& host, const policy::QueryResult& result) {
    if (!header_done_) {
      header_done_ = true;
      columns_ = result.columns;
      // The added `host` comes first; a column of the query named so becomes `host:1`, as
      // SQLite names a repeated column.
      for (std::string& c : columns_) {
        if (c == "host") c = "host:1";
      }
      if (format_ == "json") {
        out_ << "[";
      } else {
        std::string sep = format_ == "csv" ? "," : "\t";
        out_ << "host";
        for (const std::string& c : columns_) {
          out_ << sep << (format_ == "csv" ? CsvField(c) : EscapeControl(c));
        }
        out_ << "\n";
      }
    }
    for (const auto& row : result.rows) {
      if (format_ == "json") {
        json o = {{"host", host}};
        for (size_t i = 0; i < row.size() && i < columns_.size(); ++i) o[columns_[i]] = row[i];
        out_ << (first_row_ ? "\n" : ",\n")
             << o.dump(-1, ' ', false, json::error_handler_t::replace);
      } else if (format_ == "csv") {
        out_ << CsvField(host);
        for (const json& v : row) {
          out_ << "," << CsvField(v.is_null() ? "" : CellText(v, "NULL"), v.is_string());
        }
        out_ << "\r\n";
      } else {
        // Text that came from a host: control characters escaped (common/text.h).
        out_ << EscapeControl(host);
        for (const json& v : row) {
          out_ << "\t" << EscapeControlBounded(CellText(v, "NULL"), kMaxTextCellBytes);
        }
        out_ << "\n";
      }
      first_row_ = false;
    }
  }

  void Finish() {
    if (format_ == "json") out_ << (header_done_ ? (first_row_ ? "]\n" : "\n]\n") : "[]\n");
  }

 private:
  std::ostream& out_;
  std::string format_;
  bool header_done_ = false;
  bool first_row_ = true;
  std::vector<std::string> columns_;
};

// Decodes one snapshot text, or says why not (after `label`).
std::optional<Snapshot> DecodeOrSay(const std::string& label, std::string_view text,
                                    std::ostream& err, std::string* content_hash) {
  StatusOr<Snapshot> snapshot = DecodeSnapshot(text, content_hash);
  if (!snapshot.ok()) {
    Fail(err, label + ": " + snapshot.status().message());
    return std::nullopt;
  }
  return std::move(*snapshot);
}

// Runs the query on what `db` shows now and prints its rows for `host`; returns false (after a
// message) on an error, and sets `stop` when the SQL itself is wrong (it would fail the same
// way on every host).
bool RunOn(const policy::FactDb& db, const std::string& label, const std::string& host,
           const std::string& sql, Printer& printer, std::ostream& err, bool& stop) {
  StatusOr<policy::QueryResult> result = db.Query(sql);
  if (!result.ok()) {
    stop = result.status().code() == StatusCode::kInvalidArgument;
    Fail(err, (stop ? "" : label + ": ") + result.status().message());
    return false;
  }
  printer.Rows(host, *result);
  return true;
}

// Loads one snapshot and runs the query on it (the rows labelled `host`).
bool QueryOne(policy::FactDb& db, const std::string& label, const std::string& host,
              std::shared_ptr<const Snapshot> snapshot, std::string content_hash,
              const std::string& sql, Printer& printer, std::ostream& err, bool& stop) {
  if (Status s = db.Load(std::move(snapshot), std::move(content_hash)); !s.ok()) {
    Fail(err, label + ": " + s.message());
    return false;
  }
  return RunOn(db, label, host, sql, printer, err, stop);
}

// `query --snapshot FILE...`: the query over each file (--host filters by the host id inside).
int QuerySnapshots(const QueryOptions& o, policy::FactDb& db, Printer& printer, CtlContext& ctx) {
  int rc = 0;
  bool stop = false;
  for (const std::string& file : o.snapshots) {
    StatusOr<std::string> text = ReadRegularFile(file, kMaxSnapshotFileBytes);
    if (!text.ok()) {
      rc = Fail(ctx.err, text.status());
      continue;
    }
    std::string hash;
    std::optional<Snapshot> snapshot = DecodeOrSay(file, *text, ctx.err, &hash);
    if (!snapshot) {
      rc = 1;
      continue;
    }
    if (!HostMatches(o.hosts, snapshot->host.id)) continue;
    std::string host = snapshot->host.id;
    if (!QueryOne(db, file, host, std::make_shared<const Snapshot>(std::move(*snapshot)),
                  std::move(hash), o.sql, printer, ctx.err, stop)) {
      rc = 1;
    }
    if (stop) return 1;
  }
  printer.Finish();
  return rc;
}

// Runs the query on one host's state at --at (StoredFacts: from the facts file when it holds
// that state). Returns false on an error.
bool QueryHost(const QueryOptions& o, SqliteStore& store, StoredFacts& facts,
               const std::string& host, Printer& printer, CtlContext& ctx, bool& stop) {
  auto state = store.LatestState(host, o.at);
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kNotFound) return true;  // nothing that early
    Fail(ctx.err, host + ": " + state.status().message());
    return false;
  }
  std::string label = "host " + host + " snapshot " + state->id;
  StatusOr<const policy::FactDb*> db = facts.Load(*state);
  if (!db.ok()) {
    Fail(ctx.err, label + ": " + db.status().message());
    return false;
  }
  return RunOn(**db, label, host, o.sql, printer, ctx.err, stop);
}

// `query` over the store: every host's latest state (at --at).
int QueryStore(const QueryOptions& o, Printer& printer, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  StoredFacts facts(**store, ctx.db);
  auto hosts = (*store)->ListHosts();
  if (!hosts.ok()) return Fail(ctx.err, hosts.status());
  int rc = 0;
  bool stop = false;
  for (const HostInfo& h : *hosts) {
    if (!HostMatches(o.hosts, h.id)) continue;
    if (!QueryHost(o, **store, facts, h.id, printer, ctx, stop)) rc = 1;
    if (stop) return 1;
  }
  printer.Finish();
  return rc;
}

int RunQuery(const QueryOptions& o, CtlContext& ctx) {
  StatusOr<std::unique_ptr<policy::FactDb>> db = policy::FactDb::Open();
  if (!db.ok()) return Fail(ctx.err, db.status());
  Printer printer(ctx.out, o.format);
  if (!o.snapshots.empty()) return QuerySnapshots(o, **db, printer, ctx);
  return QueryStore(o, printer, ctx);
}

void AddTablesCommand(CLI::App& app, CtlContext& ctx) {
  CLI::App* tables = app.add_subcommand("tables", "list the fact tables and their columns");
  tables->group("Fact tables (docs/tables.md)");
  tables->footer(kTablesFooter);
  auto format = std::make_shared<std::string>();
  AddFormat(*tables, *format, {"text", "json", "markdown"});
  tables->callback([&ctx, format] { ctx.rc = RunTables(*format, ctx.out); });
}

void AddQueryCommand(CLI::App& app, CtlContext& ctx) {
  CLI::App* query = app.add_subcommand(
      "query", "one read-only SELECT over the fact tables of every host's latest state");
  query->group("Fact tables (docs/tables.md)");
  query->footer(kQueryFooter);
  auto o = std::make_shared<QueryOptions>();
  query->add_option("SQL", o->sql, "one SELECT, quoted as one argument")->required();
  AddHostGlobs(*query, o->hosts);
  CLI::Option* snapshot =
      query->add_option("--snapshot", o->snapshots, "a snapshot file instead of the store")
          ->type_name("FILE");
  AddAt(*query, o->at, "the time to look back to (default: now)")->excludes(snapshot);
  AddFormat(*query, o->format, {"text", "json", "csv"});
  query->callback([&ctx, o] { ctx.rc = RunQuery(*o, ctx); });
}

void AddEvaluateCommand(CLI::App& app, CtlContext& ctx) {
  CLI::App* evaluate =
      app.add_subcommand("evaluate", "judge a snapshot file against the policies, offline");
  evaluate->group("Judgement (docs/policies.md)");
  evaluate->footer(policy::kEvaluateDetails);
  auto o = std::make_shared<policy::EvaluateOptions>();
  evaluate->add_option("--snapshot", o->snapshot_file, "the snapshot file")
      ->required()
      ->type_name("FILE");
  evaluate->add_option("--policies", o->policies, "a YAML file or a directory of them")
      ->type_name("DIR|FILE")
      ->capture_default_str();
  AddSeverity(*evaluate, "--fail-on", o->fail_on, "the least severity that fails (default high)");
  AddFormat(*evaluate, o->format, {"text", "json"});
  evaluate->add_option("--register", o->register_file, "apply this exception register (YAML)")
      ->type_name("FILE");
  CLI::Option* now =
      AddTime(*evaluate, "--now", o->now, "judge the register's statuses as at TIME");
  CLI::Option* received = AddTime(*evaluate, "--received-at", o->received_at,
                                  "the snapshot's receive time (default: its collected_at)");
  AddDuration(*evaluate, "--max-age", o->max_age,
              "evidence older than DUR does not prove a revocation (default 26h)");
  evaluate->callback([&ctx, o, now, received] {
    if (o->register_file.empty() && (now->count() > 0 || received->count() > 0)) {
      ctx.rc = Usage(ctx.err, "--now and --received-at go with --register FILE", "evaluate");
      return;
    }
    ctx.rc = policy::RunEvaluate(*o, "tidemarkctl evaluate", ctx.out, ctx.err);
  });
}

}  // namespace

void AddPolicyCommands(CLI::App& app, CtlContext& ctx) {
  AddTablesCommand(app, ctx);
  AddQueryCommand(app, ctx);
  AddEvaluateCommand(app, ctx);
}

}  // namespace tidemark::ctl
