// tidemarkctl (ctl.h): the command dispatch, the global help, and the store's own commands
// (hosts, show, history, import, check, thin, verify, canonical). The other command groups live
// beside it: pki.cpp, policy.cpp (tables, query, evaluate), findings.cpp; common.cpp holds
// what they share.
#include "collector/ctl/ctl.h"

#include <pwd.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>

#include "collector/ctl/pki.h"
#include "collector/ctl/policy.h"
#include "collector/server.h"
#include "collector/sqlite_store.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "common/snapshot_verify.h"
#include "common/text.h"
#include "common/transport/protocol.h"

namespace tidemark::ctl {
namespace {

constexpr const char* kDefaultDb = "/var/lib/tidemark/tidemark.db";
// Bounds of agent-controlled fields in text output: ids and versions are short by rule, but a
// stored value is shown whatever it is (escaped, cut).
constexpr size_t kMaxFieldBytes = 256;
constexpr size_t kMaxMessageBytes = 1024;

// Text that came from an agent or a file, made safe for a terminal and for a tab-separated row
// (common/text.h escapes tabs and newlines too).
std::string Safe(std::string_view text, size_t max_bytes = kMaxFieldBytes) {
  return EscapeControlBounded(text, max_bytes);
}

// The help of each command: `tidemarkctl COMMAND --help`.
const std::map<std::string, std::string>& CommandHelp() {
  static const std::map<std::string, std::string> kHelp = {
      {"verify",
       "Usage: tidemarkctl verify FILE...\n"
       "Decodes each snapshot file, checks its schema version and content hash; prints\n"
       "'FILE: ok HOST HASH' per good file and 'FILE: ERROR' on standard error per bad one.\n"
       "Exit codes: 0 all good, 1 at least one file is not a valid snapshot, 2 usage.\n"},
      {"canonical",
       "Usage: tidemarkctl canonical FILE\n"
       "Prints the canonical form of a snapshot's sections (what its content hash covers).\n"
       "Exit codes: 0 printed, 1 not a valid snapshot, 2 usage.\n"},
      {"hosts",
       "Usage: tidemarkctl [--db FILE] hosts [--format text|json]\n"
       "Lists the hosts of the store: last seen, snapshot and seen counts, agent version.\n"
       "Exit codes: 0 listed, 1 store error, 2 usage.\n"},
      {"show",
       "Usage: tidemarkctl [--db FILE] show HOST [--at TIME] [--format text|json|snapshot]\n"
       "Prints the latest snapshot of HOST received at or before TIME (default: now).\n"
       "TIME is RFC 3339 (2026-11-28T19:00:00Z, 2026-11-28T20:00:00+01:00) or a date\n"
       "(2026-12-03, meaning 2026-12-03T00:00:00Z, the start of that day in UTC).\n"
       "--format snapshot prints the document alone, as received.\n"
       "Exit codes: 0 printed, 1 unknown host or store error, 2 usage.\n"},
      {"history",
       "Usage: tidemarkctl [--db FILE] history HOST [--format text|json]\n"
       "One line per stored snapshot (id, received, collected, content hash) and per 'seen'\n"
       "record, in receive order.\n"
       "Exit codes: 0 printed, 1 unknown host or store error, 2 usage.\n"},
      {"import",
       "Usage: tidemarkctl [--db FILE] import FILE --as HOST [--format text|json]\n"
       "Stores a snapshot collected offline (tidemark-agent collect --root) for HOST (a host\n"
       "id: 1 to 253 of A-Z a-z 0-9 . - _), marked as imported by the invoking user.\n"
       "Exit codes: 0 stored (or already there), 1 not a valid snapshot or store error,\n"
       "2 usage.\n"},
      {"check",
       "Usage: tidemarkctl [--db FILE] check\n"
       "Checks the store's integrity (SQLite PRAGMA integrity_check) and prints 'ok' or\n"
       "the problems SQLite found.\n"
       "Exit codes: 0 ok, 1 corrupt or not readable, 2 usage.\n"},
      {"thin",
       "Usage: tidemarkctl [--db FILE] thin --days N [--format text|json]\n"
       "Retention: deletes 'seen' records older than N days (0 to 36500); every distinct\n"
       "snapshot is kept.\n"
       "Exit codes: 0 done, 1 store error, 2 usage.\n"},
  };
  return kHelp;
}

void PrintUsage(std::ostream& out) {
  out << "Usage: tidemarkctl [--db FILE] COMMAND [ARGS] [--format text|json]\n"
         "\n"
         "Snapshot files:\n"
         "  verify FILE...          decode each snapshot, check its schema version and content "
         "hash;\n"
         "                          prints 'FILE: ok HOST HASH' or 'FILE: ERROR'\n"
         "  canonical FILE          print the canonical form of a snapshot's sections (what is "
         "hashed)\n"
         "\n"
         "The collector's store (--db FILE, default "
      << kDefaultDb
      << "):\n"
         "  hosts                   list hosts: last seen, snapshot and seen counts, agent "
         "version\n"
         "  show HOST [--at TIME]   print the latest snapshot of HOST received at or before TIME\n"
         "                          (RFC 3339, e.g. 2026-11-28T19:00:00Z, or a date 2026-12-03\n"
         "                          meaning its start in UTC; default: now)\n"
         "  history HOST            one line per stored snapshot (id, received, collected, "
         "content\n"
         "                          hash) and per 'seen' record, in receive order\n"
         "  import FILE --as HOST   store a snapshot collected offline (tidemark-agent collect\n"
         "                          --root), marked as imported by the invoking user\n"
         "  check                   the store's integrity (SQLite integrity_check): exit 0 "
         "ok,\n"
         "                          1 corrupt (with SQLite's messages)\n"
         "  thin --days N           retention: delete 'seen' records older than N days; every\n"
         "                          distinct snapshot is kept (the collector does this daily\n"
         "                          with its retention_days setting)\n"
         "\n"
         "Fact tables (docs/tables.md):\n"
         "  tables                  list the fact tables and their columns (--format\n"
         "                          text|json|markdown)\n"
         "  query SQL               one read-only SELECT over the fact tables of every host's\n"
         "                          latest state (--host GLOB, --at TIME), or of snapshot files\n"
         "                          (--snapshot FILE...); --format text|json|csv\n"
         "\n"
         "Judgement (docs/policies.md):\n"
         "  evaluate --snapshot FILE judge a snapshot file against the policies, offline\n"
         "  findings                what the collector found in every host's latest state (or\n"
         "                          at --at TIME): --host, --rule, --severity, --format\n"
         "\n"
         "Certificates (tidemarkctl pki --help):\n"
         "  pki init|issue|revoke   a file-based CA for the collector and its agents\n"
         "\n"
         "--format text|json       output format of hosts, show, history, import and thin "
         "(default\n"
         "                          text); show --format snapshot prints the document alone\n"
         "\n"
         "Host and agent text (ids, versions, times, file names, errors) is shown with control\n"
         "characters escaped (\\xNN, \\uXXXX) and long fields cut.\n"
         "tidemarkctl COMMAND --help shows the help of COMMAND; tidemarkctl --version the "
         "version.\n"
         "\n"
         "Exit codes: 0 all good, 1 failure (a rejected snapshot, an unknown host, a store "
         "error,\n"
         "an internal error), 2 usage error.\n";
}

// Decodes a snapshot file: the named edge of decoding, so that whatever a file holds ends in a
// clear error, never in an abort.
StatusOr<Snapshot> Decode(std::string_view text) {
  try {
    return DecodeSnapshot(text);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInvalidArgument, std::string("not a valid snapshot: ") + e.what());
  }
}

// Who runs this import: the effective user, and the sudo caller when there is one. A hint for
// the audit trail (SUDO_USER is set by sudo; a user could set it, but only for their own run).
std::string InvokingUser() {
  std::string name;
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) {
    name = pw->pw_name;
  } else {
    name = "uid " + std::to_string(geteuid());
  }
  const char* sudo_user = std::getenv("SUDO_USER");
  if (sudo_user && *sudo_user && name != sudo_user) {
    return std::string(sudo_user) + " (as " + name + " via sudo)";
  }
  return name;
}

nlohmann::json OptionalJson(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

struct Options {
  std::string db = kDefaultDb;
  std::string format = "text";
  std::optional<std::string> at;
  std::optional<std::string> as;
  std::optional<std::string> days;
  std::vector<std::string> positional;
};

int Fail(std::ostream& err, const Status& status) {
  err << "tidemarkctl: " << Safe(status.message(), kMaxMessageBytes) << "\n";
  return 1;
}

int Usage(std::ostream& err, const std::string& message) {
  err << "tidemarkctl: " << Safe(message, kMaxMessageBytes) << "\nTry 'tidemarkctl --help'.\n";
  return 2;
}

int CmdHosts(SnapshotStore& store, const Options& o, std::ostream& out, std::ostream& err) {
  auto hosts = store.ListHosts();
  if (!hosts.ok()) return Fail(err, hosts.status());
  if (o.format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const HostInfo& h : *hosts) {
      list.push_back({{"id", h.id},
                      {"first_seen", FormatRfc3339(h.first_seen)},
                      {"last_seen", FormatRfc3339(h.last_seen)},
                      {"agent_version", h.agent_version},
                      {"cert_fingerprint", h.cert_fingerprint},
                      {"snapshots", h.snapshot_count},
                      {"seen", h.seen_count}});
    }
    out << nlohmann::json{{"hosts", list}}.dump(2) << "\n";
    return 0;
  }
  out << "HOST\tLAST_SEEN\tSNAPSHOTS\tSEEN\tAGENT\n";
  for (const HostInfo& h : *hosts) {
    out << Safe(h.id) << "\t" << FormatRfc3339(h.last_seen) << "\t" << h.snapshot_count << "\t"
        << h.seen_count << "\t" << (h.agent_version.empty() ? "-" : Safe(h.agent_version)) << "\n";
  }
  return 0;
}

int CmdShow(SnapshotStore& store, const Options& o, std::ostream& out, std::ostream& err) {
  std::optional<int64_t> at;
  if (o.at) {
    auto t = ParseAt(*o.at);
    if (!t.ok()) return Usage(err, "--at: " + t.status().message());
    at = *t;
  }
  auto snap = store.Latest(o.positional[1], at);
  if (!snap.ok()) return Fail(err, snap.status());
  if (o.format == "snapshot") {  // the document alone, as received: for summary, verify, diff
    out << snap->body;
    return 0;
  }
  if (o.format == "json") {
    nlohmann::json body = nlohmann::json::parse(snap->body, nullptr, false);
    if (body.is_discarded()) {
      return Fail(err, Status(StatusCode::kIoError, "snapshot " + Safe(snap->id) + " is not JSON"));
    }
    nlohmann::json j = {{"id", snap->id},
                        {"host", snap->host},
                        {"received_at", FormatRfc3339(snap->received_at)},
                        {"last_confirmed_at", FormatRfc3339(snap->last_confirmed_at)},
                        {"collected_at", snap->collected_at},
                        {"content_hash", snap->content_hash},
                        {"agent_version", snap->agent_version},
                        {"imported_by", OptionalJson(snap->imported_by)},
                        {"snapshot", std::move(body)}};
    out << j.dump(2) << "\n";
    return 0;
  }
  out << "# snapshot " << Safe(snap->id) << "\n# host " << Safe(snap->host) << "\n# received "
      << FormatRfc3339(snap->received_at) << "\n# last_confirmed "
      << FormatRfc3339(snap->last_confirmed_at) << "\n# collected " << Safe(snap->collected_at)
      << "\n# content_hash " << Safe(snap->content_hash) << "\n";
  if (snap->agent_version.size() > 0)
    out << "# agent_version " << Safe(snap->agent_version) << "\n";
  if (snap->imported_by) out << "# imported_by " << Safe(*snap->imported_by) << "\n";
  out << snap->body;
  if (snap->body.empty() || snap->body.back() != '\n') out << "\n";
  return 0;
}

int CmdHistory(SnapshotStore& store, const Options& o, std::ostream& out, std::ostream& err) {
  auto history = store.History(o.positional[1]);
  if (!history.ok()) return Fail(err, history.status());
  auto kind = [](const HistoryEntry& e) {
    return e.kind == HistoryEntry::Kind::kSnapshot ? "snapshot" : "seen";
  };
  if (o.format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const HistoryEntry& e : *history) {
      list.push_back({{"kind", kind(e)},
                      {"id", e.id},
                      {"received_at", FormatRfc3339(e.received_at)},
                      {"collected_at", e.collected_at},
                      {"content_hash", e.content_hash},
                      {"imported_by", OptionalJson(e.imported_by)}});
    }
    out << nlohmann::json{{"host", o.positional[1]}, {"history", list}}.dump(2) << "\n";
    return 0;
  }
  out << "KIND\tID\tRECEIVED\tCOLLECTED\tCONTENT_HASH\tIMPORTED_BY\n";
  for (const HistoryEntry& e : *history) {
    out << kind(e) << "\t" << Safe(e.id) << "\t" << FormatRfc3339(e.received_at) << "\t"
        << Safe(e.collected_at) << "\t" << Safe(e.content_hash) << "\t"
        << (e.imported_by ? Safe(*e.imported_by) : "-") << "\n";
  }
  return 0;
}

int CmdImport(const Options& o, std::ostream& out, std::ostream& err) {
  const std::string& file = o.positional[1];
  const std::string& host = *o.as;
  if (!protocol::IsValidHostId(host)) {
    return Usage(err, "--as: '" + host.substr(0, 64) +
                          "' is not a host id (letters, digits, '.', '-', '_'; at most 253; not "
                          "starting with '.' or '-'; no '..')");
  }
  StatusOr<std::string> read = ReadRegularFile(file, kMaxSnapshotFileBytes);
  if (!read.ok()) return Fail(err, read.status());
  const std::string& text = *read;
  auto snapshot = VerifySnapshotText(text);  // streaming: no tree of the document
  if (!snapshot.ok()) {
    return Fail(err, Status(snapshot.status().code(), file + ": " + snapshot.status().message()));
  }
  auto store = SqliteStore::Open(o.db);
  if (!store.ok()) return Fail(err, store.status());
  SnapshotInput in = MakeSnapshotInput(host, ImportSnapshotId(host, *snapshot), *snapshot, text,
                                       static_cast<int64_t>(std::time(nullptr)));
  in.imported_by = InvokingUser();
  auto result = (*store)->PutSnapshot(in);
  if (!result.ok()) return Fail(err, result.status());
  if (o.format == "json") {
    out << nlohmann::json{{"result", PutResultName(*result)},
                          {"host", host},
                          {"id", in.snapshot_id},
                          {"content_hash", in.content_hash},
                          {"imported_by", *in.imported_by}}
               .dump(2)
        << "\n";
  } else {
    out << PutResultName(*result) << " " << host << " " << Safe(in.snapshot_id) << " "
        << Safe(in.content_hash) << "\n";
  }
  return 0;
}

int CmdThin(const Options& o, std::ostream& out, std::ostream& err) {
  int64_t days = 0;
  auto [p, ec] = std::from_chars(o.days->data(), o.days->data() + o.days->size(), days);
  if (ec != std::errc() || p != o.days->data() + o.days->size() || days < 0 || days > 36500) {
    return Usage(err, "--days: a whole number of days from 0 to 36500");
  }
  SqliteStore::Options open_options;
  open_options.create = false;
  auto store = SqliteStore::Open(o.db, open_options);
  if (!store.ok()) return Fail(err, store.status());
  auto n = (*store)->Thin(static_cast<int>(days), static_cast<int64_t>(std::time(nullptr)));
  if (!n.ok()) return Fail(err, n.status());
  if (o.format == "json") {
    out << nlohmann::json{{"deleted_seen_records", *n}, {"retention_days", days}}.dump() << "\n";
  } else {
    out << "deleted " << *n << " seen record(s) older than " << days
        << " day(s); every distinct snapshot is kept\n";
  }
  return 0;
}

// `check`: the store's integrity (PRAGMA integrity_check). Exit 0 "ok", 1 "corrupt" with
// SQLite's messages (or when the file cannot even be opened as a store).
int CmdCheck(const Options& o, std::ostream& out, std::ostream& err) {
  SqliteStore::Options open_options;
  open_options.create = false;
  auto store = SqliteStore::Open(o.db, open_options);
  if (!store.ok()) {
    out << o.db << ": corrupt or unreadable: " << store.status().message() << "\n";
    return 1;
  }
  auto problems = (*store)->IntegrityCheck(/*quick=*/false);
  if (!problems.ok()) {
    out << o.db << ": corrupt: " << problems.status().message() << "\n";
    return 1;
  }
  if (problems->empty()) {
    out << o.db << ": ok\n";
    return 0;
  }
  out << o.db << ": corrupt (" << problems->size() << " problem(s); restore from a backup)\n";
  for (const std::string& p : *problems) out << "  " << EscapeControl(p) << "\n";
  (void)err;
  return 1;
}

int RunStoreCommand(const Options& o, std::ostream& out, std::ostream& err) {
  const std::string& command = o.positional[0];
  if (command == "import") return CmdImport(o, out, err);
  SqliteStore::Options open_options;
  open_options.create = false;  // reading: never create an empty store by mistake
  auto store = SqliteStore::Open(o.db, open_options);
  if (!store.ok()) return Fail(err, store.status());
  if (command == "hosts") return CmdHosts(**store, o, out, err);
  if (command == "show") return CmdShow(**store, o, out, err);
  return CmdHistory(**store, o, out, err);
}

int RunCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    PrintUsage(err);
    return 2;
  }
  if (args[0] == "pki") return RunPki({args.begin() + 1, args.end()}, out, err);
  if (IsPolicyCommand(args)) return RunPolicyCommand(args, kDefaultDb, out, err);
  if (args[0] == "--version" || args[0] == "version") {
    out << "tidemarkctl " << collector::kCollectorVersion << "\n";
    return 0;
  }
  Options o;
  static const std::map<std::string, std::optional<std::string> Options::*> kOptional = {
      {"--at", &Options::at}, {"--as", &Options::as}, {"--days", &Options::days}};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help" || (a == "help" && o.positional.empty())) {
      // `tidemarkctl COMMAND --help` and `tidemarkctl help COMMAND`: that command's help.
      std::string topic = !o.positional.empty()                  ? o.positional[0]
                          : (a == "help" && i + 1 < args.size()) ? args[i + 1]
                                                                 : "";
      if (topic == "pki") return RunPki({"--help"}, out, err);
      if (const char* policy_help = PolicyCommandHelp(topic)) {
        out << policy_help;
        return 0;
      }
      auto help = CommandHelp().find(topic);
      if (help != CommandHelp().end()) {
        out << help->second;
      } else {
        PrintUsage(out);
      }
      return 0;
    }
    if (a == "--version") {
      out << "tidemarkctl " << collector::kCollectorVersion << "\n";
      return 0;
    }
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string name = a, value;
      bool has_value = false;
      if (size_t eq = a.find('='); eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_value = true;
      }
      if (name != "--db" && name != "--format" && !kOptional.count(name)) {
        return Usage(err, "unknown option '" + name + "'");
      }
      if (!has_value) {
        if (i + 1 >= args.size()) return Usage(err, name + " needs a value");
        value = args[++i];
      }
      if (name == "--db") {
        o.db = value;
      } else if (name == "--format") {
        if (value != "text" && value != "json" && value != "snapshot") {
          return Usage(err, "--format: text or json (show also: snapshot)");
        }
        o.format = value;
      } else {
        o.*(kOptional.at(name)) = value;
      }
      continue;
    }
    o.positional.push_back(a);
  }
  if (o.positional.empty()) return Usage(err, "no command");
  const std::string& command = o.positional[0];
  const size_t n = o.positional.size();
  if (o.at && command != "show") return Usage(err, "--at belongs to 'show'");
  if (o.as && command != "import") return Usage(err, "--as belongs to 'import'");
  if (o.days && command != "thin") return Usage(err, "--days belongs to 'thin'");
  if (o.format == "snapshot" && command != "show") {
    return Usage(err, "--format snapshot belongs to 'show'");
  }
  if (command == "thin" && n == 1) {
    if (!o.days) return Usage(err, "thin needs --days N");
    return CmdThin(o, out, err);
  }
  if (command == "hosts" && n == 1) return RunStoreCommand(o, out, err);
  if (command == "check" && n == 1) return CmdCheck(o, out, err);
  if ((command == "show" || command == "history") && n == 2) return RunStoreCommand(o, out, err);
  if (command == "import" && n == 2) {
    if (!o.as) return Usage(err, "import needs --as HOST");
    return RunStoreCommand(o, out, err);
  }
  if ((command == "verify" && n >= 2) || (command == "canonical" && n == 2)) {
    int rc = 0;
    for (size_t i = 1; i < n; ++i) {
      const std::string& file = o.positional[i];
      StatusOr<std::string> read = ReadRegularFile(file, kMaxSnapshotFileBytes);
      if (!read.ok()) {
        err << Safe(read.status().message(), kMaxMessageBytes) << "\n";
        rc = 1;
        continue;
      }
      const std::string& text = *read;
      auto snapshot = Decode(text);
      if (!snapshot.ok()) {
        err << Safe(file, kMaxMessageBytes) << ": "
            << Safe(snapshot.status().message(), kMaxMessageBytes) << "\n";
        rc = 1;
        continue;
      }
      if (command == "canonical") {
        out << CanonicalSections(*snapshot) << "\n";
      } else {
        out << Safe(file, kMaxMessageBytes) << ": ok " << Safe(snapshot->host.id) << " "
            << ContentHash(*snapshot) << "\n";
      }
    }
    return rc;
  }
  err << "tidemarkctl: unknown command or wrong arguments: '" << Safe(command)
      << "'\nTry 'tidemarkctl --help'.\n";
  return 2;
}

}  // namespace

StatusOr<int64_t> ParseAt(const std::string& text) {
  bool date = text.size() == 10 && text[4] == '-' && text[7] == '-';
  for (size_t i = 0; date && i < text.size(); ++i) {
    if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9')) date = false;
  }
  return ParseRfc3339(date ? text + "T00:00:00Z" : text);
}

int RunCtl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  // The named edge of every command: an exception (a bug, a library) is a clear error, exit 1.
  try {
    return RunCommand(args, out, err);
  } catch (const std::exception& e) {
    err << "tidemarkctl: internal error: " << Safe(e.what(), kMaxMessageBytes) << "\n";
  } catch (...) {
    err << "tidemarkctl: internal error: unknown exception\n";
  }
  return 1;
}

}  // namespace tidemark::ctl
