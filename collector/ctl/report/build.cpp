// `tidemarkctl report`: the model (report.h) — reading the store, counting, the exit code.
#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collector/ctl/common.h"
#include "collector/ctl/report/report.h"
#include "common/snapshot.h"
#include "common/time.h"

namespace tidemark::ctl::report {

using json = nlohmann::json;
using policy::ExceptionStatus;
using policy::Outcome;
using policy::Severity;

namespace {

constexpr size_t kMaxHostsWithErrors = 200;
constexpr size_t kMaxErrorsPerSection = 10;

// Who can get in, and with which privileges: each part a query over the state's fact tables
// (docs/tables.md), with the item id that exceptions name.
constexpr std::array<std::pair<const char*, const char*>, 4> kAccessQueries = {{
    {"uid0_accounts",
     "SELECT id, name, source_file, source_line FROM users WHERE uid = 0 ORDER BY name"},
    {"privileged_members",
     "SELECT id, \"group\", user, via FROM privileged_members ORDER BY \"group\", user"},
    {"sudo_grants",
     "SELECT id, principal, runas_users, command, nopasswd, source_file, source_line FROM "
     "sudo_grants ORDER BY principal, source_file, source_line"},
    {"ssh_keys",
     "SELECT id, user, type, fingerprint, comment, source_file, source_line FROM ssh_keys "
     "ORDER BY user, source_file, source_line"},
}};

// Each part: {rows, incomplete}; `incomplete` says why the rows may not be all the host has (a
// section not collected, or not fully), never an empty list for "could not read".
json AccessRights(const policy::FactDb& db) {
  json out = json::object();
  for (const auto& [name, sql] : kAccessQueries) {
    StatusOr<policy::QueryResult> r = db.Query(sql);
    if (!r.ok()) {
      out[name] = {{"rows", json::array()},
                   {"incomplete", "cannot be read: " + r.status().message()}};
      continue;
    }
    json rows = json::array();
    for (const auto& row : r->rows) {
      json obj = json::object();
      for (size_t c = 0; c < row.size() && c < r->columns.size(); ++c) {
        obj[r->columns[c]] = row[c];
      }
      rows.push_back(std::move(obj));
    }
    policy::SectionProblems problems = policy::ProblemsOf(db, r->tables_read);
    std::string incomplete = problems.absent;
    if (!problems.partial.empty()) {
      incomplete += (incomplete.empty() ? "" : "; ") + problems.partial;
    }
    out[name] = {{"rows", std::move(rows)},
                 {"incomplete", incomplete.empty() ? json() : json(incomplete)}};
  }
  return out;
}

// The errors the sections of a stored state reported: [{section, path, line, message}], at
// most kMaxErrorsPerSection each; null when the snapshot cannot be read again.
json CollectionErrors(SqliteStore& store, int64_t seq) {
  auto stored = store.SnapshotBySeq(seq);
  if (!stored.ok()) return json();
  StatusOr<Snapshot> snapshot = DecodeSnapshot(stored->body);
  if (!snapshot.ok()) return json();
  json out = json::array();
  for (const auto& [name, section] : snapshot->sections) {
    size_t n = 0;
    for (const SectionError& e : section.errors) {
      if (++n > kMaxErrorsPerSection) break;
      out.push_back({{"section", name},
                     {"path", e.path.empty() ? json() : json(e.path)},
                     {"line", e.line ? json(*e.line) : json()},
                     {"message", e.message}});
    }
  }
  return out;
}

// The register's verdicts for the report's hosts, when a register is given.
Status JudgeReportRegister(const Options& o, SqliteStore& store, StoredFacts& facts, Report& r) {
  if (o.register_file.empty()) return Status::Ok();
  auto l = LoadRegisterWithRules(o.register_file, o.policies, o.policies_given);
  if (!l.ok()) return l.status();
  r.reg = std::move(*l);
  RegisterScope scope;
  scope.now = r.now;
  scope.max_age = o.max_age;
  scope.host_globs = o.hosts;
  auto verdicts = JudgeRegister(store, facts, *r.reg, scope);
  if (!verdicts.ok()) return verdicts.status();
  r.verdicts = std::move(*verdicts);
  policy::SortVerdicts(r.verdicts);
  return Status::Ok();
}

// The report compared with: the last one recorded before now, or at or before `since`; its
// exceptions' statuses by "exception/host".
Status ReadPreviousReport(SqliteStore& store, std::optional<int64_t> since, Report& r) {
  auto prev = store.LatestReport(since ? *since + 1 : r.now);
  if (!prev.ok()) return prev.status();
  if (!*prev) return Status::Ok();
  r.previous_at = (*prev)->generated_at;
  json doc = json::parse((*prev)->document, nullptr, false);
  // The stored document is read defensively: a damaged one gives no statuses, never a throw.
  auto text = [](const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto verdicts = doc.is_object() ? doc.find("exceptions") : doc.end();
  if (doc.is_object() && verdicts != doc.end() && verdicts->is_array()) {
    for (const json& v : *verdicts) {
      if (!v.is_object()) continue;
      r.previous_statuses[text(v, "exception") + "/" + text(v, "host")] = text(v, "status");
    }
  }
  return Status::Ok();
}

using HostVerdicts = std::vector<const policy::ExceptionVerdict*>;

// The host's rule results with its register verdicts applied (tolerated, expired ...).
void ApplyHostVerdicts(const HostVerdicts& host_verdicts, HostReport& h) {
  if (host_verdicts.empty()) return;
  std::vector<policy::ExceptionVerdict> mine;
  mine.reserve(host_verdicts.size());
  for (const auto* v : host_verdicts) mine.push_back(*v);
  policy::Evaluation e;
  e.results = std::move(h.judged.results);
  policy::ApplyVerdicts(e, mine);
  h.judged.results = std::move(e.results);
}

// The changes since the approved baseline, each with the active exception that covers it.
Status AddBaselineDrift(StoredFacts& facts, const std::vector<HistoryEntry>& states,
                        const HostVerdicts& host_verdicts, HostReport& h) {
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i].state_seq != h.baseline->snapshot_seq) continue;
    h.states_baseline.assign(states.begin() + static_cast<std::ptrdiff_t>(i), states.end());
    break;
  }
  auto changes = DriftOverStates(facts, h.judged.state.host, h.states_baseline);
  if (!changes.ok()) return changes.status();
  h.changes_baseline = std::move(*changes);
  std::map<std::string, std::string> covered;  // item id -> active exception
  for (const auto* v : host_verdicts) {
    if (v->status != ExceptionStatus::kActive) continue;
    for (const auto& i : v->items) covered.emplace(i.id, v->exception->id);
  }
  for (const policy::Change& ch : h.changes_baseline) {
    auto it = covered.find(ch.id);
    h.covered_by.push_back(it == covered.end() ? "" : it->second);
    h.baseline_finding.push_back(policy::IsBaselineFinding(ch) && it == covered.end());
  }
  return Status::Ok();
}

// The changes since `since_at` (the host is new when it had no state then).
Status AddDriftSince(StoredFacts& facts, const std::vector<HistoryEntry>& states, int64_t since_at,
                     HostReport& h) {
  std::optional<size_t> from;
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i].received_at <= since_at) from = i;
  }
  if (!from) {
    h.new_host = true;
  } else if (*from + 1 < states.size()) {
    h.states_since.assign(states.begin() + static_cast<std::ptrdiff_t>(*from), states.end());
    auto changes = DriftOverStates(facts, h.judged.state.host, h.states_since);
    if (!changes.ok()) return changes.status();
    h.changes_since = std::move(*changes);
  }
  return Status::Ok();
}

// One host's part of the report: verdicts applied, baseline and drift, the sections not
// collected fully (with their errors for the first kMaxHostsWithErrors such hosts, counted in
// `hosts_with_errors`), its access rights when included.
StatusOr<HostReport> BuildHost(const Report& r, const Options& o, SqliteStore& store,
                               StoredFacts& facts, JudgedHost judged,
                               const HostVerdicts& host_verdicts, size_t& hosts_with_errors) {
  HostReport h;
  h.judged = std::move(judged);
  h.stale = r.now - h.judged.state.last_confirmed_at > o.stale_after;
  ApplyHostVerdicts(host_verdicts, h);
  auto approval = store.ApprovedBaseline(h.judged.state.host, r.now);
  if (!approval.ok()) return approval.status();
  h.baseline = *approval;
  bool baseline_moved = h.baseline && h.baseline->snapshot_seq != h.judged.state.seq;
  std::vector<HistoryEntry> states;
  if (r.since_at || baseline_moved) {
    auto history = store.History(h.judged.state.host);
    if (!history.ok()) return history.status();
    for (const HistoryEntry& e : *history) {
      if (e.kind == HistoryEntry::Kind::kSnapshot && e.received_at <= r.now) states.push_back(e);
    }
  }
  if (baseline_moved) {
    if (Status st = AddBaselineDrift(facts, states, host_verdicts, h); !st.ok()) return st;
  }
  if (r.since_at) {
    if (Status st = AddDriftSince(facts, states, *r.since_at, h); !st.ok()) return st;
  }
  StatusOr<const policy::FactDb*> db = facts.Load(h.judged.state);
  if (db.ok()) {
    for (const auto& [section, status] : (*db)->section_status()) {
      if (!policy::SectionComplete(status)) h.incomplete_sections[section] = status;
    }
    if (r.access_included) h.access = AccessRights(**db);
  } else {
    h.incomplete_sections["(snapshot)"] = "cannot be read: " + db.status().message();
  }
  // What went wrong in the sections not collected fully, from the snapshot itself (decoding
  // costs milliseconds: for the first kMaxHostsWithErrors such hosts).
  if (!h.incomplete_sections.empty() && db.ok() && hosts_with_errors < kMaxHostsWithErrors) {
    ++hosts_with_errors;
    h.collection_errors = CollectionErrors(store, h.judged.state.seq);
  }
  return h;
}

// The host's failing and unknown results, untolerated first, then by severity. Pointers into
// h.judged.results: called once h sits where it stays.
void SortResults(HostReport& h) {
  for (const policy::RuleResult& res : h.judged.results) {
    if (res.outcome == Outcome::kFail) h.failing.push_back(&res);
    if (res.outcome == Outcome::kUnknown || res.outcome == Outcome::kError) {
      h.unknown.push_back(&res);
    }
  }
  auto order = [](const policy::RuleResult* a, const policy::RuleResult* b) {
    if (a->tolerated != b->tolerated) return !a->tolerated;
    return a->severity > b->severity;
  };
  std::stable_sort(h.failing.begin(), h.failing.end(), order);
  std::stable_sort(h.unknown.begin(), h.unknown.end(), order);
}

}  // namespace

StatusOr<Report> Build(const Options& o, SqliteStore& store, const std::string& db_path) {
  Report r;
  r.now = o.now ? *o.now : NowSeconds();
  r.stale_after = o.stale_after;
  auto judged = LoadJudgedHosts(store, o.hosts, r.now);
  if (!judged.ok()) return judged.status();
  StoredFacts facts(store, db_path);
  if (Status st = JudgeReportRegister(o, store, facts, r); !st.ok()) return st;
  std::optional<int64_t> since;
  if (!o.since.empty()) {
    StatusOr<int64_t> at = ParseSince(o.since, r.now);
    if (!at.ok()) return at.status();
    if (*at > r.now) {
      return Status(StatusCode::kInvalidArgument, "--since " + o.since + " is after --now");
    }
    since = *at;
  }
  if (Status st = ReadPreviousReport(store, since, r); !st.ok()) return st;
  r.since_given = since.has_value();
  r.since_at = since ? since : r.previous_at;
  constexpr int64_t kHistorySeconds = int64_t{30} * 86400;
  auto recorded = store.ReportSummaries(r.now - kHistorySeconds, r.now);
  if (!recorded.ok()) return recorded.status();
  r.history = std::move(*recorded);
  r.access_included =
      o.access == "all" || (o.access == "auto" && judged->size() <= kAccessAutoHosts);
  size_t hosts_with_errors = 0;
  // Each host's verdicts, found once (not a scan of every verdict per host).
  std::unordered_map<std::string, HostVerdicts> verdicts_of;
  for (const auto& v : r.verdicts) verdicts_of[v.host].push_back(&v);
  static const HostVerdicts kNone;
  for (JudgedHost& j : *judged) {
    auto found = verdicts_of.find(j.state.host);
    auto h = BuildHost(r, o, store, facts, std::move(j),
                       found == verdicts_of.end() ? kNone : found->second, hosts_with_errors);
    if (!h.ok()) return h.status();
    r.hosts.push_back(std::move(*h));
  }
  // Pointers into r.hosts from here on: it does not grow again.
  for (HostReport& h : r.hosts) SortResults(h);
  return r;
}

// Failing results by severity (tolerated ones apart), over every host.

Counts Count(const Report& r) {
  Counts c;
  for (const HostReport& h : r.hosts) {
    for (const policy::RuleResult* f : h.failing) {
      if (f->tolerated) {
        ++c.tolerated;
      } else {
        ++c.failing[f->severity];
      }
    }
    c.unknown += static_cast<int>(h.unknown.size());
    if (h.stale) c.stale.push_back(h.judged.state.host);
    if (!h.judged.evaluation) c.not_judged.push_back(h.judged.state.host);
  }
  for (const auto& v : r.verdicts) ++c.statuses[static_cast<size_t>(v.status)];
  return c;
}

std::vector<Contact> Contacts(const Report& r) {
  std::vector<Contact> out;
  auto find = [&](const std::string& role, const policy::Person& p) -> Contact& {
    for (Contact& c : out) {
      if (c.role == role && c.person.name == p.name && c.person.email == p.email &&
          c.person.phone == p.phone) {
        return c;
      }
    }
    out.push_back({role, p, {}, {}});
    return out.back();
  };
  if (r.reg) {
    for (const auto& e : r.reg->reg.exceptions) {
      find("owner", e.owner).exceptions.push_back(e.id);
      if (e.contact) find("contact", *e.contact).exceptions.push_back(e.id);
    }
  }
  // Who approved each host's baseline (tidemarkctl baseline approve --by).
  for (const HostReport& h : r.hosts) {
    if (!h.baseline) continue;
    policy::Person approver;
    approver.name = h.baseline->approved_by;
    find("baseline approver", approver).baselines.push_back(h.judged.state.host);
  }
  return out;
}

int ExitCode(const Report& r, Severity fail_on) {
  for (const auto& v : r.verdicts) {
    if (v.status == ExceptionStatus::kLeftover) return 5;
  }
  for (const HostReport& h : r.hosts) {
    for (const policy::RuleResult* f : h.failing) {
      if (!f->tolerated && f->severity >= fail_on) return 3;
    }
  }
  // A right added since the approved baseline that no active exception covers counts as a
  // high finding: nobody approved it.
  if (Severity::kHigh >= fail_on && BaselineFindings(r).first > 0) return 3;
  return 0;
}

// How many changes since the approved baselines are findings, and on how many hosts.
std::pair<int, int> BaselineFindings(const Report& r) {
  int findings = 0, hosts = 0;
  for (const HostReport& h : r.hosts) {
    int n =
        static_cast<int>(std::count(h.baseline_finding.begin(), h.baseline_finding.end(), true));
    findings += n;
    hosts += n > 0 ? 1 : 0;
  }
  return {findings, hosts};
}

// The hosts whose configuration changed since the previous report, and the new ones.
json Changed(const Report& r) {
  json out = json::array();
  for (const HostReport& h : r.hosts) {
    if (!h.changes_since.empty() || h.new_host) out.push_back(h.judged.state.host);
  }
  return out;
}

// The verdicts revoked now that were not revoked in the previous report.
json RevokedSince(const Report& r) {
  json out = json::array();
  if (!r.previous_at) return out;
  for (const auto& v : r.verdicts) {
    if (v.status != ExceptionStatus::kRevoked) continue;
    auto it = r.previous_statuses.find(v.exception->id + "/" + v.host);
    if (it != r.previous_statuses.end() && it->second == "revoked") continue;
    out.push_back({{"exception", v.exception->id}, {"host", v.host}});
  }
  return out;
}

}  // namespace tidemark::ctl::report
