// `tidemarkctl drift HOST` and `baseline approve|show` (commands.h): what changed in a host's
// fact tables between two of its stored states, or since its approved baseline
// (common/policy/drift.h), each change with the receive time of the state from which on it
// held; the approved baseline recorded and printed as the host's documented configuration.
#include "common/policy/drift.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>

#include "collector/ctl/commands.h"
#include "collector/ctl/fleet.h"
#include "collector/ctl/stored_facts.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate.h"
#include "common/policy/evaluate_command.h"
#include "common/policy/exceptions.h"
#include "common/policy/register.h"
#include "common/text.h"
#include "common/time.h"

namespace tidemark::ctl {

namespace {

using json = nlohmann::json;
using policy::Change;
using policy::ChangeKind;

constexpr const char* kDriftFooter =
    "Lists what changed in HOST's fact tables (docs/tables.md) between two of its stored\n"
    "states: items added, removed and changed by their id, each with the columns before and\n"
    "after and the receive time of the state from which on it held. Columns that change on\n"
    "their own (a log file's mtime, a listener's process id) and where an item is written\n"
    "(source_file, source_line) do not count; a section whose status changed is listed\n"
    "(docs/drift.md).\n"
    "  (default)         from the state before the latest to the latest\n"
    "  --since TIME|DUR  from the state current at TIME (RFC 3339, a date, or a duration\n"
    "                    back from now or --now TIME: 24h, 30d) to the latest\n"
    "  --from ID --to ID between two snapshots of the host (--to defaults to the latest)\n"
    "  --baseline        from the approved baseline (tidemarkctl baseline approve) to the\n"
    "                    latest; every addition or change of a security-relevant item (a\n"
    "                    UID 0 account, a sudo grant, a key for root, a listener, a SUID\n"
    "                    file, an sshd setting) is a finding unless an active exception of\n"
    "                    --register FILE covers it (--now TIME, --policies as for\n"
    "                    `exceptions`)\n"
    "Exit codes: 0 nothing changed (--baseline: no finding), 3 something changed (--baseline:\n"
    "a finding), 1 an error, 2 usage.\n";

struct DriftOptions {
  std::string host;
  std::string since;
  std::string from;
  std::string to;
  bool baseline = false;
  std::string register_file;
  std::string policies = policy::kDefaultPoliciesDir;
  std::optional<int64_t> now;
  std::string format;
};

// The host's distinct states (snapshots) in receive order.
std::vector<HistoryEntry> States(const std::vector<HistoryEntry>& history) {
  std::vector<HistoryEntry> out;
  for (const HistoryEntry& e : history) {
    if (e.kind == HistoryEntry::Kind::kSnapshot) out.push_back(e);
  }
  return out;
}

// Picks the range [first, last] of `states` the options ask for.
StatusOr<std::pair<size_t, size_t>> Range(const DriftOptions& o,
                                          const std::vector<HistoryEntry>& states, int64_t now) {
  auto index_of = [&](const std::string& id) -> std::optional<size_t> {
    for (size_t i = 0; i < states.size(); ++i) {
      if (states[i].id == id) return i;
    }
    return std::nullopt;
  };
  size_t last = states.size() - 1;
  if (!o.to.empty()) {
    std::optional<size_t> to = index_of(o.to);
    if (!to) return Status(StatusCode::kNotFound, o.host + " has no snapshot " + o.to);
    last = *to;
  }
  if (!o.from.empty()) {
    std::optional<size_t> from = index_of(o.from);
    if (!from) return Status(StatusCode::kNotFound, o.host + " has no snapshot " + o.from);
    if (*from > last) {
      return Status(StatusCode::kInvalidArgument, "--from " + o.from + " is later than --to");
    }
    return std::pair{*from, last};
  }
  if (!o.since.empty()) {
    StatusOr<int64_t> at = ParseSince(o.since, now);
    if (!at.ok()) return at.status();
    size_t first = 0;
    for (size_t i = 0; i <= last; ++i) {
      if (states[i].received_at <= *at) first = i;
    }
    return std::pair{first, last};
  }
  return std::pair{last == 0 ? 0 : last - 1, last};
}

// "name=vendor_ops uid=1001 ...": a row's columns that count, for text.
std::string RowText(const json& row) {
  std::string out;
  for (const auto& [column, value] : row.items()) {
    if (column == "id" || column == "source_file" || column == "source_line" || value.is_null()) {
      continue;
    }
    out += (out.empty() ? "" : " ") + column + "=" + CellText(value, "null");
  }
  return out;
}

std::string Where(const json& row) {
  if (!row.is_object()) return "";
  std::optional<std::string> file;
  std::optional<int64_t> line;
  if (auto f = row.find("source_file"); f != row.end() && f->is_string())
    file = f->get<std::string>();
  if (auto l = row.find("source_line"); l != row.end() && l->is_number_integer())
    line = l->get<int64_t>();
  return policy::SourceLocation(file, line);
}

// How --baseline judged a change.
struct Judged {
  bool finding = false;
  std::string covered_by;  // the active exception that covers the item
};

// The items that active exceptions of --register cover on the host in its latest state at
// `now`: item id -> exception id.
StatusOr<std::map<std::string, std::string>> ActiveCovers(const DriftOptions& o, SqliteStore& store,
                                                          StoredFacts& facts, int64_t now) {
  StatusOr<LoadedRegister> l = LoadRegisterWithRules(o.register_file, o.policies, false);
  if (!l.ok()) return l.status();
  RegisterScope scope;
  scope.now = now;
  scope.host_globs = {o.host};
  auto verdicts = JudgeRegister(store, facts, *l, scope);
  if (!verdicts.ok()) return verdicts.status();
  std::map<std::string, std::string> out;
  for (const policy::ExceptionVerdict& v : *verdicts) {
    if (v.host != o.host || v.status != policy::ExceptionStatus::kActive) continue;
    for (const policy::CoveredItem& i : v.items) out.emplace(i.id, v.exception->id);
  }
  return out;
}

void PrintText(const std::string& host, const std::vector<HistoryEntry>& range,
               const std::vector<Change>& changes, std::ostream& out,
               const std::vector<Judged>* judged, const BaselineApproval* approval = nullptr) {
  size_t counts[3] = {0, 0, 0};
  for (const Change& c : changes) ++counts[static_cast<int>(c.kind)];
  if (approval != nullptr) {
    size_t findings = 0;
    for (const Judged& j : *judged) findings += j.finding ? 1 : 0;
    out << "baseline of " << Safe(host) << ": snapshot " << Safe(approval->snapshot_id)
        << " approved by " << Safe(approval->approved_by) << " at "
        << FormatRfc3339(approval->approved_at) << " (" << Safe(approval->note, kMaxItemBytes)
        << "): " << findings << " finding(s)\n";
  }
  out << "drift " << Safe(host) << ": from snapshot " << Safe(range.front().id) << " (received "
      << FormatRfc3339(range.front().received_at) << ") to snapshot " << Safe(range.back().id)
      << " (received " << FormatRfc3339(range.back().received_at) << "), " << range.size()
      << " state(s): " << counts[0] << " added, " << counts[1] << " removed, " << counts[2]
      << " changed\n";
  for (size_t n = 0; n < changes.size(); ++n) {
    const Change& c = changes[n];
    const HistoryEntry& first = range[c.first_state];
    const json& shown = c.after.is_null() ? c.before : c.after;
    if (judged != nullptr) {
      const Judged& j = (*judged)[n];
      out << (j.finding ? "FINDING " : !j.covered_by.empty() ? "COVERED " : "");
    }
    out << AsciiUpper(policy::ChangeKindName(c.kind)) << "\t" << c.table << "\t"
        << Safe(c.id, kMaxItemBytes) << "\tsince " << FormatRfc3339(first.received_at)
        << " (snapshot " << Safe(first.id) << ")";
    if (std::string at = Where(shown); !at.empty()) out << "\t" << Safe(at, kMaxItemBytes);
    if (judged != nullptr && !(*judged)[n].covered_by.empty()) {
      out << "\t[active: " << Safe((*judged)[n].covered_by) << "]";
    }
    out << "\n";
    if (c.kind == ChangeKind::kChanged) {
      for (const std::string& column : c.columns) {
        out << "\t" << column << ": "
            << Safe(CellText(c.before.value(column, json()), "null"), kMaxItemBytes) << " -> "
            << Safe(CellText(c.after.value(column, json()), "null"), kMaxItemBytes) << "\n";
      }
    } else {
      out << "\t" << Safe(RowText(shown), kMaxMessageBytes) << "\n";
    }
  }
}

void PrintJson(const std::string& host, const std::vector<HistoryEntry>& range,
               const std::vector<Change>& changes, std::ostream& out,
               const std::vector<Judged>* judged, const BaselineApproval* approval = nullptr) {
  auto state = [](const HistoryEntry& e) {
    return json{{"snapshot", e.id}, {"received_at", FormatRfc3339(e.received_at)}};
  };
  json list = json::array();
  json summary = {{"added", 0}, {"removed", 0}, {"changed", 0}};
  int findings = 0;
  for (size_t n = 0; n < changes.size(); ++n) {
    const Change& c = changes[n];
    std::string kind(policy::ChangeKindName(c.kind));
    summary[kind] = summary[kind].get<int>() + 1;
    json change = {{"table", c.table},
                   {"id", c.id},
                   {"change", kind},
                   {"columns", c.columns},
                   {"before", c.before},
                   {"after", c.after},
                   {"first_seen", state(range[c.first_state])}};
    if (judged != nullptr) {
      const Judged& j = (*judged)[n];
      change["finding"] = j.finding;
      change["covered_by"] = j.covered_by.empty() ? json() : json(j.covered_by);
      findings += j.finding ? 1 : 0;
    }
    list.push_back(std::move(change));
  }
  if (judged != nullptr) summary["findings"] = findings;
  json doc = {
      {"host", host},           {"from", state(range.front())}, {"to", state(range.back())},
      {"states", range.size()}, {"summary", summary},           {"changes", std::move(list)}};
  if (approval != nullptr) {
    doc["baseline"] = {{"snapshot", approval->snapshot_id},
                       {"received_at", FormatRfc3339(approval->snapshot_received_at)},
                       {"approved_by", approval->approved_by},
                       {"approved_at", FormatRfc3339(approval->approved_at)},
                       {"note", approval->note}};
  }
  out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

int RunDrift(const DriftOptions& o, CtlContext& ctx) {
  if (int given = !o.from.empty() + !o.since.empty() + o.baseline; given > 1) {
    return Usage(ctx.err, "give one of --since, --from and --baseline", "drift");
  }
  if (!o.baseline && !o.register_file.empty()) {
    return Usage(ctx.err, "--register goes with --baseline", "drift");
  }
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto history = (*store)->History(o.host);
  if (!history.ok()) return Fail(ctx.err, history.status());
  std::vector<HistoryEntry> states = States(*history);
  if (states.empty()) return Fail(ctx.err, "host " + o.host + " has no stored snapshot");
  const int64_t now = o.now ? *o.now : NowSeconds();
  std::optional<BaselineApproval> approval;
  DriftOptions from_baseline = o;
  if (o.baseline) {
    auto a = (*store)->ApprovedBaseline(o.host, std::nullopt);
    if (!a.ok()) return Fail(ctx.err, a.status());
    if (!*a) {
      return Fail(ctx.err,
                  "host " + o.host + " has no approved baseline (tidemarkctl baseline approve)");
    }
    approval = **a;
    from_baseline.from = approval->snapshot_id;
  }
  auto range = Range(from_baseline, states, now);
  if (!range.ok()) {
    if (range.status().code() == StatusCode::kInvalidArgument) {
      return Usage(ctx.err, range.status().message(), "drift");
    }
    return Fail(ctx.err, range.status());
  }
  std::vector<HistoryEntry> picked(states.begin() + static_cast<std::ptrdiff_t>(range->first),
                                   states.begin() + static_cast<std::ptrdiff_t>(range->second) + 1);
  StoredFacts facts(**store, ctx.db);
  StatusOr<std::vector<Change>> drift = DriftOverStates(facts, o.host, picked);
  if (!drift.ok()) return Fail(ctx.err, drift.status());
  std::vector<Change>& changes = *drift;
  if (picked.size() == 1) picked.push_back(picked.front());
  if (!o.baseline) {
    if (o.format == "json") {
      PrintJson(o.host, picked, changes, ctx.out, nullptr);
    } else {
      PrintText(o.host, picked, changes, ctx.out, nullptr);
    }
    return changes.empty() ? 0 : 3;
  }
  // --baseline: findings, unless an active exception covers the item in the latest state.
  std::vector<Judged> judged(changes.size());
  if (!o.register_file.empty()) {
    StatusOr<std::map<std::string, std::string>> covered = ActiveCovers(o, **store, facts, now);
    if (!covered.ok()) return Fail(ctx.err, covered.status());
    for (size_t i = 0; i < changes.size(); ++i) {
      if (auto it = covered->find(changes[i].id); it != covered->end()) {
        judged[i].covered_by = it->second;
      }
    }
  }
  bool finding = false;
  for (size_t i = 0; i < changes.size(); ++i) {
    judged[i].finding = policy::IsBaselineFinding(changes[i]) && judged[i].covered_by.empty();
    finding |= judged[i].finding;
  }
  if (o.format == "json") {
    PrintJson(o.host, picked, changes, ctx.out, &judged, &*approval);
  } else {
    PrintText(o.host, picked, changes, ctx.out, &judged, &*approval);
  }
  return finding ? 3 : 0;
}

}  // namespace

void AddDriftCommands(CLI::App& app, CtlContext& ctx) {
  auto o = std::make_shared<DriftOptions>();
  CLI::App* drift = AddCommand(app, "Baselines and drift (docs/drift.md)", ctx, o, "drift",
                               "what changed in a host's fact tables between two stored states",
                               kDriftFooter, &RunDrift);
  drift->add_option("HOST", o->host, "the host")->required()->check(HostId());
  drift->add_option("--since", o->since, "from the state current at TIME, or DUR ago")
      ->type_name("TIME|DUR");
  drift->add_option("--from", o->from, "from this snapshot of the host")->type_name("ID");
  drift->add_option("--to", o->to, "to this snapshot (default: the latest)")->type_name("ID");
  drift->add_flag("--baseline", o->baseline, "from the approved baseline to the latest");
  drift->add_option("--register", o->register_file, "--baseline: exceptions that cover changes")
      ->type_name("FILE");
  drift->add_option("--policies", o->policies, "the rules a {rule: ID} cover names")
      ->type_name("DIR|FILE");
  AddTime(*drift, "--now", o->now,
          "the time --since DUR counts back from and --baseline judges exceptions at");
  AddFormat(*drift, o->format, {"text", "json"});
}

}  // namespace tidemark::ctl
