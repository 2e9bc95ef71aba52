// findings.h: `tidemarkctl findings`.
#include "collector/ctl/findings.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>

#include "collector/ctl/common.h"
#include "collector/ctl/ctl.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate.h"
#include "common/policy/evaluate_command.h"
#include "common/policy/rules.h"
#include "common/text.h"

namespace tidemark::ctl {

const char* const kFindingsHelp =
    "Usage: tidemarkctl [--db FILE] findings [--host GLOB] [--rule GLOB] [--severity LEVEL]\n"
    "                   [--at TIME] [--fail-on LEVEL] [--format text|json]\n"
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

namespace {

using json = nlohmann::json;
using policy::Severity;

struct FindingsOptions {
  std::string db;
  std::string format = "text";
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

// Parses the options; returns an exit code (0 = parsed, 2 after a usage message, -1 = help
// printed).
int Parse(const std::vector<std::string>& args, FindingsOptions& o, std::ostream& out,
          std::ostream& err) {
  bool seen_command = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kFindingsHelp;
      return -1;
    }
    if (a.size() <= 2 || a.compare(0, 2, "--") != 0) {
      if (!seen_command) {
        seen_command = true;  // "findings"
        continue;
      }
      return Usage(err, "findings: unexpected argument '" + a + "'");
    }
    std::string name;
    std::string value;
    if (!policy::OptionValue(args, i, name, value)) return Usage(err, a + " needs a value");
    if (name == "--db") {
      o.db = value;
    } else if (name == "--format") {
      if (value != "text" && value != "json") return Usage(err, "--format: text or json");
      o.format = value;
    } else if (name == "--host") {
      o.hosts.push_back(value);
    } else if (name == "--rule") {
      o.rules.push_back(value);
    } else if (name == "--severity" || name == "--fail-on") {
      std::optional<Severity> level = policy::ParseSeverity(value);
      if (!level) return Usage(err, name + ": critical, high, medium, low or info");
      (name == "--severity" ? o.min_severity : o.fail_on) = *level;
    } else if (name == "--at") {
      StatusOr<int64_t> t = ParseAt(value);
      if (!t.ok()) return Usage(err, "--at: " + t.status().message());
      o.at = *t;
    } else {
      return Usage(err, "findings: unknown option '" + name + "'");
    }
  }
  return 0;
}

std::string Where(const StoredItem& item) {
  if (!item.source_file) return "";
  std::string at = *item.source_file;
  if (item.source_line) at += ":" + std::to_string(*item.source_line);
  return at;
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
    out << "host " << EscapeControlBounded(h.state.host, 256) << ": snapshot "
        << EscapeControlBounded(h.state.id, 256) << " received "
        << FormatRfc3339(h.state.received_at);
    if (!h.evaluation) {
      out << ": not judged yet\n";
      continue;
    }
    out << ", judged " << FormatRfc3339(h.evaluation->evaluated_at) << ": " << h.counts.fail
        << " fail, " << h.counts.unknown << " unknown, " << h.counts.error << " error, "
        << h.counts.pass << " pass\n";
    for (const StoredResult* r : h.shown) {
      out << Upper(r->outcome) << "\t" << r->severity << "\t" << EscapeControl(r->rule_id) << "\t"
          << EscapeControlBounded(r->title, 512) << "\n";
      for (const StoredItem& i : r->items) {
        out << "\t" << EscapeControlBounded(i.id, 512);
        if (std::string at = Where(i); !at.empty()) out << "\t" << EscapeControlBounded(at, 512);
        if (!i.detail.empty()) out << "\t" << EscapeControlBounded(i.detail, 512);
        out << "\n";
      }
      if (!r->message.empty()) out << "\t" << EscapeControlBounded(r->message, 1024) << "\n";
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

}  // namespace

int RunFindings(const std::vector<std::string>& args, const std::string& default_db,
                std::ostream& out, std::ostream& err) {
  FindingsOptions o;
  o.db = default_db;
  if (int rc = Parse(args, o, out, err); rc != 0) return rc < 0 ? 0 : rc;
  SqliteStore::Options open_options;
  open_options.create = false;
  auto store = SqliteStore::Open(o.db, open_options);
  if (!store.ok()) return Fail(err, store.status().message());
  auto hosts = (*store)->ListHosts();
  if (!hosts.ok()) return Fail(err, hosts.status().message());

  std::vector<HostFindings> all;
  std::vector<policy::RuleResult> counted;  // what the exit code is computed from
  bool not_judged = false;
  for (const HostInfo& info : *hosts) {
    if (!HostMatches(o.hosts, info.id)) continue;
    auto state = (*store)->LatestState(info.id, o.at);
    if (!state.ok()) {
      if (state.status().code() == StatusCode::kNotFound) continue;  // nothing that early
      return Fail(err, info.id + ": " + state.status().message());
    }
    HostFindings h;
    h.state = std::move(*state);
    auto evaluation = (*store)->EvaluationOf(h.state.seq, o.at);
    if (!evaluation.ok()) return Fail(err, info.id + ": " + evaluation.status().message());
    h.evaluation = std::move(*evaluation);
    if (!h.evaluation) not_judged = true;
    all.push_back(std::move(h));
  }
  // Pointers into `all` are taken once it no longer grows.
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
    // Failures first, the most severe first; then unknown and error results.
    std::stable_sort(h.shown.begin(), h.shown.end(), [](const auto* a, const auto* b) {
      if ((a->outcome == "fail") != (b->outcome == "fail")) return a->outcome == "fail";
      return policy::ParseSeverity(a->severity) > policy::ParseSeverity(b->severity);
    });
  }
  if (o.format == "json") {
    PrintJson(all, o, out);
  } else {
    PrintText(all, out);
  }
  int rc = policy::ExitCodeFor(counted, o.fail_on);
  if (rc == 0 && not_judged) rc = 4;
  return rc;
}

}  // namespace tidemark::ctl
