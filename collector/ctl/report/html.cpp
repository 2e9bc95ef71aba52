#include "collector/ctl/report/html.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "collector/ctl/common.h"
#include "common/fs.h"
#include "common/policy/rules.h"
#include "common/sha256.h"
#include "common/snapshot.h"
#include "common/text.h"
#include "common/time.h"
#include "report_assets.h"  // generated from page.css and page.js: kStyle, kScript

namespace tidemark::ctl::report {

namespace {

using json = nlohmann::json;

// Bounds of host-written text on the page (the JSON report has it whole).
constexpr size_t kMaxCell = 1024;
constexpr size_t kMaxItemsPerRule = 10;
constexpr size_t kMaxChangesPerHost = 50;
constexpr size_t kMaxHostsPerGroup = 50;
constexpr int kChartDays = 30;
constexpr int64_t kMaxChartValue = 1'000'000'000'000;

// Text for the page: control characters escaped as in the terminal outputs, cut, then the
// markup characters.
std::string H(std::string_view text, size_t max = kMaxCell) {
  return EscapeMarkup(EscapeControlBounded(text, max));
}

const json& Field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Str(const json& j, const char* key) {
  const json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t Int(const json& j, const char* key) {
  const json& v = Field(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

const json& Arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json& v = Field(j, key);
  return v.is_array() ? v : kEmpty;
}

// 0 for none or an unknown word, then info (1) .. critical (5).
int Rank(std::string_view severity) {
  std::optional<policy::Severity> s = policy::ParseSeverity(severity);
  return s ? static_cast<int>(*s) + 1 : 0;
}

constexpr std::array<std::string_view, 5> kSeverityNames = {"critical", "high", "medium", "low",
                                                            "info"};

// Severity by text and shape as well as colour (readers who cannot tell the colours apart,
// and print).
std::string SeverityBadge(const std::string& severity, bool tolerated = false) {
  std::string shape = "\u25C7";  // unknown
  if (severity == "critical") shape = "\u25C6";
  if (severity == "high") shape = "\u25B2";
  if (severity == "medium") shape = "\u25A0";
  if (severity == "low") shape = "\u25CF";
  if (severity == "info") shape = "\u25CB";
  if (tolerated) {
    return "<span class=\"sev s-tolerated\">\u25C7 tolerated " + H(severity, 16) + "</span>";
  }
  return "<span class=\"sev s-" + H(severity, 16) + "\">" + shape + " " + H(severity, 16) +
         "</span>";
}

std::string StatusBadge(const std::string& status) {
  std::string shape = "\u25C7";
  if (status == "leftover") shape = "\u2716";
  if (status == "unverified") shape = "?";
  if (status == "active") shape = "\u25F7";
  if (status == "revoked") shape = "\u2714";
  if (status == "stale") shape = "\u25CC";
  return "<span class=\"st t-" + H(status, 16) + "\">" + shape + " " + H(status, 16) + "</span>";
}

std::string Where(const json& item) {
  std::string file = Str(item, "source_file");
  if (file.empty()) return "";
  const json& line = Field(item, "source_line");
  if (line.is_number_integer()) file += ":" + std::to_string(line.get<int64_t>());
  return file;
}

std::string Person(const json& p) {
  if (!p.is_object()) return "";
  std::string out = H(Str(p, "name"), 256);
  if (std::string o = Str(p, "organisation"); !o.empty()) out += " (" + H(o, 256) + ")";
  if (std::string e = Str(p, "email"); !e.empty()) out += "<br><code>" + H(e, 256) + "</code>";
  if (std::string t = Str(p, "phone"); !t.empty()) out += "<br>" + H(t, 64);
  if (std::string a = Str(p, "availability"); !a.empty()) {
    out += "<br><span class=\"meta\">" + H(a, 256) + "</span>";
  }
  return out;
}

std::string Count(int64_t n) {
  return std::string("<td class=\"n") + (n == 0 ? " zero" : "") + "\" data-v=\"" +
         std::to_string(n) + "\">" + std::to_string(n) + "</td>";
}

// A row of a changes table: before -> after of the columns that differ (whole rows for
// additions and removals).
std::string ChangeText(const json& ch) {
  auto cell = [](const json& v) { return CellText(v, "null"); };
  std::string kind = Str(ch, "change");
  const json& before = Field(ch, "before");
  const json& after = Field(ch, "after");
  if (kind == "changed" && before.is_object() && after.is_object()) {
    std::string out;
    for (const json& c : Arr(ch, "columns")) {
      if (!c.is_string()) continue;
      std::string col = c.get<std::string>();
      out += (out.empty() ? "" : "<br>") + H(col, 64) + ": <code>" +
             H(cell(Field(before, col.c_str())), 256) + "</code> \u2192 <code>" +
             H(cell(Field(after, col.c_str())), 256) + "</code>";
    }
    return out;
  }
  // An added or removed row: its columns with a value (nulls left out: a reader wants what is
  // there).
  json row = kind == "removed" ? before : after;
  if (row.is_object()) {
    for (auto it = row.begin(); it != row.end();) {
      it = it->is_null() ? row.erase(it) : std::next(it);
    }
  }
  return "<code>" + H(cell(row), 512) + "</code>";
}

std::string ChangesTable(const json& changes, bool baseline) {
  std::ostringstream out;
  out << "<table><thead><tr><th>Change</th><th>Table</th><th>Item</th><th>Before \u2192 "
         "after</th><th>Since</th>"
      << (baseline ? "<th>Finding</th>" : "") << "</tr></thead><tbody>\n";
  size_t n = 0;
  for (const json& ch : changes) {
    if (++n > kMaxChangesPerHost) break;
    const json& first = Field(ch, "first_seen");
    out << "<tr><td>" << H(Str(ch, "change"), 16) << "</td><td>" << H(Str(ch, "table"), 64)
        << "</td><td><code>" << H(Str(ch, "id")) << "</code></td><td>" << ChangeText(ch)
        << "</td><td>" << H(Str(first, "received_at"), 32) << "<br><code>"
        << H(Str(first, "snapshot"), 96) << "</code></td>";
    if (baseline) {
      std::string covered = Str(ch, "covered_by");
      bool finding = Field(ch, "finding").is_boolean() && Field(ch, "finding").get<bool>();
      out << "<td>"
          << (finding           ? "<strong>\u2716 finding</strong>"
              : covered.empty() ? ""
                                : "covered by " + H(covered, 128))
          << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody></table>\n";
  if (changes.size() > kMaxChangesPerHost) {
    out << "<p class=\"more\">and " << changes.size() - kMaxChangesPerHost
        << " more changes (the JSON report has them all)</p>\n";
  }
  return out.str();
}

// ---- the chart ----

struct Day {
  int64_t failing = 0;
  int64_t open = 0;  // leftover + unverified + active
};

bool FromSummary(const json& s, Day* day) {
  if (!s.is_object()) return false;
  const json& f = Field(s, "findings");
  const json& e = Field(s, "exceptions");
  if (!f.is_object() || !e.is_object()) return false;
  // A stored summary is read defensively: counts outside [0, 10^12] are not drawn.
  auto count = [](const json& o, const char* key, int64_t* sum) {
    int64_t n = Int(o, key);
    *sum += n;
    return n >= 0 && n <= kMaxChartValue;
  };
  day->failing = 0;
  day->open = 0;
  bool ok = true;
  for (std::string_view name : kSeverityNames) {
    ok = count(f, std::string(name).c_str(), &day->failing) && ok;
  }
  for (const char* status : {"leftover", "unverified", "active"}) {
    ok = count(e, status, &day->open) && ok;
  }
  return ok;
}

int64_t DayOf(int64_t t) { return t >= 0 ? t / 86400 : (t - 86399) / 86400; }

std::string DateOf(int64_t day) { return FormatRfc3339(day * 86400).substr(0, 10); }

// Failing findings and open exceptions per day over the last 30 days: the last report of each
// day (this one for today). A day without a report is a gap, never a zero.
std::string Chart(const json& doc, const std::vector<ReportRecord>& history, int64_t now) {
  std::map<int64_t, Day> days;
  int64_t today = DayOf(now);
  int64_t first = today - (kChartDays - 1);
  for (const ReportRecord& r : history) {
    int64_t d = DayOf(r.generated_at);
    if (d < first || d > today) continue;
    Day day;
    if (FromSummary(json::parse(r.summary, nullptr, false), &day)) days[d] = day;
  }
  Day current;
  if (FromSummary(Field(doc, "summary"), &current)) days[today] = current;
  int64_t top = 1;
  for (const auto& [d, v] : days) top = std::max({top, v.failing, v.open});
  // A round top: 1, 2, 5 times a power of ten.
  int64_t scale = 1;
  while (scale * 10 < top) scale *= 10;
  for (int64_t m : {1, 2, 5, 10}) {
    if (m * scale >= top) {
      top = m * scale;
      break;
    }
  }
  constexpr int kLeft = 56, kTop = 16, kWidth = 660, kHeight = 170;
  auto x = [&](int64_t d) { return kLeft + (d - first) * kWidth / (kChartDays - 1); };
  auto y = [&](int64_t v) { return kTop + kHeight - v * kHeight / top; };
  std::ostringstream svg;
  svg << "<svg id=\"chart\" role=\"img\" aria-labelledby=\"chart-title\" viewBox=\"0 0 760 240\" "
         "width=\"760\" height=\"240\" xmlns=\"http://www.w3.org/2000/svg\">\n"
      << "<title id=\"chart-title\">Failing findings and open exceptions per day, " << DateOf(first)
      << " to " << DateOf(today) << "</title>\n";
  // Grid lines at whole numbers: top is 1, 2 or 5 times a power of ten.
  int64_t steps = top == 1 ? 1 : top == 2 ? 2 : top % 5 == 0 && top % 4 != 0 ? 5 : 4;
  for (int64_t i = 0; i <= steps; ++i) {
    int64_t v = top * i / steps;
    svg << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + kWidth << "\" y1=\"" << y(v)
        << "\" y2=\"" << y(v) << "\" stroke=\"#ddd\"/><text x=\"" << kLeft - 6 << "\" y=\""
        << y(v) + 4 << "\" text-anchor=\"end\">" << v << "</text>\n";
  }
  for (int64_t d : {first, first + (kChartDays - 1) / 2, today}) {
    svg << "<text x=\"" << x(d) << "\" y=\"" << kTop + kHeight + 18 << "\" text-anchor=\"middle\">"
        << DateOf(d) << "</text>\n";
  }
  // One polyline per run of consecutive days; a marker per day with its value as a tooltip.
  auto series = [&](bool failing, const char* colour, const char* dash) {
    std::string line;
    int64_t previous = first - 2;
    auto flush = [&]() {
      if (line.find(' ') != std::string::npos) {
        svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\"" << dash
            << " points=\"" << line << "\"/>\n";
      }
      line.clear();
    };
    for (const auto& [d, v] : days) {
      if (d != previous + 1) flush();
      previous = d;
      int64_t value = failing ? v.failing : v.open;
      line += (line.empty() ? "" : " ") + std::to_string(x(d)) + "," + std::to_string(y(value));
    }
    flush();
    for (const auto& [d, v] : days) {
      int64_t value = failing ? v.failing : v.open;
      std::string tip = "<title>" + DateOf(d) + ": " + std::to_string(value) +
                        (failing ? " failing findings" : " open exceptions") + "</title>";
      if (failing) {
        svg << "<circle class=\"pt-failing\" cx=\"" << x(d) << "\" cy=\"" << y(value)
            << "\" r=\"4\" fill=\"" << colour << "\">" << tip << "</circle>\n";
      } else {
        svg << "<rect class=\"pt-open\" x=\"" << x(d) - 4 << "\" y=\"" << y(value) - 4
            << "\" width=\"8\" height=\"8\" fill=\"" << colour << "\">" << tip << "</rect>\n";
      }
    }
  };
  series(true, "#b42318", "");
  series(false, "#1e4e8c", " stroke-dasharray=\"6 4\"");
  int legend = kTop + kHeight + 38;
  svg << "<circle cx=\"" << kLeft + 6 << "\" cy=\"" << legend - 4
      << "\" r=\"4\" fill=\"#b42318\"/><text x=\"" << kLeft + 16 << "\" y=\"" << legend
      << "\">failing findings (solid line, circles)</text>\n"
      << "<rect x=\"" << kLeft + 300 << "\" y=\"" << legend - 8
      << "\" width=\"8\" height=\"8\" fill=\"#1e4e8c\"/><text x=\"" << kLeft + 314 << "\" y=\""
      << legend << "\">open exceptions: leftover, unverified, active (dashed, squares)</text>\n"
      << "</svg>\n";
  // The same numbers as a table, for screen readers and for copying.
  svg << "<details><summary>The chart's numbers (" << days.size()
      << " day(s) with a report)</summary><table><thead><tr><th>Day</th><th>Failing "
         "findings</th><th>Open exceptions</th></tr></thead><tbody>\n";
  for (const auto& [d, v] : days) {
    svg << "<tr><td>" << DateOf(d) << "</td>" << Count(v.failing) << Count(v.open) << "</tr>\n";
  }
  svg << "</tbody></table></details>\n";
  return svg.str();
}

// ---- hosts ----

struct HostView {
  const json* host = nullptr;
  size_t index = 0;
  std::array<int64_t, 5> failing{};  // by kSeverityNames, tolerated apart
  int64_t tolerated = 0;
  std::string worst = "none";
  std::vector<const json*> exceptions;  // its verdicts, in the report's order
  std::set<std::string> statuses;       // of its exceptions, "stale", "changed"
  int64_t leftovers = 0;
  int64_t changes = 0;
  int64_t baseline_findings = 0;
  bool notable = false;  // anything to show in detail
};

std::string StatusAttr(const std::set<std::string>& statuses) {
  std::string out;
  for (const std::string& s : statuses) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::vector<HostView> Hosts(const json& doc) {
  std::map<std::string, std::vector<const json*>> verdicts;  // host -> its verdicts
  for (const json& v : Arr(doc, "exceptions")) verdicts[Str(v, "host")].push_back(&v);
  std::vector<HostView> out;
  const json& hosts = Arr(doc, "hosts");
  for (size_t i = 0; i < hosts.size(); ++i) {
    const json& h = hosts[i];
    HostView v;
    v.host = &h;
    v.index = i;
    for (const json& f : Arr(h, "failing")) {
      bool tolerated = Field(f, "tolerated").is_boolean() && Field(f, "tolerated").get<bool>();
      std::string sev = Str(f, "severity");
      if (tolerated) {
        ++v.tolerated;
        continue;
      }
      for (size_t s = 0; s < kSeverityNames.size(); ++s) {
        if (sev == kSeverityNames[s]) ++v.failing[s];
      }
      if (Rank(sev) > Rank(v.worst)) v.worst = sev;
    }
    bool open_exception = false;  // leftover, unverified or active: something to act on
    if (auto it = verdicts.find(Str(h, "host")); it != verdicts.end()) v.exceptions = it->second;
    for (const json* e : v.exceptions) {
      std::string s = Str(*e, "status");
      v.statuses.insert(s);
      if (s == "leftover") ++v.leftovers;
      if (s != "revoked") open_exception = true;
    }
    if (Field(h, "stale").is_boolean() && Field(h, "stale").get<bool>()) v.statuses.insert("stale");
    v.changes = static_cast<int64_t>(Arr(h, "changes_since_previous").size());
    bool is_new =
        Field(h, "new_since_previous").is_boolean() && Field(h, "new_since_previous").get<bool>();
    if (v.changes > 0 || is_new) v.statuses.insert("changed");
    v.baseline_findings = Int(Field(h, "baseline"), "findings");
    v.notable =
        !Arr(h, "failing").empty() || !Arr(h, "unknown").empty() || v.changes > 0 ||
        v.baseline_findings > 0 || open_exception ||
        (Field(h, "incomplete_sections").is_object() && !Field(h, "incomplete_sections").empty()) ||
        v.statuses.count("stale") > 0;
    out.push_back(std::move(v));
  }
  return out;
}

// Most urgent first: leftovers, then failing findings by severity, baseline findings, changes.
bool MoreUrgent(const HostView* a, const HostView* b) {
  if (a->leftovers != b->leftovers) return a->leftovers > b->leftovers;
  if (a->failing != b->failing) return a->failing > b->failing;
  if (a->baseline_findings != b->baseline_findings) {
    return a->baseline_findings > b->baseline_findings;
  }
  if (a->changes != b->changes) return a->changes > b->changes;
  return a->index < b->index;
}

// The host's access rights (HostReport::access), each row with the open exception that covers
// it: at a glance, which extended rights are in place, and whose they are.
void AccessSection(const json& access, bool included, const std::vector<const json*>& exceptions,
                   std::ostream& out) {
  if (!access.is_object()) {
    out << "<p class=\"meta\">Access rights: "
        << (included ? "the state could not be read."
                     : "not in this report (a fleet's: <code>--access all</code> includes them; "
                       "<code>tidemarkctl who</code> answers per identity).")
        << "</p>\n";
    return;
  }
  std::map<std::string, const json*> covered;  // item id -> verdict (not revoked)
  for (const json* e : exceptions) {
    if (Str(*e, "status") == "revoked") continue;
    for (const json& i : Arr(*e, "items")) covered.emplace(Str(i, "id"), e);
  }
  struct Part {
    const char* key;
    const char* title;
    std::vector<std::pair<const char*, const char*>> columns;  // heading, column
  };
  const Part parts[] = {
      {"uid0_accounts", "Accounts with UID 0", {{"Account", "name"}}},
      {"privileged_members",
       "Members of privileged groups",
       {{"Group", "group"}, {"Member", "user"}, {"Via", "via"}}},
      {"sudo_grants",
       "sudo grants",
       {{"Who", "principal"}, {"As", "runas_users"}, {"Command", "command"}}},
      {"ssh_keys",
       "Authorized SSH keys",
       {{"User", "user"},
        {"Type", "type"},
        {"Fingerprint", "fingerprint"},
        {"Comment", "comment"}}},
  };
  out << "<h4>Access rights</h4>\n";
  for (const Part& p : parts) {
    const json& part = Field(access, p.key);
    const json& rows = Arr(part, "rows");
    std::string incomplete = Str(part, "incomplete");
    if (!incomplete.empty()) {
      out << "<p><strong>" << p.title << ": not known in full</strong> (" << H(incomplete) << ")"
          << (rows.empty() ? "." : "; what was read:") << "</p>\n";
      if (rows.empty()) continue;
    } else if (rows.empty()) {
      out << "<p class=\"meta\">" << p.title << ": none.</p>\n";
      continue;
    }
    out << "<table><caption>" << p.title << " (" << rows.size() << ")</caption><thead><tr>";
    for (const auto& [heading, column] : p.columns) out << "<th>" << heading << "</th>";
    if (std::string_view(p.key) == "sudo_grants") out << "<th>Password</th>";
    out << "<th>Where</th><th>Exception</th></tr></thead><tbody>\n";
    size_t n = 0;
    for (const json& row : rows) {
      if (++n > kMaxItemsPerRule * 5) break;
      out << "<tr>";
      for (const auto& [heading, column] : p.columns) {
        out << "<td><code>" << H(CellText(Field(row, column), "")) << "</code></td>";
      }
      if (std::string_view(p.key) == "sudo_grants") {
        bool nopasswd = Field(row, "nopasswd").is_number_integer() &&
                        Field(row, "nopasswd").get<int64_t>() != 0;
        out << "<td>" << (nopasswd ? "<strong>NOPASSWD</strong>" : "asked") << "</td>";
      }
      out << "<td><code>" << H(Where(row)) << "</code></td><td>";
      auto it = covered.find(Str(row, "id"));
      if (it != covered.end()) {
        const json& e = *it->second;
        out << StatusBadge(Str(e, "status")) << " " << H(Str(e, "exception"), 128) << "<br>"
            << H(Str(Field(e, "owner"), "name"), 128) << ", " << H(Str(e, "ticket"), 128);
      }
      out << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
    if (rows.size() > kMaxItemsPerRule * 5) {
      out << "<p class=\"more\">and " << rows.size() - kMaxItemsPerRule * 5
          << " more (the JSON report has them all)</p>\n";
    }
  }
}

// The sections that were not collected fully, and why.
void IncompleteSections(const json& h, std::ostream& out) {
  const json& incomplete = Field(h, "incomplete_sections");
  if (incomplete.is_object() && !incomplete.empty()) {
    out << "<p><strong>Not collected fully</strong> (rules reading them are unknown, never "
           "passed):";
    for (const auto& [section, status] : incomplete.items()) {
      out << " " << H(section, 64) << " (" << H(status.is_string() ? status.get<std::string>() : "")
          << ")";
    }
    out << "</p>\n";
    const json& errors = Arr(h, "collection_errors");
    if (!errors.empty()) {
      out << "<ul class=\"items\">";
      for (const json& e : errors) {
        std::string where = Str(e, "path");
        if (Field(e, "line").is_number_integer()) where += ":" + std::to_string(Int(e, "line"));
        out << "<li>" << H(Str(e, "section"), 64) << ": "
            << (where.empty() ? "" : "<code>" + H(where) + "</code> ") << H(Str(e, "message"))
            << "</li>";
      }
      out << "</ul>\n";
    }
  }
}

// The host's failing rules, each with its items (at most kMaxItemsPerRule).
void FailingRules(const json& failing, std::ostream& out) {
  if (!failing.empty()) {
    out << "<h4>Failing rules</h4>\n<table><thead><tr><th>Severity</th><th>Rule</th><th>Items "
           "(where)</th></tr></thead>"
           "<tbody>\n";
    for (const json& f : failing) {
      bool tolerated = Field(f, "tolerated").is_boolean() && Field(f, "tolerated").get<bool>();
      std::string sev = Str(f, "severity");
      out << "<tr class=\"f\" data-severity=\"" << (tolerated ? "none" : H(sev, 16)) << "\"><td>"
          << SeverityBadge(sev, tolerated) << "</td><td><code>" << H(Str(f, "rule"), 256)
          << "</code><br>" << H(Str(f, "title")) << "</td><td><ul class=\"items\">";
      const json& items = Arr(f, "items");
      size_t n = 0;
      for (const json& i : items) {
        if (++n > kMaxItemsPerRule) break;
        out << "<li><code>" << H(Str(i, "id")) << "</code>";
        if (std::string at = Where(i); !at.empty()) out << " <code>" << H(at) << "</code>";
        if (std::string d = Str(i, "detail"); !d.empty()) out << " \u2014 " << H(d);
        if (std::string note = Str(i, "exception_note"); !note.empty()) {
          out << " <em>(" << H(note) << ")</em>";
        }
        out << "</li>";
      }
      if (items.size() > kMaxItemsPerRule) {
        out << "<li class=\"more\">and " << items.size() - kMaxItemsPerRule << " more</li>";
      }
      out << "</ul></td></tr>\n";
    }
    out << "</tbody></table>\n";
  }
}

// The host's unknown and error results, each with why.
void UnknownResults(const json& unknown, std::ostream& out) {
  if (!unknown.empty()) {
    out << "<h4>Unknown and error "
           "results</h4>\n<table><thead><tr><th>Result</th><th>Rule</th><th>Why</th></tr></"
           "thead><tbody>\n";
    for (const json& u : unknown) {
      out << "<tr class=\"f\" data-severity=\"" << H(Str(u, "severity"), 16) << "\"><td>"
          << H(Str(u, "result"), 16) << " " << SeverityBadge(Str(u, "severity"))
          << "</td><td><code>" << H(Str(u, "rule"), 256) << "</code><br>" << H(Str(u, "title"))
          << "</td><td>" << H(Str(u, "message")) << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
  }
}

void HostDetail(const HostView& v, const json& doc, std::ostream& out) {
  const json& h = *v.host;
  std::string name = Str(h, "host");
  out << "<section class=\"host f\" id=\"host-" << v.index << "\" data-host=\"" << H(name)
      << "\" data-severity=\"" << v.worst << "\" data-status=\"" << StatusAttr(v.statuses)
      << "\">\n<h3>" << H(name) << (v.worst != "none" ? " " + SeverityBadge(v.worst) : "");
  for (const std::string& s : v.statuses) {
    if (s != "changed") out << " " << StatusBadge(s);
  }
  out << "</h3>\n<p class=\"meta\">snapshot <code>" << H(Str(h, "snapshot"), 96)
      << "</code>, received " << H(Str(h, "received_at"), 32) << ", last reported "
      << H(Str(h, "last_reported_at"), 32)
      << (Field(h, "judged").is_boolean() && !Field(h, "judged").get<bool>() ? ", not judged yet"
                                                                             : "")
      << "</p>\n";
  IncompleteSections(h, out);
  const std::vector<const json*>& mine = v.exceptions;
  if (!mine.empty()) {
    out << "<p>Exceptions:";
    for (const json* e : mine) {
      out << " " << StatusBadge(Str(*e, "status")) << " " << H(Str(*e, "exception"), 128)
          << " (owner " << H(Str(Field(*e, "owner"), "name"), 128) << ", ticket "
          << H(Str(*e, "ticket"), 128) << ")";
    }
    out << "</p>\n";
  }
  const json& included = Field(Field(doc, "summary"), "access_included");
  AccessSection(Field(h, "access"), !included.is_boolean() || included.get<bool>(), mine, out);
  FailingRules(Arr(h, "failing"), out);
  UnknownResults(Arr(h, "unknown"), out);
  const json& since = Arr(h, "changes_since_previous");
  if (!since.empty()) {
    out << "<h4>Changed since the previous report</h4>\n" << ChangesTable(since, false);
  } else if (Field(h, "new_since_previous").is_boolean() &&
             Field(h, "new_since_previous").get<bool>()) {
    out << "<p><strong>New since the previous report.</strong></p>\n";
  }
  const json& baseline = Field(h, "baseline");
  if (baseline.is_object() && !Arr(baseline, "changes").empty()) {
    out << "<h4>Since the approved baseline</h4>\n<p class=\"meta\">approved by "
        << H(Str(baseline, "approved_by"), 128) << " at " << H(Str(baseline, "approved_at"), 32)
        << " (snapshot <code>" << H(Str(baseline, "snapshot"), 96) << "</code>)"
        << (Str(baseline, "note").empty() ? "" : ": " + H(Str(baseline, "note"))) << "; "
        << Int(baseline, "findings") << " finding(s)</p>\n"
        << ChangesTable(Arr(baseline, "changes"), true);
  }
  out << "</section>\n";
}

// ---- the page ----

std::string CspHash(std::string_view text) {
  std::string hex = Sha256Hex(text);
  std::string raw;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return "'sha256-" + Base64Encode(raw) + "'";
}

void Summary(const json& doc, std::ostream& out) {
  const json& s = Field(doc, "summary");
  const json& findings = Field(s, "findings");
  const json& exceptions = Field(s, "exceptions");
  int64_t leftovers = Int(exceptions, "leftover");
  if (leftovers > 0) {
    out << "<p class=\"alert\">\u2716 " << leftovers
        << " leftover exception(s): extended rights still in place after their expiry "
           "(<a href=\"#exceptions\">who and where</a>).</p>\n";
  } else if (!Arr(doc, "exceptions").empty()) {
    out << "<p class=\"ok\">\u2714 No leftover exception: no extended right of the register "
           "outlived its expiry.</p>\n";
  }
  const json& stale = Arr(s, "hosts_stale");
  out << "<ul class=\"cards\">\n<li>Hosts<span class=\"big\">" << Int(s, "hosts") << "</span>"
      << Int(s, "hosts_reporting") << " reporting, " << stale.size() << " stale</li>\n"
      << "<li>Failing findings<span class=\"big\">";
  int64_t total = 0;
  for (std::string_view name : kSeverityNames) total += Int(findings, std::string(name).c_str());
  out << total << "</span>";
  for (std::string_view name : kSeverityNames) {
    int64_t n = Int(findings, std::string(name).c_str());
    if (n > 0) out << SeverityBadge(std::string(name)) << " " << n << " ";
  }
  out << "<br>" << Int(s, "tolerated") << " tolerated, " << Int(s, "unknown")
      << " unknown</li>\n<li>Exceptions<span class=\"big\">" << leftovers << " leftover</span>";
  for (const char* st : {"unverified", "active", "revoked"}) {
    out << StatusBadge(st) << " " << Int(exceptions, st) << " ";
  }
  out << "</li>\n<li>"
      << (Str(s, "changes_since") == Str(s, "previous_report") ? "Since the previous report"
                                                               : "Since --since")
      << "<span class=\"big\">" << Arr(s, "hosts_changed_since_previous").size()
      << " host(s) changed</span>";
  if (Str(s, "changes_since").empty()) {
    out << "no previous report recorded";
  } else {
    out << "or new since " << H(Str(s, "changes_since"), 32) << "; "
        << Arr(s, "revoked_since_previous").size() << " exception(s) newly revoked";
  }
  out << "</li>\n<li>Since the approved baselines<span class=\"big\">"
      << Int(s, "baseline_findings")
      << "</span>finding(s): new root accounts, sudo grants, keys, listeners, SUID files or sshd "
         "settings no exception covers</li>\n</ul>\n";
  if (!stale.empty()) {
    out << "<p>" << StatusBadge("stale") << " No report within "
        << Int(doc, "stale_after_seconds") / 3600 << " h:";
    for (const json& h : stale) out << " " << H(h.is_string() ? h.get<std::string>() : "", 256);
    out << "</p>\n";
  }
  const json& not_judged = Arr(s, "hosts_not_judged");
  if (!not_judged.empty()) {
    out << "<p>Not judged yet (the collector judges with <code>--policies</code>):";
    for (const json& h : not_judged) {
      out << " " << H(h.is_string() ? h.get<std::string>() : "", 256);
    }
    out << "</p>\n";
  }
  const json& revoked = Arr(s, "revoked_since_previous");
  if (!revoked.empty()) {
    out << "<p>" << StatusBadge("revoked") << " since the previous report:";
    for (const json& r : revoked) {
      out << " " << H(Str(r, "exception"), 128) << " on " << H(Str(r, "host"), 256) << ";";
    }
    out << "</p>\n";
  }
}

// One row of the exception table: status, exception, host (linked to its section), owner,
// contact, ticket, expiry, the items still present and why.
void ExceptionRow(const json& v, bool newly_revoked,
                  const std::map<std::string, size_t>& host_index, std::ostream& out) {
  std::string status = Str(v, "status");
  std::string host = Str(v, "host");
  std::string id = Str(v, "exception");
  out << "<tr class=\"f exception\" data-host=\"" << H(host) << "\" data-status=\"" << H(status, 16)
      << "\"><td data-v=\""
      << (status == "leftover"     ? 0
          : status == "unverified" ? 1
          : status == "active"     ? 2
                                   : 3)
      << "\">" << StatusBadge(status);
  if (newly_revoked) out << "<br>since the previous report";
  out << "</td><td><code>" << H(id, 256) << "</code><br>" << H(Str(v, "title")) << "</td><td>";
  auto it = host_index.find(host);
  if (host.empty()) {
    out << "(no host)";
  } else if (it != host_index.end()) {
    out << "<a href=\"#host-" << it->second << "\">" << H(host) << "</a>";
  } else {
    out << H(host);
  }
  out << "</td><td>" << Person(Field(v, "owner")) << "</td><td>" << Person(Field(v, "contact"))
      << "</td><td>" << H(Str(v, "ticket"), 256) << "</td><td>" << H(Str(v, "effective_expiry"), 32)
      << "<br>";
  if (Field(v, "days_overdue").is_number_integer()) {
    out << "<strong>" << Int(v, "days_overdue") << " day(s) overdue</strong>";
  } else {
    out << Int(v, "days_left") << " day(s) left";
  }
  out << "</td><td><ul class=\"items\">";
  for (const json& i : Arr(v, "items")) {
    std::string table = Str(i, "table");
    out << "<li>" << (table.empty() ? "rule " + H(Str(i, "rule"), 256) : H(table, 64)) << " <code>"
        << H(Str(i, "id")) << "</code>";
    if (std::string at = Where(i); !at.empty()) out << " <code>" << H(at) << "</code>";
    out << "</li>";
  }
  out << "</ul></td><td>" << H(Str(v, "reason"));
  const json& evidence = Field(v, "evidence");
  if (evidence.is_object()) {
    out << "<br><span class=\"meta\">evidence: snapshot <code>" << H(Str(evidence, "snapshot"), 96)
        << "</code>, received " << H(Str(evidence, "received_at"), 32) << ", last reported "
        << H(Str(evidence, "last_reported_at"), 32) << "</span>";
  }
  out << "</td></tr>\n";
}

// Revocations proved before the previous report, one row per exception (in `order`), with at
// most kMaxHostsPerGroup of its hosts named.
void RevokedEarlier(const std::vector<std::string>& order,
                    const std::map<std::string, std::vector<const json*>>& earlier,
                    std::ostream& out) {
  if (earlier.empty()) return;
  out << "<h3>Revoked earlier</h3>\n<table class=\"sortable\"><thead><tr><th>Exception</th>"
         "<th>Owner</th><th>Ticket</th><th>Expiry</th><th>Hosts</th><th>Revoked on</th></tr>"
         "</thead><tbody>\n";
  for (const std::string& id : order) {
    const std::vector<const json*>& group = earlier.at(id);
    const json& first = *group.front();
    std::string hosts;
    std::string names;
    for (size_t i = 0; i < group.size() && i < kMaxHostsPerGroup; ++i) {
      std::string host = Str(*group[i], "host");
      hosts += (hosts.empty() ? "" : " ") + H(host);
      names += (names.empty() ? "" : ", ") + (host.empty() ? "(no host)" : H(host));
    }
    out << "<tr class=\"f exception\" data-host=\"" << hosts
        << "\" data-status=\"revoked\"><td><code>" << H(id, 256) << "</code><br>"
        << H(Str(first, "title")) << "</td><td>" << Person(Field(first, "owner")) << "</td><td>"
        << H(Str(first, "ticket"), 256) << "</td><td>" << H(Str(first, "effective_expiry"), 32)
        << "</td><td class=\"n\" data-v=\"" << group.size() << "\">" << group.size() << "</td><td>"
        << StatusBadge("revoked") << " " << names;
    if (group.size() > kMaxHostsPerGroup) {
      out << " <span class=\"more\">and " << group.size() - kMaxHostsPerGroup
          << " more (the JSON report names them all)</span>";
    }
    out << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
}

void Exceptions(const json& doc, const std::map<std::string, size_t>& host_index,
                std::ostream& out) {
  const json& verdicts = Arr(doc, "exceptions");
  out << "<h2 id=\"exceptions\">Exceptions</h2>\n";
  if (verdicts.empty()) {
    out << "<p>No exception register was given (<code>--register</code>), or it names no "
           "exception for these hosts.</p>\n";
    return;
  }
  std::set<std::string> revoked_since;
  for (const json& r : Arr(Field(doc, "summary"), "revoked_since_previous")) {
    revoked_since.insert(Str(r, "exception") + '/' + Str(r, "host"));
  }
  out << "<p class=\"meta\">Leftovers first, then unverified, active (soonest expiry first) and "
         "revoked since the previous report; each on its host, with the items the latest state "
         "still shows and where they were read. Revocations proved earlier follow, one row per "
         "exception.</p>\n"
      << "<table class=\"sortable\" id=\"exception-table\"><thead><tr><th>Status</th>"
         "<th>Exception</th><th>Host</th><th>Owner</th><th>Contact</th><th>Ticket</th>"
         "<th>Expiry</th><th>Items still present</th><th>Why</th></tr></thead><tbody>\n";
  // Revoked before the previous report: history, not work; grouped by exception below.
  std::vector<std::string> earlier_order;
  std::map<std::string, std::vector<const json*>> earlier;
  for (const json& v : verdicts) {
    std::string status = Str(v, "status");
    std::string host = Str(v, "host");
    std::string id = Str(v, "exception");
    std::string key = id;
    key += '/';
    key += host;
    const bool newly_revoked = revoked_since.count(key) > 0;
    if (status == "revoked" && !newly_revoked) {
      auto& group = earlier[id];
      if (group.empty()) earlier_order.push_back(id);
      group.push_back(&v);
      continue;
    }
    ExceptionRow(v, newly_revoked, host_index, out);
  }
  out << "</tbody></table>\n";
  RevokedEarlier(earlier_order, earlier, out);
}

// The hosts with something to show (HostView::notable), the most urgent first.
std::vector<const HostView*> Notable(const std::vector<HostView>& views) {
  std::vector<const HostView*> notable;
  for (const HostView& v : views) {
    if (v.notable) notable.push_back(&v);
  }
  std::stable_sort(notable.begin(), notable.end(), MoreUrgent);
  return notable;
}

// `detailed`: host -> index of the hosts shown in detail (the first --html-hosts of Notable).
void HostsSection(const json& doc, const std::vector<HostView>& views,
                  const std::vector<const HostView*>& notable,
                  const std::map<std::string, size_t>& detailed, std::ostream& out) {
  out << "<h2 id=\"hosts\">Hosts</h2>\n<p class=\"meta\">" << notable.size()
      << " host(s) with findings, open exceptions, changes or stale; the others are listed "
         "below the details.</p>\n"
      << "<div id=\"controls\" hidden><label>Host <input id=\"f-host\" type=\"search\" "
         "placeholder=\"part of a name\"></label><label>Severity at least <select "
         "id=\"f-severity\"><option value=\"\">any</option>";
  for (std::string_view s : kSeverityNames) out << "<option>" << s << "</option>";
  out << "</select></label><label>Status <select id=\"f-status\"><option "
         "value=\"\">any</option><option>leftover</option><option>unverified</option>"
         "<option>active</option><option>revoked</option><option>stale</option>"
         "<option>changed</option></select></label><span id=\"f-count\" "
         "aria-live=\"polite\"></span></div>\n"
      << "<table class=\"sortable\" id=\"host-table\"><thead><tr><th>Host</th><th>Status</th>"
         "<th>Last reported</th><th title=\"critical\">\u25C6 critical</th><th "
         "title=\"high\">\u25B2 high</th><th title=\"medium\">\u25A0 medium</th><th "
         "title=\"low\">\u25CF low</th><th title=\"info\">\u25CB info</th><th>Tolerated</th>"
         "<th>Unknown</th><th>Changes since previous</th><th>Baseline findings</th></tr>"
         "</thead><tbody>\n";
  for (const HostView& v : views) {
    if (!v.notable) continue;
    const json& h = *v.host;
    std::string name = Str(h, "host");
    out << "<tr class=\"f hostrow\" data-host=\"" << H(name) << "\" data-severity=\"" << v.worst
        << "\" data-status=\"" << StatusAttr(v.statuses) << "\"><td>";
    if (detailed.count(name)) {
      out << "<a href=\"#host-" << v.index << "\">" << H(name) << "</a>";
    } else {
      out << H(name);
    }
    out << "</td><td>";
    for (const std::string& s : v.statuses) {
      if (s != "changed") out << StatusBadge(s) << " ";
    }
    out << "</td><td>" << H(Str(h, "last_reported_at"), 32) << "</td>";
    for (int64_t n : v.failing) out << Count(n);
    out << Count(v.tolerated) << Count(static_cast<int64_t>(Arr(h, "unknown").size()))
        << Count(v.changes) << Count(v.baseline_findings) << "</tr>\n";
  }
  out << "</tbody></table>\n";
  out << "<h2 id=\"details\">Host details</h2>\n<p class=\"meta\">The most urgent first "
         "(leftovers, then findings by severity).</p>\n";
  for (const HostView* v : notable) {
    if (detailed.count(Str(*v->host, "host"))) HostDetail(*v, doc, out);
  }
  if (notable.size() > detailed.size()) {
    out << "<p class=\"more\">" << notable.size() - detailed.size()
        << " more host(s) are not shown in detail here (<code>--html-hosts " << detailed.size()
        << "</code>): each has its row in the hosts table, and the JSON and CSV reports hold "
           "everything.</p>\n";
  }
  size_t quiet = views.size() - notable.size();
  if (quiet > 0) {
    out << "<details id=\"quiet-hosts\"><summary>" << quiet
        << " host(s) without findings, open exceptions or changes</summary><p>";
    bool first = true;
    for (const HostView& v : views) {
      if (v.notable) continue;
      out << (first ? "" : ", ") << H(Str(*v.host, "host"));
      first = false;
    }
    out << "</p></details>\n";
  }
}

void ContactsSection(const json& doc, std::ostream& out) {
  const json& contacts = Arr(doc, "contacts");
  out << "<h2 id=\"contacts\">Owners and contacts</h2>\n";
  if (contacts.empty()) {
    out << "<p>None: the owners and contacts come from the exception register, the approvers "
           "from the approved baselines.</p>\n";
    return;
  }
  out << "<table class=\"sortable\"><thead><tr><th>Role</th><th>Name</th><th>Organisation</th>"
         "<th>E-mail</th><th>Phone</th><th>Availability</th><th>Answers for</th></tr></thead>"
         "<tbody>\n";
  for (const json& c : contacts) {
    out << "<tr><td>" << H(Str(c, "role"), 32) << "</td><td>" << H(Str(c, "name"), 256)
        << "</td><td>" << H(Str(c, "organisation"), 256) << "</td><td><code>"
        << H(Str(c, "email"), 256) << "</code></td><td>" << H(Str(c, "phone"), 64) << "</td><td>"
        << H(Str(c, "availability"), 256) << "</td><td>";
    bool first = true;
    for (const json& e : Arr(c, "exceptions")) {
      out << (first ? "" : ", ") << "<code>" << H(e.is_string() ? e.get<std::string>() : "", 256)
          << "</code>";
      first = false;
    }
    for (const json& b : Arr(c, "baselines")) {
      out << (first ? "" : ", ") << "baseline of "
          << H(b.is_string() ? b.get<std::string>() : "", 256);
      first = false;
    }
    out << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
}

}  // namespace

std::string RenderHtml(const json& doc, const std::vector<ReportRecord>& history,
                       const HtmlOptions& options) {
  std::string generated = Str(doc, "generated_at");
  auto now = ParseRfc3339(generated);
  std::vector<HostView> views = Hosts(doc);
  std::vector<const HostView*> notable = Notable(views);
  std::map<std::string, size_t> detailed;  // host -> index, of the hosts shown in detail
  for (const HostView* v : notable) {
    if (options.detail_hosts > 0 && detailed.size() >= static_cast<size_t>(options.detail_hosts)) {
      break;
    }
    detailed[Str(*v->host, "host")] = v->index;
  }
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      << CspHash(kStyle) << "; script-src " << CspHash(kScript)
      << "; base-uri 'none'; form-action 'none'\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<meta name=\"generator\" content=\"tidemarkctl report\">\n"
      << "<title>tidemark report " << H(generated, 32) << "</title>\n<style>" << kStyle
      << "</style>\n</head>\n<body>\n<header><h1>tidemark report</h1><p class=\"meta\">as at "
      << H(generated, 32) << " (UTC)";
  if (std::string prev = Str(Field(doc, "summary"), "previous_report"); !prev.empty()) {
    out << "; previous report " << H(prev, 32);
  }
  out << "</p></header>\n<nav><a href=\"#summary\">Summary</a><a href=\"#trend\">30 days</a>"
         "<a href=\"#exceptions\">Exceptions</a><a href=\"#hosts\">Hosts</a><a "
         "href=\"#details\">Details</a><a href=\"#contacts\">Contacts</a></nav>\n"
      << "<main>\n<h2 id=\"summary\">Summary</h2>\n";
  Summary(doc, out);
  out << "<h2 id=\"trend\">The last 30 days</h2>\n" << Chart(doc, history, now.ok() ? *now : 0);
  Exceptions(doc, detailed, out);
  HostsSection(doc, views, notable, detailed, out);
  ContactsSection(doc, out);
  out << "</main>\n<footer><p class=\"meta\">Written by <code>tidemarkctl report</code>. "
         "Severity is shown by text and shape: \u25C6 critical, \u25B2 high, \u25A0 medium, "
         "\u25CF low, \u25CB info, \u25C7 tolerated; exceptions: \u2716 leftover, ? unverified, "
         "\u25F7 active, \u2714 revoked; \u25CC stale. The JSON report holds everything this page "
         "shows, "
         "uncut.</p></footer>\n<script>"
      << kScript << "</script>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace tidemark::ctl::report
