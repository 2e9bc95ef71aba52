// `tidemarkctl report --format junit`: JUnit XML, so that CI systems show the findings.
#include <set>
#include <sstream>

#include "collector/ctl/report/report.h"
#include "common/policy/exception_output.h"
#include "common/text.h"

namespace tidemark::ctl::report {

using json = nlohmann::json;
using policy::ExceptionStatus;
using policy::Outcome;

namespace {

// XML text: control characters escaped as the terminal outputs do (XML 1.0 forbids most of
// them), then the markup characters.
std::string Xml(std::string_view text) { return EscapeMarkup(EscapeControl(text)); }

}  // namespace

// JUnit XML: a suite per host (with the report's time: the schemas CI systems use allow the
// time and the skipped count on a suite, not on the whole), a case per (host, rule) and per
// (host, exception); failures for fail and leftover, skipped for unknown, error and unverified.
void WriteJunit(const Report& r, std::ostream& out) {
  std::map<std::string, std::vector<const policy::ExceptionVerdict*>> by_host;
  for (const auto& v : r.verdicts) by_host[v.host].push_back(&v);
  std::ostringstream suites;
  int tests = 0, failures = 0;
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
           << "\" failures=\"" << f << "\" errors=\"0\" skipped=\"" << s << "\" timestamp=\""
           << FormatRfc3339(r.now) << "\">\n"
           << cases.str() << "  </testsuite>\n";
    tests += t;
    failures += f;
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
      << tests << "\" failures=\"" << failures << "\" errors=\"0\">\n"
      << suites.str() << "</testsuites>\n";
}

// `json_text` is the JSON document, rendered once for every use.

}  // namespace tidemark::ctl::report
