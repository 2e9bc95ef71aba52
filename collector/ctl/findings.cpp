// `tidemarkctl findings` (commands.h): what the collector's evaluator stored
// (collector/evaluator.h) — the failing, unknown and error results of every host's current
// state, or its state at a time.
#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "collector/ctl/commands.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate.h"
#include "common/policy/rules.h"

namespace tidemark::ctl {

namespace {

using json = nlohmann::json;
using policy::Severity;

constexpr const char* kFindingsFooter =
    "Shows what the collector found when it judged each host's latest state (or its state\n"
    "at TIME: RFC 3339, or a date meaning its start in UTC) against its policies: every\n"
    "result that is not pass (fail with the violating items, unknown, error), with the\n"
    "snapshot it came from and where each item was read (file:line). The collector judges\n"
    "every state it stores (tidemark-collector --policies); a state not judged yet is\n"
    "listed as such. --host and --rule take fnmatch globs (repeatable); --severity shows\n"
    "results at or above LEVEL (critical, high, medium, low, info; default info).\n"
    "Text: one block per host; JSON: {hosts, findings (one per item), not_evaluated}.\n"
    "Exit codes (as evaluate): 0 no result at or above --fail-on LEVEL (default high)\n"
    "failed; 3 one failed; 1 none failed but one is an error (or the store cannot be read);\n"
    "4 only unknown results at or above LEVEL, or a host not judged yet; 2 usage.\n";

struct FindingsOptions {
  std::string format;
  std::vector<std::string> hosts;  // globs
  std::vector<std::string> rules;  // globs
  Severity min_severity = Severity::kInfo;
  Severity fail_on = Severity::kHigh;
  std::optional<int64_t> at;
};

bool RuleMatches(const std::vector<std::string>& globs, const std::string& rule) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
    return fnmatch(g.c_str(), rule.c_str(), 0) == 0;
  });
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One host's state and what was found in it.
struct HostFindings {
  StoredSnapshot state;
  std::optional<EvaluationRecord> evaluation;
  std::vector<const StoredResult*> shown;  // not pass, filtered, failures first
  OutcomeCounts counts;
};

void PrintText(const std::vector<HostFindings>& all, std::ostream& out) {
  for (const HostFindings& h : all) {
    out << "host " << Safe(h.state.host) << ": snapshot " << Safe(h.state.id) << " received "
        << FormatRfc3339(h.state.received_at);
    if (!h.evaluation) {
      out << ": not judged yet\n";
      continue;
    }
    out << ", judged " << FormatRfc3339(h.evaluation->evaluated_at) << ": " << h.counts.fail
        << " fail, " << h.counts.unknown << " unknown, " << h.counts.error << " error, "
        << h.counts.pass << " pass\n";
    for (const StoredResult* r : h.shown) {
      out << Upper(r->outcome) << "\t" << r->severity << "\t" << Safe(r->rule_id) << "\t"
          << Safe(r->title, kMaxItemBytes) << "\n";
      for (const StoredItem& i : r->items) {
        out << "\t" << Safe(i.id, kMaxItemBytes);
        if (std::string at = policy::SourceLocation(i.source_file, i.source_line); !at.empty())
          out << "\t" << Safe(at, kMaxItemBytes);
        if (!i.detail.empty()) out << "\t" << Safe(i.detail, kMaxItemBytes);
        out << "\n";
      }
      if (!r->message.empty()) out << "\t" << Safe(r->message, kMaxMessageBytes) << "\n";
    }
  }
}

void PrintJson(const std::vector<HostFindings>& all, const FindingsOptions& o, std::ostream& out) {
  json hosts = json::array();
  json findings = json::array();
  json not_evaluated = json::array();
  for (const HostFindings& h : all) {
    json snapshot = {{"id", h.state.id},
                     {"received_at", FormatRfc3339(h.state.received_at)},
                     {"content_hash", h.state.content_hash}};
    if (!h.evaluation) {
      not_evaluated.push_back({{"host", h.state.host}, {"snapshot", snapshot}});
      continue;
    }
    hosts.push_back({{"host", h.state.host},
                     {"snapshot", snapshot},
                     {"evaluated_at", FormatRfc3339(h.evaluation->evaluated_at)},
                     {"policy_hash", h.evaluation->policy_hash},
                     {"summary",
                      {{"pass", h.counts.pass},
                       {"fail", h.counts.fail},
                       {"unknown", h.counts.unknown},
                       {"error", h.counts.error}}}});
    for (const StoredResult* r : h.shown) {
      json base = {{"host", h.state.host},
                   {"snapshot", h.state.id},
                   {"received_at", FormatRfc3339(h.state.received_at)},
                   {"rule", r->rule_id},
                   {"title", r->title},
                   {"severity", r->severity},
                   {"result", r->outcome},
                   {"message", r->message}};
      if (r->items.empty()) {
        base["item"] = nullptr;
        base["detail"] = "";
        base["source_file"] = nullptr;
        base["source_line"] = nullptr;
        findings.push_back(std::move(base));
        continue;
      }
      for (const StoredItem& i : r->items) {
        json f = base;
        f["item"] = i.id;
        f["detail"] = i.detail;
        f["source_file"] = i.source_file ? json(*i.source_file) : json();
        f["source_line"] = i.source_line ? json(*i.source_line) : json();
        findings.push_back(std::move(f));
      }
    }
  }
  json doc = {{"at", o.at ? json(FormatRfc3339(*o.at)) : json()},
              {"hosts", std::move(hosts)},
              {"findings", std::move(findings)},
              {"not_evaluated", std::move(not_evaluated)}};
  out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

// Every matching host's state (at --at) and its evaluation, if it was judged.
StatusOr<std::vector<HostFindings>> LoadHosts(SqliteStore& store, const FindingsOptions& o) {
  auto hosts = store.ListHosts();
  if (!hosts.ok()) return hosts.status();
  std::vector<HostFindings> all;
  for (const HostInfo& info : *hosts) {
    if (!HostMatches(o.hosts, info.id)) continue;
    auto state = store.LatestState(info.id, o.at);
    if (!state.ok()) {
      if (state.status().code() == StatusCode::kNotFound) continue;  // nothing that early
      return Status(state.status().code(), info.id + ": " + state.status().message());
    }
    HostFindings h;
    h.state = std::move(*state);
    auto evaluation = store.EvaluationOf(h.state.seq, o.at);
    if (!evaluation.ok()) {
      return Status(evaluation.status().code(), info.id + ": " + evaluation.status().message());
    }
    h.evaluation = std::move(*evaluation);
    all.push_back(std::move(h));
  }
  return all;
}

// Picks the results to show of each judged host (not pass, --severity, --rule), failures and
// the most severe first; returns them as the exit code counts them. `shown` points into
// `all`, which must not grow afterwards.
std::vector<policy::RuleResult> SelectShown(std::vector<HostFindings>& all,
                                            const FindingsOptions& o) {
  std::vector<policy::RuleResult> counted;
  for (HostFindings& h : all) {
    if (!h.evaluation) continue;
    h.counts = CountOutcomes(*h.evaluation);
    for (const StoredResult& r : h.evaluation->results) {
      std::optional<Severity> severity = policy::ParseSeverity(r.severity);
      if (r.outcome == "pass" || !severity || *severity < o.min_severity ||
          !RuleMatches(o.rules, r.rule_id)) {
        continue;
      }
      h.shown.push_back(&r);
      policy::RuleResult c;
      c.severity = *severity;
      c.outcome = r.outcome == "fail"      ? policy::Outcome::kFail
                  : r.outcome == "unknown" ? policy::Outcome::kUnknown
                                           : policy::Outcome::kError;
      counted.push_back(std::move(c));
    }
    std::stable_sort(h.shown.begin(), h.shown.end(), [](const auto* a, const auto* b) {
      if ((a->outcome == "fail") != (b->outcome == "fail")) return a->outcome == "fail";
      return policy::ParseSeverity(a->severity) > policy::ParseSeverity(b->severity);
    });
  }
  return counted;
}

int RunFindings(const FindingsOptions& o, CtlContext& ctx) {
  SqliteStore::Options open_options;
  open_options.create = false;
  auto store = SqliteStore::Open(ctx.db, open_options);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto all = LoadHosts(**store, o);
  if (!all.ok()) return Fail(ctx.err, all.status());
  std::vector<policy::RuleResult> counted = SelectShown(*all, o);
  if (o.format == "json") {
    PrintJson(*all, o, ctx.out);
  } else {
    PrintText(*all, ctx.out);
  }
  int rc = policy::ExitCodeFor(counted, o.fail_on);
  bool not_judged =
      std::any_of(all->begin(), all->end(), [](const HostFindings& h) { return !h.evaluation; });
  if (rc == 0 && not_judged) rc = 4;
  return rc;
}

}  // namespace

void AddFindingsCommands(CLI::App& app, CtlContext& ctx) {
  CLI::App* findings = app.add_subcommand(
      "findings", "what the collector found in every host's latest state (or at --at TIME)");
  findings->group("Judgement (docs/policies.md)");
  findings->footer(kFindingsFooter);
  auto o = std::make_shared<FindingsOptions>();
  AddHostGlobs(*findings, o->hosts);
  findings->add_option("--rule", o->rules, "only rules that match GLOB (repeatable)")
      ->type_name("GLOB");
  AddSeverity(*findings, "--severity", o->min_severity,
              "show results at or above LEVEL (default info)");
  AddAt(*findings, o->at, "the time to look back to (default: now)");
  AddSeverity(*findings, "--fail-on", o->fail_on, "the least severity that fails (default high)");
  AddFormat(*findings, o->format, {"text", "json"});
  findings->callback([&ctx, o] { ctx.rc = RunFindings(*o, ctx); });
}

}  // namespace tidemark::ctl
