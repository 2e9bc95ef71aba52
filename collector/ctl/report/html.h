// `tidemarkctl report --format html`: one self-contained page (docs/report.md "HTML"), rendered
// from the report's JSON document (report.h ToJson) and the summaries of the reports recorded
// in the 30 days before it. Everything is inline (CSS, a small script, an SVG chart); a
// Content-Security-Policy allows only that style and that script (by their SHA-256), so the page
// requests nothing and host-written text could not run as script even if it escaped. Readable
// without JavaScript and in print; with JavaScript, filters (host, severity, status; also from
// the address's fragment, e.g. `report.html#host=web&severity=high`) and sortable tables.
#ifndef TIDEMARK_COLLECTOR_CTL_REPORT_HTML_H_
#define TIDEMARK_COLLECTOR_CTL_REPORT_HTML_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "collector/store.h"

namespace tidemark::ctl::report {

struct HtmlOptions {
  // Hosts shown in detail (failing rules with their items, changes), the most urgent first;
  // the others with something to show keep their row in the hosts table. 0: all.
  int detail_hosts = 500;
};

// `doc` is ToJson()'s document; `history` the recorded reports before it (time and summary,
// oldest first), of which the chart shows the last one of each day.
std::string RenderHtml(const nlohmann::json& doc, const std::vector<ReportRecord>& history,
                       const HtmlOptions& options);

}  // namespace tidemark::ctl::report

#endif  // TIDEMARK_COLLECTOR_CTL_REPORT_HTML_H_
