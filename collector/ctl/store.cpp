// The store's commands (commands.h): hosts, show, history, import, check, thin, over the
// collector's SQLite store (--db FILE, docs/store.md).
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>

#include "collector/ctl/commands.h"
#include "collector/sqlite_store.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "common/snapshot_verify.h"
#include "common/time.h"

namespace tidemark::ctl {
namespace {

constexpr const char* kGroup = "The collector's store (--db FILE)";

// The arguments of one store command (each command uses its own).
struct StoreArgs {
  std::string format;
  std::string host;
  std::string file;
  std::optional<int64_t> at;
  std::optional<int64_t> received_at;  // import: the receive time to record (not later than now)
  int64_t days = 0;
};

}  // namespace

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

int StoreImported(CtlContext& ctx, const std::string& host, const std::string& text,
                  const VerifiedSnapshot& snapshot, int64_t received_at,
                  const std::string& imported_by, const std::string& format) {
  auto store = SqliteStore::Open(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  SnapshotInput in =
      MakeSnapshotInput(host, ImportSnapshotId(host, snapshot), snapshot, text, received_at);
  in.imported_by = imported_by;
  auto result = (*store)->PutSnapshot(in);
  if (!result.ok()) return Fail(ctx.err, result.status());
  if (format == "json") {
    ctx.out << nlohmann::json{{"result", PutResultName(*result)},
                              {"host", host},
                              {"id", in.snapshot_id},
                              {"content_hash", in.content_hash},
                              {"imported_by", *in.imported_by}}
                   .dump(2)
            << "\n";
  } else {
    ctx.out << PutResultName(*result) << " " << host << " " << Safe(in.snapshot_id) << " "
            << Safe(in.content_hash) << "\n";
  }
  return 0;
}

namespace {

nlohmann::json OptionalJson(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

int CmdHosts(const StoreArgs& a, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto hosts = (*store)->ListHosts();
  if (!hosts.ok()) return Fail(ctx.err, hosts.status());
  if (a.format == "json") {
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
    ctx.out << nlohmann::json{{"hosts", list}}.dump(2) << "\n";
    return 0;
  }
  ctx.out << "HOST\tLAST_SEEN\tSNAPSHOTS\tSEEN\tAGENT\n";
  for (const HostInfo& h : *hosts) {
    ctx.out << Safe(h.id) << "\t" << FormatRfc3339(h.last_seen) << "\t" << h.snapshot_count << "\t"
            << h.seen_count << "\t" << (h.agent_version.empty() ? "-" : Safe(h.agent_version))
            << "\n";
  }
  return 0;
}

// `show --format text`: the stored fields as comment lines, then the document.
void PrintShowText(const StoredSnapshot& snap, std::ostream& out) {
  out << "# snapshot " << Safe(snap.id) << "\n# host " << Safe(snap.host) << "\n# received "
      << FormatRfc3339(snap.received_at) << "\n# last_confirmed "
      << FormatRfc3339(snap.last_confirmed_at) << "\n# collected " << Safe(snap.collected_at)
      << "\n# content_hash " << Safe(snap.content_hash) << "\n";
  if (!snap.agent_version.empty()) out << "# agent_version " << Safe(snap.agent_version) << "\n";
  if (snap.imported_by) out << "# imported_by " << Safe(*snap.imported_by) << "\n";
  out << snap.body;
  if (snap.body.empty() || snap.body.back() != '\n') out << "\n";
}

int CmdShow(const StoreArgs& a, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto snap = (*store)->Latest(a.host, a.at);
  if (!snap.ok()) return Fail(ctx.err, snap.status());
  if (a.format == "snapshot") {  // the document alone, as received: for summary, verify, diff
    ctx.out << snap->body;
    return 0;
  }
  if (a.format == "text") {
    PrintShowText(*snap, ctx.out);
    return 0;
  }
  nlohmann::json body = nlohmann::json::parse(snap->body, nullptr, false);
  if (body.is_discarded()) return Fail(ctx.err, "snapshot " + Safe(snap->id) + " is not JSON");
  nlohmann::json j = {{"id", snap->id},
                      {"host", snap->host},
                      {"received_at", FormatRfc3339(snap->received_at)},
                      {"last_confirmed_at", FormatRfc3339(snap->last_confirmed_at)},
                      {"collected_at", snap->collected_at},
                      {"content_hash", snap->content_hash},
                      {"agent_version", snap->agent_version},
                      {"imported_by", OptionalJson(snap->imported_by)},
                      {"snapshot", std::move(body)}};
  ctx.out << j.dump(2) << "\n";
  return 0;
}

int CmdHistory(const StoreArgs& a, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto history = (*store)->History(a.host);
  if (!history.ok()) return Fail(ctx.err, history.status());
  auto kind = [](const HistoryEntry& e) {
    return e.kind == HistoryEntry::Kind::kSnapshot ? "snapshot" : "seen";
  };
  if (a.format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const HistoryEntry& e : *history) {
      list.push_back({{"kind", kind(e)},
                      {"id", e.id},
                      {"received_at", FormatRfc3339(e.received_at)},
                      {"collected_at", e.collected_at},
                      {"content_hash", e.content_hash},
                      {"imported_by", OptionalJson(e.imported_by)}});
    }
    ctx.out << nlohmann::json{{"host", a.host}, {"history", list}}.dump(2) << "\n";
    return 0;
  }
  ctx.out << "KIND\tID\tRECEIVED\tCOLLECTED\tCONTENT_HASH\tIMPORTED_BY\n";
  for (const HistoryEntry& e : *history) {
    ctx.out << kind(e) << "\t" << Safe(e.id) << "\t" << FormatRfc3339(e.received_at) << "\t"
            << Safe(e.collected_at) << "\t" << Safe(e.content_hash) << "\t"
            << (e.imported_by ? Safe(*e.imported_by) : "-") << "\n";
  }
  return 0;
}

int CmdImport(const StoreArgs& a, CtlContext& ctx) {
  StatusOr<std::string> text = ReadRegularFile(a.file, kMaxSnapshotFileBytes);
  if (!text.ok()) return Fail(ctx.err, text.status());
  auto snapshot = VerifySnapshotText(*text);  // streaming: no tree of the document
  if (!snapshot.ok()) return Fail(ctx.err, a.file + ": " + snapshot.status().message());
  const auto now = NowSeconds();
  if (a.received_at && *a.received_at > now) {
    return Usage(ctx.err,
                 "--received-at " + FormatRfc3339(*a.received_at) +
                     " is in the future: a receive time is never later than now",
                 "import");
  }
  return StoreImported(ctx, a.host, *text, *snapshot, a.received_at.value_or(now), InvokingUser(),
                       a.format);
}

int CmdThin(const StoreArgs& a, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto n = (*store)->Thin(static_cast<int>(a.days), NowSeconds());
  if (!n.ok()) return Fail(ctx.err, n.status());
  if (a.format == "json") {
    ctx.out << nlohmann::json{{"deleted_seen_records", *n}, {"retention_days", a.days}}.dump()
            << "\n";
  } else {
    ctx.out << "deleted " << *n << " seen record(s) older than " << a.days
            << " day(s); every distinct snapshot is kept\n";
  }
  return 0;
}

// `check`: the store's integrity (PRAGMA integrity_check). Exit 0 "ok", 1 "corrupt" with
// SQLite's messages (or when the file cannot even be opened as a store), on standard output:
// the answer, not an error of the command.
int CmdCheck(CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) {
    ctx.out << ctx.db << ": corrupt or unreadable: " << store.status().message() << "\n";
    return 1;
  }
  auto problems = (*store)->IntegrityCheck(/*quick=*/false);
  if (!problems.ok()) {
    ctx.out << ctx.db << ": corrupt: " << problems.status().message() << "\n";
    return 1;
  }
  if (problems->empty()) {
    ctx.out << ctx.db << ": ok\n";
    return 0;
  }
  ctx.out << ctx.db << ": corrupt (" << problems->size() << " problem(s); restore from a backup)\n";
  for (const std::string& p : *problems) ctx.out << "  " << Safe(p, kMaxMessageBytes) << "\n";
  return 1;
}

void AddReadingCommands(CLI::App& app, CtlContext& ctx) {
  auto hosts_args = std::make_shared<StoreArgs>();
  CLI::App* hosts = AddCommand(
      app, kGroup, ctx, hosts_args, "hosts",
      "list hosts: last seen, snapshot and seen counts, agent version",
      "Lists the hosts of the store: last seen, snapshot and seen counts, agent version.\n"
      "Exit codes: 0 listed, 1 store error, 2 usage.\n",
      CmdHosts);
  AddFormat(*hosts, hosts_args->format, {"text", "json"});

  auto show_args = std::make_shared<StoreArgs>();
  CLI::App* show =
      AddCommand(app, kGroup, ctx, show_args, "show",
                 "print the latest snapshot of HOST received at or before --at TIME",
                 "Prints the latest snapshot of HOST received at or before TIME (default: now).\n"
                 "TIME is RFC 3339 (2026-11-28T19:00:00Z, 2026-11-28T20:00:00+01:00) or a date\n"
                 "(2026-12-03, meaning 2026-12-03T00:00:00Z, the start of that day in UTC).\n"
                 "--format snapshot prints the document alone, as received.\n"
                 "Exit codes: 0 printed, 1 unknown host or store error, 2 usage.\n",
                 CmdShow);
  show->add_option("HOST", show_args->host, "a host id")->required();
  AddAt(*show, show_args->at, "the time to look back to (default: now)");
  AddFormat(*show, show_args->format, {"text", "json", "snapshot"});

  auto history_args = std::make_shared<StoreArgs>();
  CLI::App* history = AddCommand(
      app, kGroup, ctx, history_args, "history",
      "one line per stored snapshot and per 'seen' record of HOST",
      "One line per stored snapshot (id, received, collected, content hash) and per 'seen'\n"
      "record, in receive order.\n"
      "Exit codes: 0 printed, 1 unknown host or store error, 2 usage.\n",
      CmdHistory);
  history->add_option("HOST", history_args->host, "a host id")->required();
  AddFormat(*history, history_args->format, {"text", "json"});
}

void AddUpkeepCommands(CLI::App& app, CtlContext& ctx) {
  auto import_args = std::make_shared<StoreArgs>();
  CLI::App* import_cmd = AddCommand(
      app, kGroup, ctx, import_args, "import",
      "store a snapshot collected offline (tidemark-agent collect --root)",
      "Stores a snapshot collected offline (tidemark-agent collect --root) for HOST (a host\n"
      "id: 1 to 253 of A-Z a-z 0-9 . - _), marked as imported by the invoking user.\n"
      "Its receive time is now, or --received-at TIME (RFC 3339, or a date meaning its\n"
      "start in UTC; never later than now) to rebuild a history collected earlier: an\n"
      "earlier time can only make evidence older, never fresher (docs/exceptions.md).\n"
      "Exit codes: 0 stored (or already there), 1 not a valid snapshot or store error,\n"
      "2 usage.\n",
      CmdImport);
  import_cmd->add_option("FILE", import_args->file, "a snapshot file")->required();
  import_cmd->add_option("--as", import_args->host, "the host it is stored for")
      ->required()
      ->check(HostId())
      ->type_name("HOST");
  AddTime(*import_cmd, "--received-at", import_args->received_at,
          "the receive time to record (default: now)");
  AddFormat(*import_cmd, import_args->format, {"text", "json"});

  CLI::App* check = app.add_subcommand("check", "the store's integrity (SQLite integrity_check)");
  check->group(kGroup);
  check->footer(
      "Checks the store's integrity (SQLite PRAGMA integrity_check) and prints 'ok' or\n"
      "the problems SQLite found.\n"
      "Exit codes: 0 ok, 1 corrupt or not readable, 2 usage.\n");
  check->callback([&ctx] { ctx.rc = CmdCheck(ctx); });

  auto thin_args = std::make_shared<StoreArgs>();
  CLI::App* thin = AddCommand(
      app, kGroup, ctx, thin_args, "thin", "retention: delete 'seen' records older than N days",
      "Retention: deletes 'seen' records older than N days (0 to 36500); every distinct\n"
      "snapshot is kept (the collector does this daily with its retention_days setting).\n"
      "Exit codes: 0 done, 1 store error, 2 usage.\n",
      CmdThin);
  thin->add_option("--days", thin_args->days, "the age in days")
      ->required()
      ->check(CLI::Range(0, 36500))
      ->type_name("N");
  AddFormat(*thin, thin_args->format, {"text", "json"});
}

}  // namespace

void AddStoreCommands(CLI::App& app, CtlContext& ctx) {
  AddReadingCommands(app, ctx);
  AddUpkeepCommands(app, ctx);
}

}  // namespace tidemark::ctl
