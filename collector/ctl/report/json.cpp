// `tidemarkctl report --format json`: the documented document (docs/report.md).
#include "collector/ctl/report/report.h"
#include "common/policy/exception_output.h"

namespace tidemark::ctl::report {

using json = nlohmann::json;
using policy::Severity;

namespace {

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

json ItemJson(const policy::FindingItem& i) {
  return {{"id", i.id},
          {"detail", i.detail},
          {"source_file", i.source_file ? json(*i.source_file) : json()},
          {"source_line", i.source_line ? json(*i.source_line) : json()},
          {"exception", i.exception.empty() ? json() : json(i.exception)},
          {"exception_note", i.exception.empty() ? json() : json(i.exception_note)}};
}

// The report as its JSON document.

}  // namespace

json ToJson(const Report& r) {
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
    json since;  // null without a previous report or --since
    if (r.since_at) {
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
                     {"collection_errors", h.collection_errors},
                     {"access", h.access},
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
                        {"exceptions", k.exceptions},
                        {"baselines", k.baselines}});
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
                {"changes_since", r.since_at ? json(FormatRfc3339(*r.since_at)) : json()},
                {"hosts_changed_since_previous", Changed(r)},
                {"revoked_since_previous", RevokedSince(r)},
                {"baseline_findings", BaselineFindings(r).first},
                {"access_included", r.access_included}}},
              {"exceptions", verdicts["verdicts"]},
              {"hosts", std::move(hosts)},
              {"contacts", std::move(contacts)}};
  return doc;
}

}  // namespace tidemark::ctl::report
