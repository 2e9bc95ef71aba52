#include "collector/ctl/policy.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "collector/ctl/common.h"
#include "collector/ctl/ctl.h"
#include "collector/ctl/findings.h"
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

constexpr const char* kTablesHelp =
    "Usage: tidemarkctl tables [--format text|json|markdown]\n"
    "Lists the fact tables that rules and queries read: each table, the snapshot section it\n"
    "comes from and its columns. --format markdown prints docs/tables.md.\n"
    "Exit codes: 0 printed, 2 usage.\n";

constexpr const char* kQueryHelp =
    "Usage: tidemarkctl [--db FILE] query SQL [--host GLOB] [--at TIME] [--format text|json|csv]\n"
    "       tidemarkctl query SQL --snapshot FILE... [--format text|json|csv]\n"
    "Runs one read-only SELECT (or WITH ... SELECT) over the fact tables (docs/tables.md;\n"
    "tidemarkctl tables) of every host's latest state in the store received at or before\n"
    "TIME (default: now), or of the given snapshot files, one host at a time. A column\n"
    "`host` (the host id) comes first in every row (a column of the query named `host`\n"
    "is shown as `host:1`). Writes, ATTACH, PRAGMA and more than one\n"
    "statement are refused; a query that runs too long is stopped. --host GLOB (fnmatch,\n"
    "repeatable) limits the hosts. TIME is RFC 3339 or a date (its start in UTC).\n"
    "Text and CSV show cells as text, with control characters escaped (\\xNN); text cuts\n"
    "cells at 4096 bytes; JSON (an array of objects) keeps them whole.\n"
    "Exit codes: 0 done, 1 an SQL error, a snapshot or store that cannot be read, 2 usage.\n";

struct QueryOptions {
  std::string db;
  std::string format = "text";
  std::optional<std::string> sql;
  std::optional<std::string> at;
  std::vector<std::string> hosts;      // globs
  std::vector<std::string> snapshots;  // files
};

using policy::OptionValue;

int RunTables(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string format = "text";
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kTablesHelp;
      return 0;
    }
    if (a == "--format" || a.rfind("--format=", 0) == 0) {
      if (a == "--format") {
        if (i + 1 >= args.size()) return Usage(err, "--format needs a value");
        format = args[++i];
      } else {
        format = a.substr(9);
      }
      if (format != "text" && format != "json" && format != "markdown") {
        return Usage(err, "--format: text, json or markdown");
      }
      continue;
    }
    return Usage(err, "tables: unexpected argument '" + a + "'");
  }
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

std::string CellText(const json& v) {
  if (v.is_null()) return "NULL";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Text cells are cut here (JSON keeps them whole): a host may have written a megabyte of GECOS.
constexpr size_t kMaxTextCellBytes = 4096;

// A CSV field (RFC 4180). Host text is escaped as in text output (control characters, invalid
// UTF-8, bidi overrides: common/text.h), so that a CSV shown in a terminal or imported cannot
// carry escape sequences or line breaks of a host's making. A text cell that a spreadsheet
// would take for a formula (it starts with =, +, -, @, as OWASP's "CSV injection" lists) gets
// a leading ' (numbers are written as they are).
std::string CsvField(const std::string& raw, bool text_cell = true) {
  std::string text = EscapeControl(raw);
  if (text_cell && !text.empty() && std::string_view("=+-@").find(text[0]) != std::string::npos) {
    text.insert(0, 1, '\'');
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

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
          out_ << "," << CsvField(v.is_null() ? "" : CellText(v), v.is_string());
        }
        out_ << "\r\n";
      } else {
        // Text that came from a host: control characters escaped (common/text.h).
        out_ << EscapeControl(host);
        for (const json& v : row) {
          out_ << "\t" << EscapeControlBounded(CellText(v), kMaxTextCellBytes);
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

// Loads one snapshot and runs the query; returns false (after a message) on an error, and sets
// `stop` when the SQL itself is wrong (it would fail the same way on every host).
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
              const Snapshot& snapshot, std::string content_hash, const std::string& sql,
              Printer& printer, std::ostream& err, bool& stop) {
  if (Status s = db.Load(snapshot, std::move(content_hash)); !s.ok()) {
    Fail(err, label + ": " + s.message());
    return false;
  }
  return RunOn(db, label, host, sql, printer, err, stop);
}

int RunQuery(const std::vector<std::string>& args, const std::string& default_db, std::ostream& out,
             std::ostream& err) {
  QueryOptions o;
  o.db = default_db;
  bool seen_command = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kQueryHelp;
      return 0;
    }
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string name;
      std::string value;
      if (!OptionValue(args, i, name, value)) return Usage(err, a + " needs a value");
      if (name == "--db") {
        o.db = value;
      } else if (name == "--format") {
        if (value != "text" && value != "json" && value != "csv") {
          return Usage(err, "--format: text, json or csv");
        }
        o.format = value;
      } else if (name == "--host") {
        o.hosts.push_back(value);
      } else if (name == "--at") {
        o.at = value;
      } else if (name == "--snapshot") {
        o.snapshots.push_back(value);
      } else {
        return Usage(err, "query: unknown option '" + name + "'");
      }
      continue;
    }
    if (!seen_command) {
      seen_command = true;  // "query"
      continue;
    }
    if (o.sql) return Usage(err, "query takes one SQL argument (quote it)");
    o.sql = a;
  }
  if (!o.sql) return Usage(err, "query needs SQL, e.g. tidemarkctl query 'SELECT name FROM users'");
  if (!o.snapshots.empty() && o.at) return Usage(err, "--at reads the store, not --snapshot files");

  StatusOr<std::unique_ptr<policy::FactDb>> db = policy::FactDb::Open();
  if (!db.ok()) return Fail(err, db.status().message());
  Printer printer(out, o.format);
  int rc = 0;
  bool stop = false;
  if (!o.snapshots.empty()) {
    for (const std::string& file : o.snapshots) {
      StatusOr<std::string> text = ReadRegularFile(file, kMaxSnapshotFileBytes);
      if (!text.ok()) {
        rc = Fail(err, text.status().message());
        continue;
      }
      std::string hash;
      std::optional<Snapshot> snapshot = DecodeOrSay(file, *text, err, &hash);
      if (!snapshot) {
        rc = 1;
        continue;
      }
      // --host filters snapshot files too, by the host id inside.
      if (!HostMatches(o.hosts, snapshot->host.id)) continue;
      if (!QueryOne(**db, file, snapshot->host.id, *snapshot, std::move(hash), *o.sql, printer, err,
                    stop)) {
        rc = 1;
      }
      if (stop) return 1;
    }
    printer.Finish();
    return rc;
  }

  std::optional<int64_t> at;
  if (o.at) {
    StatusOr<int64_t> t = ParseAt(*o.at);
    if (!t.ok()) return Usage(err, "--at: " + t.status().message());
    at = *t;
  }
  SqliteStore::Options open_options;
  open_options.create = false;
  auto store = SqliteStore::Open(o.db, open_options);
  if (!store.ok()) return Fail(err, store.status().message());
  // The fast way: the facts file the collector's evaluator keeps (each host's latest judged
  // state as SQL tables). A state it does not hold (not judged yet, older than --at asks for,
  // no facts file) is decoded from its snapshot instead: the same rows, more slowly.
  auto facts = policy::FactDb::OpenFacts(FactsPathFor(o.db));
  std::map<std::string, int64_t> fact_states;
  if (facts.ok()) {
    auto states = (*facts)->FactStates();
    if (states.ok()) fact_states = std::move(*states);
  }
  auto hosts = (*store)->ListHosts();
  if (!hosts.ok()) return Fail(err, hosts.status().message());
  for (const HostInfo& h : *hosts) {
    if (!HostMatches(o.hosts, h.id)) continue;
    auto state = (*store)->LatestState(h.id, at);
    if (!state.ok()) {
      if (state.status().code() == StatusCode::kNotFound) continue;  // nothing that early
      rc = Fail(err, h.id + ": " + state.status().message());
      continue;
    }
    std::string label = "host " + h.id + " snapshot " + state->id;
    if (auto it = fact_states.find(h.id); it != fact_states.end() && it->second == state->seq) {
      Status selected = (*facts)->SelectState(state->seq);
      if (selected.ok()) {
        if (!RunOn(**facts, label, h.id, *o.sql, printer, err, stop)) rc = 1;
        if (stop) return 1;
        continue;
      }
    }
    auto snap = (*store)->Latest(h.id, at);
    if (!snap.ok()) {
      rc = Fail(err, h.id + ": " + snap.status().message());
      continue;
    }
    std::string hash;
    std::optional<Snapshot> snapshot = DecodeOrSay(label, snap->body, err, &hash);
    if (!snapshot ||
        !QueryOne(**db, label, h.id, *snapshot, std::move(hash), *o.sql, printer, err, stop)) {
      rc = 1;
    }
    if (stop) return 1;
  }
  printer.Finish();
  return rc;
}

}  // namespace

bool IsPolicyCommand(const std::vector<std::string>& args) {
  std::string command = CommandOf(args);
  return command == "tables" || command == "query" || command == "evaluate" ||
         command == "findings";
}

int RunPolicyCommand(const std::vector<std::string>& args, const std::string& default_db,
                     std::ostream& out, std::ostream& err) {
  std::string command = CommandOf(args);
  if (command == "tables") return RunTables(WithoutDb(args), out, err);
  if (command == "evaluate") {
    std::vector<std::string> rest = WithoutDb(args);  // evaluate reads no store
    return policy::RunEvaluateCommand({rest.begin() + 1, rest.end()}, "tidemarkctl evaluate", out,
                                      err);
  }
  if (command == "findings") return RunFindings(args, default_db, out, err);
  return RunQuery(args, default_db, out, err);
}

const char* PolicyCommandHelp(const std::string& command) {
  if (command == "tables") return kTablesHelp;
  if (command == "query") return kQueryHelp;
  if (command == "evaluate") return policy::kEvaluateHelp;
  if (command == "findings") return kFindingsHelp;
  return nullptr;
}

}  // namespace tidemark::ctl
