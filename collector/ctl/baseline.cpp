// `tidemarkctl baseline approve|show` (commands.h): a host's stored state approved as its
// documented configuration (store.h, docs/store.md "Baselines"), and that state printed as
// documentation: accounts and rights, keys, sshd settings, listeners, SUID files, enabled
// services, sysctl. `drift --baseline` (drift.cpp) compares the latest state with it.
#include <memory>
#include <optional>
#include <set>

#include "collector/ctl/commands.h"
#include "collector/ctl/stored_facts.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate.h"
#include "common/policy/fact_db.h"
#include "common/text.h"
#include "common/time.h"

namespace tidemark::ctl {

namespace {

using json = nlohmann::json;

constexpr const char* kGroup = "Baselines and drift (docs/drift.md)";

constexpr const char* kApproveFooter =
    "Records HOST's stored state (its latest, or --snapshot ID) as its documented\n"
    "configuration, approved by --by NAME with --note TEXT (M 2.255: the security-relevant\n"
    "configuration of every system is documented). Approvals are kept; the latest counts.\n"
    "`baseline show` prints it, `drift --baseline` compares the latest state with it.\n"
    "--now TIME records the approval at TIME (default: now; the latest state then): never in\n"
    "the future, never before the approved state was received.\n"
    "Exit codes: 0 approved, 1 no such host or snapshot, or the store cannot be written,\n"
    "2 usage.\n";

constexpr const char* kShowFooter =
    "Prints HOST's approved baseline (the one in force at --at TIME, default: the latest) as\n"
    "documentation: who approved it, when and why, then the approved state's accounts,\n"
    "privileged group members, sudo grants, authorized keys, effective sshd settings,\n"
    "listeners, SUID/SGID files, enabled services and configured sysctl settings.\n"
    "--format markdown gives a page to keep with the migration's documents.\n"
    "Exit codes: 0 printed, 1 no approved baseline or the store cannot be read, 2 usage.\n";

struct BaselineOptions {
  std::string host;
  std::string snapshot;
  std::string by;
  std::string note;
  std::optional<int64_t> at;
  std::optional<int64_t> now;
  std::string format;
};

// One part of the documentation: a title and the query over the approved state.
struct Part {
  const char* title;
  const char* sql;
};

constexpr Part kParts[] = {
    {"Accounts",
     "SELECT name, uid, gid, shell, login_shell, password_status, source_file, source_line "
     "FROM users ORDER BY uid, name"},
    {"Privileged group members",
     "SELECT \"group\", user, via FROM privileged_members ORDER BY 1, 2"},
    {"sudo grants",
     "SELECT principal, host, runas_users, command, nopasswd, source_file, source_line FROM "
     "sudo_grants"},
    {"Authorized SSH keys",
     "SELECT user, type, bits, fingerprint, comment, source_file, source_line FROM ssh_keys"},
    {"Effective sshd settings", "SELECT keyword, value FROM sshd_settings"},
    {"Listeners", "SELECT proto, address, port, process, user, unit FROM listeners"},
    {"SUID and SGID files",
     "SELECT path, printf('%04o', mode) AS mode, owner, \"group\", package FROM suid_files"},
    {"Enabled services",
     "SELECT unit, user, exec_start, source_file FROM services WHERE enabled ORDER BY unit"},
    {"sysctl settings configured",
     "SELECT key, configured, runtime, source_file, source_line FROM sysctl WHERE configured "
     "IS NOT NULL ORDER BY key"},
};

// A cell in a Markdown table: escaped for a terminal, no line breaks, | escaped.
std::string MarkdownCell(const json& v) {
  std::string out;
  for (char c : Safe(CellText(v, ""), kMaxItemBytes)) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

int RunApprove(const BaselineOptions& o, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  BaselineApproval a;
  a.host = o.host;
  a.approved_by = o.by;
  a.note = o.note;
  const auto clock = NowSeconds();
  a.approved_at = o.now.value_or(clock);
  if (a.approved_at > clock) return Fail(ctx.err, "--now is in the future");
  int64_t received_at = 0;
  if (o.snapshot.empty()) {
    auto state = (*store)->LatestState(o.host, a.approved_at);
    if (!state.ok()) return Fail(ctx.err, state.status());
    a.snapshot_seq = state->seq;
    a.snapshot_id = state->id;
    received_at = state->received_at;
  } else {
    auto history = (*store)->History(o.host);
    if (!history.ok()) return Fail(ctx.err, history.status());
    for (const HistoryEntry& e : *history) {
      if (e.id == o.snapshot) {
        a.snapshot_seq = e.state_seq;
        a.snapshot_id = e.id;
        received_at = e.received_at;
      }
    }
    if (a.snapshot_seq == 0) {
      return Fail(ctx.err, "host " + o.host + " has no snapshot " + o.snapshot);
    }
  }
  if (a.approved_at < received_at) {
    return Fail(ctx.err, "snapshot " + a.snapshot_id + " was received at " +
                             FormatRfc3339(received_at) + ", after --now " +
                             FormatRfc3339(a.approved_at));
  }
  if (Status s = (*store)->ApproveBaseline(a); !s.ok()) return Fail(ctx.err, s);
  ctx.out << "approved " << Safe(o.host) << " snapshot " << Safe(a.snapshot_id) << " by "
          << Safe(o.by) << " at " << FormatRfc3339(a.approved_at) << "\n";
  return 0;
}

int RunShow(const BaselineOptions& o, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto approval = (*store)->ApprovedBaseline(o.host, o.at);
  if (!approval.ok()) return Fail(ctx.err, approval.status());
  if (!*approval) {
    return Fail(ctx.err, "host " + o.host + " has no approved baseline" +
                             (o.at ? " at " + FormatRfc3339(*o.at) : std::string()) +
                             " (tidemarkctl baseline approve)");
  }
  const BaselineApproval& a = **approval;
  StoredFacts facts(**store, ctx.db);
  StoredSnapshot state;
  state.seq = a.snapshot_seq;
  state.host = o.host;
  StatusOr<const policy::FactDb*> db = facts.Load(state);
  if (!db.ok()) return Fail(ctx.err, "snapshot " + a.snapshot_id + ": " + db.status().message());
  json parts = json::array();
  std::vector<policy::QueryResult> results;
  std::set<std::string> tables;
  for (const Part& p : kParts) {
    StatusOr<policy::QueryResult> r = (*db)->Query(p.sql);
    if (!r.ok()) return Fail(ctx.err, std::string(p.title) + ": " + r.status().message());
    tables.insert(r->tables_read.begin(), r->tables_read.end());
    results.push_back(std::move(*r));
  }
  // A part whose section is missing or incomplete documents less than the host has.
  policy::SectionProblems problems = policy::ProblemsOf(**db, tables);
  std::string incomplete = problems.absent;
  if (!problems.partial.empty()) incomplete += (incomplete.empty() ? "" : "; ") + problems.partial;
  if (o.format == "json") {
    for (size_t i = 0; i < results.size(); ++i) {
      json rows = json::array();
      for (const auto& row : results[i].rows) {
        json obj = json::object();
        for (size_t c = 0; c < row.size(); ++c) obj[results[i].columns[c]] = row[c];
        rows.push_back(std::move(obj));
      }
      parts.push_back({{"title", kParts[i].title}, {"rows", std::move(rows)}});
    }
    json doc = {{"host", o.host},
                {"snapshot", a.snapshot_id},
                {"received_at", FormatRfc3339(a.snapshot_received_at)},
                {"approved_by", a.approved_by},
                {"approved_at", FormatRfc3339(a.approved_at)},
                {"note", a.note},
                {"sections", (*db)->section_status()},
                {"incomplete", incomplete},
                {"parts", std::move(parts)}};
    ctx.out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  const bool md = o.format == "markdown";
  ctx.out << (md ? "# Documented configuration of " : "baseline of ") << Safe(o.host) << "\n"
          << (md ? "\n" : "") << (md ? "- " : "") << "snapshot " << Safe(a.snapshot_id)
          << ", received " << FormatRfc3339(a.snapshot_received_at) << "\n"
          << (md ? "- " : "") << "approved by " << Safe(a.approved_by) << " at "
          << FormatRfc3339(a.approved_at) << ": " << Safe(a.note, kMaxMessageBytes) << "\n";
  if (!incomplete.empty()) {
    ctx.out << (md ? "- " : "") << "not collected fully: " << Safe(incomplete, kMaxMessageBytes)
            << "\n";
  }
  for (size_t i = 0; i < results.size(); ++i) {
    const policy::QueryResult& r = results[i];
    ctx.out << "\n" << (md ? "## " : "== ") << kParts[i].title << " (" << r.rows.size() << ")\n";
    if (r.rows.empty()) continue;
    if (md) {
      ctx.out << "\n|";
      for (const std::string& c : r.columns) ctx.out << " " << c << " |";
      ctx.out << "\n|";
      for (size_t c = 0; c < r.columns.size(); ++c) ctx.out << " --- |";
      ctx.out << "\n";
      for (const auto& row : r.rows) {
        ctx.out << "|";
        for (const json& v : row) ctx.out << " " << MarkdownCell(v) << " |";
        ctx.out << "\n";
      }
      continue;
    }
    for (size_t c = 0; c < r.columns.size(); ++c) ctx.out << (c ? "\t" : "") << r.columns[c];
    ctx.out << "\n";
    for (const auto& row : r.rows) {
      for (size_t c = 0; c < row.size(); ++c) {
        ctx.out << (c ? "\t" : "") << Safe(CellText(row[c], ""), kMaxItemBytes);
      }
      ctx.out << "\n";
    }
  }
  return 0;
}

}  // namespace

void AddBaselineCommands(CLI::App& app, CtlContext& ctx) {
  CLI::App* baseline =
      app.add_subcommand("baseline", "approve a host's state as its documented configuration");
  baseline->group(kGroup);
  baseline->require_subcommand(1);
  auto approve = std::make_shared<BaselineOptions>();
  CLI::App* a = AddCommand(*baseline, kGroup, ctx, approve, "approve",
                           "record a stored state of HOST as its documented configuration",
                           kApproveFooter, &RunApprove);
  a->add_option("HOST", approve->host, "the host")->required()->check(HostId());
  a->add_option("--snapshot", approve->snapshot, "this snapshot (default: the latest state)")
      ->type_name("ID");
  a->add_option("--by", approve->by, "who approves it")->required()->type_name("NAME");
  a->add_option("--note", approve->note, "why, or what it documents")
      ->required()
      ->type_name("TEXT");
  AddTime(*a, "--now", approve->now, "record the approval at TIME (default: now)");
  auto show = std::make_shared<BaselineOptions>();
  CLI::App* s =
      AddCommand(*baseline, kGroup, ctx, show, "show",
                 "print HOST's approved baseline as documentation", kShowFooter, &RunShow);
  s->add_option("HOST", show->host, "the host")->required()->check(HostId());
  AddAt(*s, show->at, "the approval in force at TIME (default: the latest)");
  AddFormat(*s, show->format, {"text", "json", "markdown"});
}

}  // namespace tidemark::ctl
