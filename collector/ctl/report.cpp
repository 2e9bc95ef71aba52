// `tidemarkctl report` (commands.h; issue 12, begun): the fleet's state in one document —
// hosts reporting and stale, findings by severity, the register's exceptions (leftovers first),
// each host's failing and unknown results and its sections that were not collected fully, and
// the owners and contacts — as JSON, text, CSV or JUnit XML, several formats in one run
// (docs/report.md). Built from fleet.h: the same results as `findings` and the same verdicts
// as `exceptions`.
#include <algorithm>
#include <array>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "collector/ctl/commands.h"
#include "collector/ctl/fleet.h"
#include "common/atomic_file.h"
#include "common/policy/evaluate_command.h"
#include "common/policy/exception_output.h"
#include "common/text.h"

namespace tidemark::ctl {

namespace {

using json = nlohmann::json;
using policy::ExceptionStatus;
using policy::Outcome;
using policy::Severity;

constexpr const char* kReportFooter =
    "Writes the fleet's state as at --now (default: now): a summary (hosts reporting; hosts\n"
    "stale — no report within --stale-after DUR, default 26h — named, never left out;\n"
    "findings by severity; exceptions by status), the exceptions of --register (leftovers\n"
    "first with owner, contact, ticket and the items still present, then unverified, active,\n"
    "revoked), per host the failing rules with their items (tolerated ones marked), unknown\n"
    "and error results and the sections not collected fully, and the owners and contacts.\n"
    "--format F [--out FILE] may be given several times (json, text, csv, junit); without\n"
    "--out a format goes to standard output (one at most). Files are replaced atomically,\n"
    "mode 0640 (a report names who can still get in where).\n"
    "Each run is recorded in the store (its time, options, summary and JSON document;\n"
    "--no-record for a run that should not count): the next report says what changed since\n"
    "— hosts whose configuration changed (each change with the state from which on it held),\n"
    "new hosts, exception verdicts revoked since — and --previous prints the last one again.\n"
    "docs/report.md describes every format.\n"
    "Exit codes: 0 nothing failing at or above --fail-on LEVEL (default high) and no\n"
    "leftover; 5 a leftover exception (it wins: a leftover is what the report exists to\n"
    "catch); 3 a failing finding at or above LEVEL; 1 an error; 2 usage.\n";

struct ReportOptions {
  std::vector<std::string> formats;
  std::vector<std::string> outs;
  std::string register_file;
  std::string policies = policy::kDefaultPoliciesDir;
  bool policies_given = false;
  std::optional<int64_t> now;
  int64_t stale_after = int64_t{26} * 3600;
  int64_t max_age = policy::kDefaultMaxAgeSeconds;
  std::vector<std::string> hosts;
  Severity fail_on = Severity::kHigh;
  bool no_record = false;
  bool previous = false;
};

struct HostReport {
  JudgedHost judged;
  bool stale = false;
  std::map<std::string, std::string> incomplete_sections;  // section -> status, not ok
  std::vector<const policy::RuleResult*> failing;          // most severe first
  std::vector<const policy::RuleResult*> unknown;          // unknown and error
  // Since the previous report (when there is one): the host's states from the one current
  // then to the latest, and what changed; `new_host`: no state of it was current then.
  std::vector<HistoryEntry> states_since;
  std::vector<policy::Change> changes_since;
  bool new_host = false;
  // Since the approved baseline (when there is one): the states from the approved one to the
  // latest, what changed, which changes are findings (policy::IsBaselineFinding, not covered
  // by an active exception) and which exception covers a change.
  std::optional<BaselineApproval> baseline;
  std::vector<HistoryEntry> states_baseline;
  std::vector<policy::Change> changes_baseline;
  std::vector<bool> baseline_finding;
  std::vector<std::string> covered_by;
};

struct Report {
  int64_t now = 0;
  int64_t stale_after = 0;
  std::vector<HostReport> hosts;
  std::optional<LoadedRegister> reg;
  std::vector<policy::ExceptionVerdict> verdicts;  // sorted
  std::optional<int64_t> previous_at;              // the previous report's time
  // exception id + "/" + host -> status in the previous report
  std::map<std::string, std::string> previous_statuses;
};

constexpr std::array<Severity, 5> kSeverities = {
    Severity::kCritical, Severity::kHigh, Severity::kMedium, Severity::kLow, Severity::kInfo};

// ---- building ----

StatusOr<Report> Build(const ReportOptions& o, SqliteStore& store, const std::string& db_path) {
  Report r;
  r.now = o.now ? *o.now : static_cast<int64_t>(std::time(nullptr));
  r.stale_after = o.stale_after;
  auto judged = LoadJudgedHosts(store, o.hosts, r.now);
  if (!judged.ok()) return judged.status();
  StoredFacts facts(store, db_path);
  if (!o.register_file.empty()) {
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
  }
  if (auto prev = store.LatestReport(r.now); !prev.ok()) {
    return prev.status();
  } else if (*prev) {
    r.previous_at = (*prev)->generated_at;
    json doc = json::parse((*prev)->document, nullptr, false);
    if (doc.is_object() && doc.contains("exceptions") && doc["exceptions"].is_array()) {
      for (const json& v : doc["exceptions"]) {
        if (!v.is_object()) continue;
        std::string key = v.value("exception", "") + "/" +
                          (v["host"].is_string() ? v["host"].get<std::string>() : "");
        r.previous_statuses[key] = v.value("status", "");
      }
    }
  }
  for (JudgedHost& j : *judged) {
    HostReport h;
    h.judged = std::move(j);
    h.stale = r.now - h.judged.state.last_confirmed_at > o.stale_after;
    if (!r.verdicts.empty()) {
      std::vector<policy::ExceptionVerdict> mine;
      for (const auto& v : r.verdicts) {
        if (v.host == h.judged.state.host) mine.push_back(v);
      }
      policy::Evaluation e;
      e.results = std::move(h.judged.results);
      policy::ApplyVerdicts(e, mine);
      h.judged.results = std::move(e.results);
    }
    auto approval = store.ApprovedBaseline(h.judged.state.host, r.now);
    if (!approval.ok()) return approval.status();
    h.baseline = *approval;
    bool baseline_moved = h.baseline && h.baseline->snapshot_seq != h.judged.state.seq;
    std::vector<HistoryEntry> states;
    if (r.previous_at || baseline_moved) {
      auto history = store.History(h.judged.state.host);
      if (!history.ok()) return history.status();
      for (const HistoryEntry& e : *history) {
        if (e.kind == HistoryEntry::Kind::kSnapshot && e.received_at <= r.now) states.push_back(e);
      }
    }
    if (baseline_moved) {
      for (size_t i = 0; i < states.size(); ++i) {
        if (states[i].state_seq != h.baseline->snapshot_seq) continue;
        h.states_baseline.assign(states.begin() + static_cast<std::ptrdiff_t>(i), states.end());
        break;
      }
      auto changes = DriftOverStates(facts, h.judged.state.host, h.states_baseline);
      if (!changes.ok()) return changes.status();
      h.changes_baseline = std::move(*changes);
      std::map<std::string, std::string> covered;  // item id -> active exception
      for (const auto& v : r.verdicts) {
        if (v.host != h.judged.state.host || v.status != ExceptionStatus::kActive) continue;
        for (const auto& i : v.items) covered.emplace(i.id, v.exception->id);
      }
      for (const policy::Change& ch : h.changes_baseline) {
        auto it = covered.find(ch.id);
        h.covered_by.push_back(it == covered.end() ? "" : it->second);
        h.baseline_finding.push_back(policy::IsBaselineFinding(ch) && it == covered.end());
      }
    }
    if (r.previous_at) {
      std::optional<size_t> from;
      for (size_t i = 0; i < states.size(); ++i) {
        if (states[i].received_at <= *r.previous_at) from = i;
      }
      if (!from) {
        h.new_host = true;
      } else if (*from + 1 < states.size()) {
        h.states_since.assign(states.begin() + static_cast<std::ptrdiff_t>(*from), states.end());
        auto changes = DriftOverStates(facts, h.judged.state.host, h.states_since);
        if (!changes.ok()) return changes.status();
        h.changes_since = std::move(*changes);
      }
    }
    StatusOr<const policy::FactDb*> db = facts.Load(h.judged.state);
    if (db.ok()) {
      for (const auto& [section, status] : (*db)->section_status()) {
        if (!policy::SectionComplete(status)) h.incomplete_sections[section] = status;
      }
    } else {
      h.incomplete_sections["(snapshot)"] = "cannot be read: " + db.status().message();
    }
    r.hosts.push_back(std::move(h));
  }
  // Pointers into r.hosts from here on: it does not grow again.
  for (HostReport& h : r.hosts) {
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
  return r;
}

// Failing results by severity (tolerated ones apart), over every host.
struct Counts {
  std::map<Severity, int> failing;
  int tolerated = 0;
  int unknown = 0;
  std::array<int, 4> statuses{};  // by ExceptionStatus
  std::vector<std::string> stale, not_judged;
};

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

// The owners and contacts of the register, one row per person, with their exceptions.
struct Contact {
  std::string role;
  policy::Person person;
  std::vector<std::string> exceptions;
};

std::vector<Contact> Contacts(const Report& r) {
  std::vector<Contact> out;
  if (!r.reg) return out;
  auto add = [&](const std::string& role, const policy::Person& p, const std::string& id) {
    for (Contact& c : out) {
      if (c.role == role && c.person.name == p.name && c.person.email == p.email &&
          c.person.phone == p.phone) {
        c.exceptions.push_back(id);
        return;
      }
    }
    out.push_back({role, p, {id}});
  };
  for (const auto& e : r.reg->reg.exceptions) {
    add("owner", e.owner, e.id);
    if (e.contact) add("contact", *e.contact, e.id);
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
  return 0;
}

// ---- formats ----

// A change as the report shows it, with the state (of `states`) from which on it held.
json ChangeJson(const policy::Change& ch, const std::vector<HistoryEntry>& states) {
  const HistoryEntry& first = states[ch.first_state];
  return {
      {"table", ch.table},
      {"id", ch.id},
      {"change", policy::ChangeKindName(ch.kind)},
      {"columns", ch.columns},
      {"before", ch.before},
      {"after", ch.after},
      {"first_seen", {{"snapshot", first.id}, {"received_at", FormatRfc3339(first.received_at)}}}};
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

json ItemJson(const policy::FindingItem& i) {
  return {{"id", i.id},
          {"detail", i.detail},
          {"source_file", i.source_file ? json(*i.source_file) : json()},
          {"source_line", i.source_line ? json(*i.source_line) : json()},
          {"exception", i.exception.empty() ? json() : json(i.exception)},
          {"exception_note", i.exception.empty() ? json() : json(i.exception_note)}};
}

// The report as its JSON document.
json ReportJson(const Report& r) {
  Counts c = Count(r);
  json findings = json::object();
  for (Severity s : kSeverities) findings[std::string(policy::SeverityName(s))] = c.failing[s];
  json hosts = json::array();
  for (const HostReport& h : r.hosts) {
    const StoredSnapshot& s = h.judged.state;
    json failing = json::array();
    for (const policy::RuleResult* f : h.failing) {
      json items = json::array();
      for (const auto& i : f->items) items.push_back(ItemJson(i));
      failing.push_back({{"rule", f->rule_id},
                         {"title", f->title},
                         {"severity", policy::SeverityName(f->severity)},
                         {"tolerated", f->tolerated},
                         {"items", std::move(items)}});
    }
    json unknown = json::array();
    for (const policy::RuleResult* u : h.unknown) {
      unknown.push_back({{"rule", u->rule_id},
                         {"title", u->title},
                         {"severity", policy::SeverityName(u->severity)},
                         {"result", policy::OutcomeName(u->outcome)},
                         {"message", u->message}});
    }
    json since;  // null without a previous report
    if (r.previous_at) {
      since = json::array();
      for (const policy::Change& ch : h.changes_since) {
        since.push_back(ChangeJson(ch, h.states_since));
      }
    }
    json baseline;  // null without an approved baseline
    if (h.baseline) {
      json changes = json::array();
      int count = 0;
      for (size_t n = 0; n < h.changes_baseline.size(); ++n) {
        json ch = ChangeJson(h.changes_baseline[n], h.states_baseline);
        ch["finding"] = static_cast<bool>(h.baseline_finding[n]);
        ch["covered_by"] = h.covered_by[n].empty() ? json() : json(h.covered_by[n]);
        count += h.baseline_finding[n] ? 1 : 0;
        changes.push_back(std::move(ch));
      }
      baseline = {{"snapshot", h.baseline->snapshot_id},
                  {"approved_by", h.baseline->approved_by},
                  {"approved_at", FormatRfc3339(h.baseline->approved_at)},
                  {"note", h.baseline->note},
                  {"findings", count},
                  {"changes", std::move(changes)}};
    }
    hosts.push_back({{"host", s.host},
                     {"snapshot", s.id},
                     {"new_since_previous", h.new_host},
                     {"changes_since_previous", std::move(since)},
                     {"baseline", std::move(baseline)},
                     {"received_at", FormatRfc3339(s.received_at)},
                     {"last_reported_at", FormatRfc3339(s.last_confirmed_at)},
                     {"stale", h.stale},
                     {"judged", h.judged.evaluation.has_value()},
                     {"incomplete_sections", h.incomplete_sections},
                     {"failing", std::move(failing)},
                     {"unknown", std::move(unknown)}});
  }
  json contacts = json::array();
  for (const Contact& k : Contacts(r)) {
    contacts.push_back({{"role", k.role},
                        {"name", k.person.name},
                        {"organisation", k.person.organisation},
                        {"email", k.person.email},
                        {"phone", k.person.phone},
                        {"availability", k.person.availability},
                        {"exceptions", k.exceptions}});
  }
  json verdicts = policy::VerdictsJson(r.verdicts, r.now);
  json doc = {{"generated_at", FormatRfc3339(r.now)},
              {"stale_after_seconds", r.stale_after},
              {"summary",
               {{"hosts", r.hosts.size()},
                {"hosts_reporting", r.hosts.size() - c.stale.size()},
                {"hosts_stale", c.stale},
                {"hosts_not_judged", c.not_judged},
                {"findings", std::move(findings)},
                {"tolerated", c.tolerated},
                {"unknown", c.unknown},
                {"exceptions", verdicts["summary"]},
                {"previous_report", r.previous_at ? json(FormatRfc3339(*r.previous_at)) : json()},
                {"hosts_changed_since_previous", Changed(r)},
                {"revoked_since_previous", RevokedSince(r)},
                {"baseline_findings", BaselineFindings(r).first}}},
              {"exceptions", verdicts["verdicts"]},
              {"hosts", std::move(hosts)},
              {"contacts", std::move(contacts)}};
  return doc;
}

void WriteText(const Report& r, std::ostream& out) {
  Counts c = Count(r);
  out << "tidemark report at " << FormatRfc3339(r.now) << ": " << r.hosts.size() << " host(s), "
      << r.hosts.size() - c.stale.size() << " reporting, " << c.stale.size() << " stale\n";
  if (!c.stale.empty()) {
    out << "stale (no report within " << r.stale_after / 3600 << " h):";
    for (const std::string& h : c.stale) out << " " << Safe(h);
    out << "\n";
  }
  if (r.previous_at) {
    json revoked = RevokedSince(r);
    out << "since the previous report (" << FormatRfc3339(*r.previous_at)
        << "): " << Changed(r).size() << " host(s) changed, " << revoked.size()
        << " exception verdict(s) newly revoked\n";
    for (const json& v : revoked) {
      out << "revoked since: " << Safe(v["exception"].get<std::string>()) << " on "
          << Safe(v["host"].get<std::string>()) << "\n";
    }
  }
  if (!c.not_judged.empty()) {
    out << "not judged yet (the collector judges with --policies):";
    for (const std::string& h : c.not_judged) out << " " << Safe(h);
    out << "\n";
  }
  if (auto [findings, hosts] = BaselineFindings(r); findings > 0) {
    out << "since the approved baselines: " << findings << " finding(s) on " << hosts
        << " host(s) (a UID 0 account, sudo grant, key for root, listener, SUID file or sshd "
           "setting not covered by an exception)\n";
  }
  out << "findings:";
  for (Severity s : kSeverities)
    out << " " << c.failing[s] << " " << policy::SeverityName(s) << ",";
  out << " " << c.tolerated << " tolerated, " << c.unknown << " unknown\n";
  if (r.reg) {
    out << "exceptions: " << c.statuses[static_cast<size_t>(ExceptionStatus::kLeftover)]
        << " leftover, " << c.statuses[static_cast<size_t>(ExceptionStatus::kUnverified)]
        << " unverified, " << c.statuses[static_cast<size_t>(ExceptionStatus::kActive)]
        << " active, " << c.statuses[static_cast<size_t>(ExceptionStatus::kRevoked)]
        << " revoked\n";
    std::vector<policy::ExceptionVerdict> leftovers;
    for (const auto& v : r.verdicts) {
      if (v.status == ExceptionStatus::kLeftover) leftovers.push_back(v);
    }
    if (!leftovers.empty()) {
      out << "\n";
      policy::PrintVerdictsText(leftovers, r.now, out);
    }
  }
}

void WriteCsv(const Report& r, std::ostream& out) {
  out << "kind,host,rule_or_exception,severity_or_status,item,where,detail,exception,owner,"
         "ticket,expiry\n";
  for (const HostReport& h : r.hosts) {
    for (const policy::RuleResult* f : h.failing) {
      for (const auto& i : f->items) {
        out << "finding," << CsvField(h.judged.state.host) << "," << CsvField(f->rule_id) << ","
            << (f->tolerated ? "tolerated " : "") << policy::SeverityName(f->severity) << ","
            << CsvField(i.id) << ","
            << CsvField(policy::SourceLocation(i.source_file, i.source_line)) << ","
            << CsvField(i.detail) << "," << CsvField(i.exception) << ",,,\n";
      }
    }
  }
  for (const auto& v : r.verdicts) {
    const auto& e = *v.exception;
    std::string items;
    for (const auto& i : v.items) items += (items.empty() ? "" : " ") + i.id;
    out << "exception," << CsvField(v.host) << "," << CsvField(e.id) << ","
        << policy::ExceptionStatusName(v.status) << "," << CsvField(items) << ",,"
        << CsvField(v.reason) << "," << CsvField(e.id) << "," << CsvField(e.owner.name) << ","
        << CsvField(e.ticket) << "," << FormatRfc3339(e.effective_expiry) << "\n";
  }
}

// XML text: control characters escaped as the terminal outputs do (XML 1.0 forbids most of
// them), then the five markup characters.
std::string Xml(std::string_view text) {
  std::string out;
  for (char ch : EscapeControl(text)) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// JUnit XML: a suite per host, a case per (host, rule) and per (host, exception); failures for
// fail and leftover, skipped for unknown, error and unverified.
void WriteJunit(const Report& r, std::ostream& out) {
  std::map<std::string, std::vector<const policy::ExceptionVerdict*>> by_host;
  for (const auto& v : r.verdicts) by_host[v.host].push_back(&v);
  std::ostringstream suites;
  int tests = 0, failures = 0, skipped = 0;
  auto suite = [&](const std::string& host, const HostReport* h) {
    std::ostringstream cases;
    int t = 0, f = 0, s = 0;
    if (h != nullptr) {
      for (const policy::RuleResult& res : h->judged.results) {
        // A leftover's own failure (ApplyVerdicts) is the exception's case below.
        if (res.rule_id.rfind("exception:", 0) == 0) continue;
        ++t;
        cases << "    <testcase classname=\"" << Xml(host) << "\" name=\"" << Xml(res.rule_id)
              << "\">";
        if (res.outcome == Outcome::kFail && !res.tolerated) {
          ++f;
          std::string items;
          for (const auto& i : res.items) {
            items += (items.empty() ? "" : "; ") + i.id;
            if (std::string at = policy::SourceLocation(i.source_file, i.source_line);
                !at.empty()) {
              items += " (" + at + ")";
            }
            if (!i.detail.empty()) items += ": " + i.detail;
          }
          cases << "<failure type=\"" << policy::SeverityName(res.severity) << "\" message=\""
                << Xml(res.title) << "\">" << Xml(items) << "</failure>";
        } else if (res.outcome == Outcome::kUnknown || res.outcome == Outcome::kError) {
          ++s;
          cases << "<skipped message=\"" << Xml(res.message) << "\"/>";
        }
        cases << "</testcase>\n";
      }
    }
    for (const policy::ExceptionVerdict* v : by_host[host]) {
      ++t;
      cases << "    <testcase classname=\"" << Xml(host)
            << "\" name=\"exception:" << Xml(v->exception->id) << "\">";
      if (v->status == ExceptionStatus::kLeftover) {
        ++f;
        cases << "<failure type=\"leftover\" message=\"" << Xml(v->reason) << "\">"
              << Xml("owner " + v->exception->owner.name + ", ticket " + v->exception->ticket)
              << "</failure>";
      } else if (v->status == ExceptionStatus::kUnverified) {
        ++s;
        cases << "<skipped message=\"" << Xml(v->reason) << "\"/>";
      }
      cases << "</testcase>\n";
    }
    suites << "  <testsuite name=\"" << Xml(host.empty() ? "(no host)" : host) << "\" tests=\"" << t
           << "\" failures=\"" << f << "\" errors=\"0\" skipped=\"" << s << "\">\n"
           << cases.str() << "  </testsuite>\n";
    tests += t;
    failures += f;
    skipped += s;
  };
  std::set<std::string> done;
  for (const HostReport& h : r.hosts) {
    suite(h.judged.state.host, &h);
    done.insert(h.judged.state.host);
  }
  for (const auto& [host, list] : by_host) {
    if (!done.count(host)) suite(host, nullptr);
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tidemark\" tests=\""
      << tests << "\" failures=\"" << failures << "\" errors=\"0\" skipped=\"" << skipped
      << "\" timestamp=\"" << FormatRfc3339(r.now) << "\">\n"
      << suites.str() << "</testsuites>\n";
}

// `json_text` is the JSON document, rendered once for every use.
void Write(const Report& r, const std::string& format, const std::string& json_text,
           std::ostream& out) {
  if (format == "json") {
    out << json_text;
  } else if (format == "csv") {
    WriteCsv(r, out);
  } else if (format == "junit") {
    WriteJunit(r, out);
  } else {
    WriteText(r, out);
  }
}

int RunReport(const ReportOptions& o, CtlContext& ctx) {
  std::vector<std::string> formats =
      o.formats.empty() ? std::vector<std::string>{"text"} : o.formats;
  if (o.outs.size() > o.formats.size()) {
    return Usage(ctx.err, "each --out FILE follows its --format", "report");
  }
  if (formats.size() - o.outs.size() > 1) {
    return Usage(ctx.err, "one format at most goes to standard output: give --out FILE", "report");
  }
  if (o.previous &&
      (!o.outs.empty() || (!o.formats.empty() && o.formats != std::vector<std::string>{"json"}))) {
    return Usage(ctx.err, "--previous prints the stored JSON document to standard output",
                 "report");
  }
  SqliteStore::Options open_options;
  open_options.create = false;
  auto store = SqliteStore::Open(ctx.db, open_options);
  if (!store.ok()) return Fail(ctx.err, store.status());
  if (o.previous) {
    auto prev = (*store)->LatestReport(std::nullopt);
    if (!prev.ok()) return Fail(ctx.err, prev.status());
    if (!*prev) return Fail(ctx.err, "no report was recorded yet");
    ctx.out << (*prev)->document;
    return 0;
  }
  StatusOr<Report> r = Build(o, **store, ctx.db);
  if (!r.ok()) return Fail(ctx.err, r.status());
  json doc = ReportJson(*r);
  const std::string json_text = doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  for (size_t i = 0; i < formats.size(); ++i) {
    if (i >= o.outs.size()) {
      Write(*r, formats[i], json_text, ctx.out);
      continue;
    }
    std::ostringstream text;
    Write(*r, formats[i], json_text, text);
    if (Status s = WriteFileAtomic(o.outs[i], text.str(), 0640); !s.ok()) {
      return Fail(ctx.err, s);
    }
  }
  // Recorded once everything asked was written: a run whose files failed does not count.
  if (!o.no_record) {
    json options = {{"register", o.register_file},
                    {"hosts", o.hosts},
                    {"stale_after_seconds", o.stale_after},
                    {"max_age_seconds", o.max_age},
                    {"fail_on", policy::SeverityName(o.fail_on)},
                    {"formats", formats},
                    {"outs", o.outs}};
    ReportRecord record{r->now, options.dump(), doc["summary"].dump(), json_text};
    if (Status s = (*store)->PutReport(record); !s.ok()) return Fail(ctx.err, s);
  }
  return ExitCode(*r, o.fail_on);
}

}  // namespace

void AddReportCommand(CLI::App& app, CtlContext& ctx) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* report = AddCommand(app, "Reports (docs/report.md)", ctx, o, "report",
                                "the fleet's findings, exceptions and hosts in one report",
                                kReportFooter, &RunReport);
  report->add_option("--format", o->formats, "json, text, csv or junit (repeatable)")
      ->check(CLI::IsMember({"json", "text", "csv", "junit"}))
      ->type_name("F");
  report->add_option("--out", o->outs, "the file of the --format before it (repeatable)")
      ->type_name("FILE");
  AddRegisterOptions(*report, o->register_file, o->policies, o->policies_given);
  AddTime(*report, "--now", o->now, "report as at TIME (default: now)");
  AddDuration(*report, "--stale-after", o->stale_after,
              "a host not heard from for DUR is stale (default 26h)");
  AddDuration(*report, "--max-age", o->max_age,
              "evidence older than DUR does not prove a revocation (default 26h)");
  AddHostGlobs(*report, o->hosts);
  AddSeverity(*report, "--fail-on", o->fail_on, "the least severity that fails (default high)");
  report->add_flag("--no-record", o->no_record,
                   "do not record this run in the store (the next report compares with the "
                   "last recorded one)");
  report->add_flag("--previous", o->previous,
                   "print the last recorded report again (its JSON document)");
}

}  // namespace tidemark::ctl
