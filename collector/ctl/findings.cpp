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
#include "collector/ctl/fleet.h"
#include "collector/ctl/stored_facts.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate.h"
#include "common/policy/evaluate_command.h"
#include "common/policy/exceptions.h"
#include "common/policy/register.h"
#include "common/policy/rules.h"
#include "common/text.h"
#include "common/time.h"

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
    "--register FILE applies the exception register (docs/exceptions.md) at --at (default:\n"
    "now): failures that active exceptions cover are TOLERATED and do not count, each item\n"
    "names the exception that covers it, and each leftover is a critical failure\n"
    "`exception:ID` naming owner, contact and ticket (--policies for {rule: ID} covers).\n"
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
  std::string register_file;
  std::string policies = policy::kDefaultPoliciesDir;
};

bool RuleMatches(const std::vector<std::string>& globs, const std::string& rule) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
    return fnmatch(g.c_str(), rule.c_str(), 0) == 0;
  });
}

// One host's judged state (fleet.h) and what of it is shown.
struct HostFindings : JudgedHost {
  std::vector<const policy::RuleResult*> shown;  // not pass, filtered, failures first
  int tolerated = 0;
};

// How many results had each outcome; a tolerated failure counts as tolerated only.
OutcomeCounts Count(const HostFindings& h) {
  OutcomeCounts c;
  for (const policy::RuleResult& r : h.results) {
    if (r.tolerated) continue;
    c.pass += r.outcome == policy::Outcome::kPass ? 1 : 0;
    c.fail += r.outcome == policy::Outcome::kFail ? 1 : 0;
    c.unknown += r.outcome == policy::Outcome::kUnknown ? 1 : 0;
    c.error += r.outcome == policy::Outcome::kError ? 1 : 0;
  }
  return c;
}

std::string OutcomeText(const policy::RuleResult& r) {
  return r.tolerated ? "tolerated" : std::string(policy::OutcomeName(r.outcome));
}

void PrintText(const std::vector<HostFindings>& all, bool with_register, std::ostream& out) {
  for (const HostFindings& h : all) {
    out << "host " << Safe(h.state.host) << ": snapshot " << Safe(h.state.id) << " received "
        << FormatRfc3339(h.state.received_at);
    if (!h.evaluation) {
      out << ": not judged yet\n";
      continue;
    }
    OutcomeCounts counts = Count(h);
    out << ", judged " << FormatRfc3339(h.evaluation->evaluated_at) << ": " << counts.fail
        << " fail, ";
    if (with_register) out << h.tolerated << " tolerated, ";
    out << counts.unknown << " unknown, " << counts.error << " error, " << counts.pass << " pass\n";
    for (const policy::RuleResult* r : h.shown) {
      out << AsciiUpper(OutcomeText(*r)) << "\t" << policy::SeverityName(r->severity) << "\t"
          << Safe(r->rule_id) << "\t" << Safe(r->title, kMaxItemBytes) << "\n";
      for (const policy::FindingItem& i : r->items) {
        out << "\t" << Safe(i.id, kMaxItemBytes);
        if (std::string at = policy::SourceLocation(i.source_file, i.source_line); !at.empty())
          out << "\t" << Safe(at, kMaxItemBytes);
        if (!i.detail.empty()) out << "\t" << Safe(i.detail, kMaxItemBytes);
        if (!i.exception.empty()) {
          out << "\t[" << Safe(i.exception_note, kMaxItemBytes) << "]";
        }
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
    OutcomeCounts counts = Count(h);
    json summary = {{"pass", counts.pass},
                    {"fail", counts.fail},
                    {"unknown", counts.unknown},
                    {"error", counts.error}};
    if (!o.register_file.empty()) summary["tolerated"] = h.tolerated;
    hosts.push_back({{"host", h.state.host},
                     {"snapshot", snapshot},
                     {"evaluated_at", FormatRfc3339(h.evaluation->evaluated_at)},
                     {"policy_hash", h.evaluation->policy_hash},
                     {"summary", std::move(summary)}});
    for (const policy::RuleResult* r : h.shown) {
      json base = {{"host", h.state.host},
                   {"snapshot", h.state.id},
                   {"received_at", FormatRfc3339(h.state.received_at)},
                   {"rule", r->rule_id},
                   {"title", r->title},
                   {"severity", policy::SeverityName(r->severity)},
                   {"result", OutcomeText(*r)},
                   {"message", r->message}};
      if (r->items.empty()) {
        base["item"] = nullptr;
        base["detail"] = "";
        base["source_file"] = nullptr;
        base["source_line"] = nullptr;
        findings.push_back(std::move(base));
        continue;
      }
      for (const policy::FindingItem& i : r->items) {
        json f = base;
        f["item"] = i.id;
        f["detail"] = i.detail;
        f["source_file"] = i.source_file ? json(*i.source_file) : json();
        f["source_line"] = i.source_line ? json(*i.source_line) : json();
        if (!o.register_file.empty()) {
          f["exception"] = i.exception.empty() ? json() : json(i.exception);
          f["exception_status"] = i.exception.empty() ? json() : json(i.exception_status);
          f["exception_note"] = i.exception.empty() ? json() : json(i.exception_note);
        }
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

// --register: the statuses of the exceptions in scope of each judged host at --at (default:
// now), applied to its results (common/policy/exceptions.h ApplyVerdicts).
Status ApplyRegister(SqliteStore& store, const std::string& db, const FindingsOptions& o,
                     std::vector<HostFindings>& all) {
  StatusOr<LoadedRegister> l = LoadRegisterWithRules(o.register_file, o.policies, false);
  if (!l.ok()) return l.status();
  RegisterScope scope;
  scope.now = o.at ? *o.at : NowSeconds();
  for (const HostFindings& h : all) scope.host_globs.push_back(h.state.host);
  if (scope.host_globs.empty()) return Status::Ok();
  StoredFacts facts(store, db);
  auto verdicts = JudgeRegister(store, facts, *l, scope);
  if (!verdicts.ok()) return verdicts.status();
  for (HostFindings& h : all) {
    if (!h.evaluation) continue;
    std::vector<policy::ExceptionVerdict> mine;
    for (const policy::ExceptionVerdict& v : *verdicts) {
      if (v.host == h.state.host) mine.push_back(v);
    }
    policy::Evaluation e;
    e.results = std::move(h.results);
    policy::ApplyVerdicts(e, mine);
    h.results = std::move(e.results);
  }
  return Status::Ok();
}

// Picks the results to show of each judged host (not pass, --severity, --rule), failures (the
// tolerated ones after the others) and the most severe first; returns them as the exit code
// counts them. `shown` points into `all`, which must not grow afterwards.
std::vector<policy::RuleResult> SelectShown(std::vector<HostFindings>& all,
                                            const FindingsOptions& o) {
  std::vector<policy::RuleResult> counted;
  auto rank = [](const policy::RuleResult* r) {
    return r->outcome != policy::Outcome::kFail ? 2 : r->tolerated ? 1 : 0;
  };
  for (HostFindings& h : all) {
    if (!h.evaluation) continue;
    for (const policy::RuleResult& r : h.results) {
      h.tolerated += r.tolerated ? 1 : 0;
      if (r.outcome == policy::Outcome::kPass || r.severity < o.min_severity ||
          !RuleMatches(o.rules, r.rule_id)) {
        continue;
      }
      h.shown.push_back(&r);
      counted.push_back(r);
    }
    std::stable_sort(h.shown.begin(), h.shown.end(), [&](const auto* a, const auto* b) {
      if (rank(a) != rank(b)) return rank(a) < rank(b);
      return a->severity > b->severity;
    });
  }
  return counted;
}

int RunFindings(const FindingsOptions& o, CtlContext& ctx) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto judged = LoadJudgedHosts(**store, o.hosts, o.at);
  if (!judged.ok()) return Fail(ctx.err, judged.status());
  std::vector<HostFindings> hosts;
  for (JudgedHost& h : *judged) hosts.push_back({std::move(h), {}, 0});
  auto* all = &hosts;
  if (!o.register_file.empty()) {
    if (Status s = ApplyRegister(**store, ctx.db, o, *all); !s.ok()) return Fail(ctx.err, s);
  }
  std::vector<policy::RuleResult> counted = SelectShown(*all, o);
  if (o.format == "json") {
    PrintJson(*all, o, ctx.out);
  } else {
    PrintText(*all, !o.register_file.empty(), ctx.out);
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
  findings->add_option("--register", o->register_file, "apply this exception register (YAML)")
      ->type_name("FILE");
  findings->add_option("--policies", o->policies, "the rules a {rule: ID} cover names")
      ->type_name("DIR|FILE");
  findings->callback([&ctx, o] { ctx.rc = RunFindings(*o, ctx); });
}

}  // namespace tidemark::ctl
