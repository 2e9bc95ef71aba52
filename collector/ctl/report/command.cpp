// `tidemarkctl report` (commands.h): the command — options, formats to files or standard
// output, recording the run. What the report holds is report.h (the model, built from fleet.h:
// the same results as `findings` and the same verdicts as `exceptions`); each format has its
// file here (json, html, text, csv, junit). docs/report.md describes them.
#include <memory>
#include <sstream>

#include "collector/ctl/commands.h"
#include "collector/ctl/report/html.h"
#include "collector/ctl/report/report.h"
#include "common/atomic_file.h"

namespace tidemark::ctl {

namespace {

using json = nlohmann::json;
using report::Options;
using report::Report;

constexpr const char* kReportFooter =
    "Writes the fleet's state as at --now (default: now): a summary (hosts reporting; hosts\n"
    "stale — no report within --stale-after DUR, default 26h — named, never left out;\n"
    "findings by severity; exceptions by status), the exceptions of --register (leftovers\n"
    "first with owner, contact, ticket and the items still present, then unverified, active,\n"
    "revoked), per host the failing rules with their items (tolerated ones marked), unknown\n"
    "and error results and the sections not collected fully, and the owners and contacts.\n"
    "--format F [--out FILE] may be given several times (json, html, text, csv, junit);\n"
    "without --out a format goes to standard output (one at most). Files are replaced\n"
    "atomically, mode 0640 (a report names who can still get in where). The HTML page is one\n"
    "self-contained file (it requests nothing), with a chart of the last 30 days.\n"
    "Each run is recorded in the store (its time, options, summary and JSON document;\n"
    "--no-record for a run that should not count): the next report says what changed since\n"
    "— hosts whose configuration changed (each change with the state from which on it held),\n"
    "new hosts, exception verdicts revoked since — and --previous prints the last one again.\n"
    "docs/report.md describes every format.\n"
    "Exit codes: 0 nothing failing at or above --fail-on LEVEL (default high) and no\n"
    "leftover; 5 a leftover exception (it wins: a leftover is what the report exists to\n"
    "catch); 3 a failing finding at or above LEVEL (a right added since an approved baseline\n"
    "that no exception covers counts as high); 1 an error; 2 usage.\n";

// `json_text` is the JSON document, rendered once for every use.
void Write(const Report& r, const Options& o, const std::string& format, const json& doc,
           const std::string& json_text, std::ostream& out) {
  if (format == "json") {
    out << json_text;
  } else if (format == "html") {
    out << report::RenderHtml(doc, r.history, {o.html_hosts});
  } else if (format == "csv") {
    report::WriteCsv(r, out);
  } else if (format == "junit") {
    report::WriteJunit(r, out);
  } else {
    report::WriteText(r, out);
  }
}

// --previous: the last recorded document again, as JSON or as its HTML page.
int PrintPrevious(SqliteStore& store, bool html, const Options& o, CtlContext& ctx) {
  auto prev = store.LatestReport(std::nullopt);
  if (!prev.ok()) return Fail(ctx.err, prev.status());
  if (!*prev) return Fail(ctx.err, "no report was recorded yet");
  if (!html) {
    ctx.out << (*prev)->document;
    return 0;
  }
  json doc = json::parse((*prev)->document, nullptr, false);
  if (!doc.is_object()) return Fail(ctx.err, "the recorded report is not a JSON document");
  int64_t at = (*prev)->generated_at;
  auto history = store.ReportSummaries(at - int64_t{30} * 86400, at);
  if (!history.ok()) return Fail(ctx.err, history.status());
  ctx.out << report::RenderHtml(doc, *history, {o.html_hosts});
  return 0;
}

int RunReport(const Options& o, CtlContext& ctx) {
  std::vector<std::string> formats =
      o.formats.empty() ? std::vector<std::string>{"text"} : o.formats;
  if (o.outs.size() > o.formats.size()) {
    return Usage(ctx.err, "each --out FILE follows its --format", "report");
  }
  if (formats.size() - o.outs.size() > 1) {
    return Usage(ctx.err, "one format at most goes to standard output: give --out FILE", "report");
  }
  bool previous_html = o.formats == std::vector<std::string>{"html"};
  if (o.previous && (!o.outs.empty() || (!o.formats.empty() && !previous_html &&
                                         o.formats != std::vector<std::string>{"json"}))) {
    return Usage(ctx.err,
                 "--previous prints the stored JSON document (or, with --format html, its page) "
                 "to standard output",
                 "report");
  }
  if (o.html_hosts < 0) return Usage(ctx.err, "--html-hosts is 0 (all) or more", "report");
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  if (o.previous) return PrintPrevious(**store, previous_html, o, ctx);
  StatusOr<Report> r = report::Build(o, **store, ctx.db);
  if (!r.ok()) return Fail(ctx.err, r.status());
  json doc = report::ToJson(*r);
  const std::string json_text = doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  for (size_t i = 0; i < formats.size(); ++i) {
    if (i >= o.outs.size()) {
      Write(*r, o, formats[i], doc, json_text, ctx.out);
      continue;
    }
    std::ostringstream text;
    Write(*r, o, formats[i], doc, json_text, text);
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
                    {"access", o.access},
                    {"since", o.since},
                    {"formats", formats},
                    {"outs", o.outs}};
    ReportRecord record{r->now, options.dump(), doc["summary"].dump(), json_text};
    if (Status s = (*store)->PutReport(record); !s.ok()) return Fail(ctx.err, s);
  }
  return report::ExitCode(*r, o.fail_on);
}

}  // namespace

void AddReportCommand(CLI::App& app, CtlContext& ctx) {
  auto o = std::make_shared<Options>();
  CLI::App* report = AddCommand(app, "Reports (docs/report.md)", ctx, o, "report",
                                "the fleet's findings, exceptions and hosts in one report",
                                kReportFooter, &RunReport);
  report->add_option("--format", o->formats, "json, html, text, csv or junit (repeatable)")
      ->check(CLI::IsMember({"json", "html", "text", "csv", "junit"}))
      ->type_name("F");
  report->add_option("--out", o->outs, "the file of the --format before it (repeatable)")
      ->type_name("FILE");
  AddRegisterOptions(*report, o->register_file, o->policies, o->policies_given);
  AddTime(*report, "--now", o->now, "report as at TIME (default: now)");
  report
      ->add_option("--since", o->since,
                   "count what changed from TIME, or DUR before --now (default: from the "
                   "previous recorded report)")
      ->type_name("TIME|DUR");
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
                   "print the last recorded report again (its JSON document, or its page with "
                   "--format html)");
  report
      ->add_option("--access", o->access,
                   "each host's access rights (UID 0, privileged groups, sudo, keys): auto "
                   "(reports of at most 500 hosts), all, none")
      ->check(CLI::IsMember({"auto", "all", "none"}))
      ->type_name("MODE");
  report
      ->add_option("--html-hosts", o->html_hosts,
                   "hosts shown in detail in the HTML page, the most urgent first; every host "
                   "keeps its row (default 500, 0: all)")
      ->type_name("N");
}

}  // namespace tidemark::ctl
