// `tidemarkctl report --format csv` (RFC 4180): a row per failing item and per exception verdict.
#include "collector/ctl/report/report.h"
#include "common/policy/exception_output.h"
#include "common/text.h"

namespace tidemark::ctl::report {

using json = nlohmann::json;

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

}  // namespace tidemark::ctl::report
