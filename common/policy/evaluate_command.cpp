#include "common/policy/evaluate_command.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "common/policy/rules.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "common/text.h"

namespace tidemark::policy {

const char* const kDefaultPoliciesDir = TIDEMARK_POLICIES_DIR;

const char* const kEvaluateUsage =
    "Usage: tidemarkctl evaluate --snapshot FILE [--policies DIR|FILE] [--fail-on LEVEL]\n"
    "                            [--format text|json]\n"
    "       tidemark-judge --snapshot FILE ... (the same, beside the agent)\n";

const char* const kEvaluateDetails =
    "Evaluates a snapshot file against the rules and baselines of --policies (a YAML file or\n"
    "a directory of them; default " TIDEMARK_POLICIES_DIR
    "), offline: no collector or\n"
    "store is needed. Per rule: pass, fail (with the violating items and where they were\n"
    "read), unknown (nothing found, but a section the rule reads is missing or incomplete)\n"
    "or error. Text shows what is not pass; JSON every result. docs/policies.md.\n"
    "Exit codes: 0 no result at or above --fail-on LEVEL (critical, high, medium, low,\n"
    "info; default high) failed; 3 one failed; 1 none failed but one is an error (or the\n"
    "snapshot or policies cannot be read); 4 only unknown results at or above LEVEL;\n"
    "2 usage.\n";

namespace {

using json = nlohmann::json;

int Usage(std::ostream& err, std::string_view program, const std::string& message) {
  err << program << ": " << EscapeControlBounded(message, 1024) << "\nTry '" << program
      << " --help'.\n";
  return 2;
}

int Fail(std::ostream& err, std::string_view program, const std::string& message) {
  err << program << ": " << EscapeControlBounded(message, 1024) << "\n";
  return 1;
}

// Splits the option at args[i], "--name=value" or "--name" followed by its value (then i moves
// to the value); returns false when the value is missing.
bool OptionValue(const std::vector<std::string>& args, size_t& i, std::string& name,
                 std::string& value) {
  const std::string& a = args[i];
  if (size_t eq = a.find('='); eq != std::string::npos) {
    name = a.substr(0, eq);
    value = a.substr(eq + 1);
    return true;
  }
  name = a;
  if (i + 1 >= args.size()) return false;
  value = args[++i];
  return true;
}

}  // namespace

void PrintEvaluation(const Evaluation& e, const PolicySet& set, std::string_view format,
                     std::ostream& out) {
  std::map<Outcome, int> counts;
  for (const RuleResult& r : e.results) ++counts[r.outcome];
  if (format == "json") {
    json results = json::array();
    for (const RuleResult& r : e.results) {
      json items = json::array();
      for (const FindingItem& i : r.items) {
        items.push_back({{"id", i.id},
                         {"detail", i.detail},
                         {"source_file", i.source_file ? json(*i.source_file) : json()},
                         {"source_line", i.source_line ? json(*i.source_line) : json()}});
      }
      const Rule* rule = set.FindRule(r.rule_id);
      results.push_back({{"rule", r.rule_id},
                         {"title", r.title},
                         {"severity", SeverityName(r.severity)},
                         {"result", OutcomeName(r.outcome)},
                         {"items", std::move(items)},
                         {"message", r.message},
                         {"references", rule != nullptr ? json(rule->references) : json()}});
    }
    json doc = {{"host", e.host},
                {"collected_at", e.collected_at},
                {"content_hash", e.content_hash},
                {"summary",
                 {{"pass", counts[Outcome::kPass]},
                  {"fail", counts[Outcome::kFail]},
                  {"unknown", counts[Outcome::kUnknown]},
                  {"error", counts[Outcome::kError]}}},
                {"results", std::move(results)}};
    out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return;
  }
  out << EscapeControl(e.host) << " (collected " << EscapeControl(e.collected_at) << ", "
      << e.content_hash << "): " << counts[Outcome::kFail] << " fail, " << counts[Outcome::kUnknown]
      << " unknown, " << counts[Outcome::kError] << " error, " << counts[Outcome::kPass]
      << " pass\n";
  // Failures first, the most severe first; then unknown and error results.
  std::vector<const RuleResult*> shown;
  for (const RuleResult& r : e.results) {
    if (r.outcome != Outcome::kPass) shown.push_back(&r);
  }
  std::stable_sort(shown.begin(), shown.end(), [](const auto* a, const auto* b) {
    if (a->outcome != b->outcome) return a->outcome == Outcome::kFail;
    return a->severity > b->severity;
  });
  for (const RuleResult* r : shown) {
    std::string outcome(OutcomeName(r->outcome));
    for (char& c : outcome) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out << outcome << "\t" << SeverityName(r->severity) << "\t" << r->rule_id << "\t" << r->title
        << "\n";
    for (const FindingItem& i : r->items) {
      out << "\t" << EscapeControlBounded(i.id, 512);
      if (std::string at = SourceLocation(i.source_file, i.source_line); !at.empty())
        out << "\t" << EscapeControlBounded(at, 512);
      if (!i.detail.empty()) out << "\t" << EscapeControlBounded(i.detail, 512);
      out << "\n";
    }
    if (!r->message.empty()) out << "\t" << EscapeControlBounded(r->message, 1024) << "\n";
  }
}

int RunEvaluateCommand(const std::vector<std::string>& args, std::string_view program,
                       std::ostream& out, std::ostream& err) {
  EvaluateOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kEvaluateUsage << kEvaluateDetails;
      return 0;
    }
    if (a.size() <= 2 || a.compare(0, 2, "--") != 0) {
      return Usage(err, program, "unexpected argument '" + a + "' (--snapshot FILE)");
    }
    std::string name;
    std::string value;
    if (!OptionValue(args, i, name, value)) return Usage(err, program, a + " needs a value");
    if (name == "--snapshot") {
      o.snapshot_file = value;
    } else if (name == "--policies") {
      o.policies = value;
    } else if (name == "--format") {
      if (value != "text" && value != "json") return Usage(err, program, "--format: text or json");
      o.format = value;
    } else if (name == "--fail-on") {
      std::optional<Severity> level = ParseSeverity(value);
      if (!level) return Usage(err, program, "--fail-on: critical, high, medium, low or info");
      o.fail_on = *level;
    } else {
      return Usage(err, program, "unknown option '" + name + "'");
    }
  }
  if (o.snapshot_file.empty()) return Usage(err, program, "--snapshot FILE is needed");
  return RunEvaluate(o, program, out, err);
}

int RunEvaluate(const EvaluateOptions& o, std::string_view program, std::ostream& out,
                std::ostream& err) {
  StatusOr<PolicySet> set = LoadPolicies(o.policies);
  if (!set.ok()) return Fail(err, program, set.status().message());
  StatusOr<std::string> text = ReadRegularFile(o.snapshot_file, kMaxSnapshotFileBytes);
  if (!text.ok()) return Fail(err, program, text.status().message());
  StatusOr<Snapshot> snapshot = DecodeSnapshot(*text);
  if (!snapshot.ok())
    return Fail(err, program, o.snapshot_file + ": " + snapshot.status().message());
  StatusOr<Evaluation> e = Evaluate(*snapshot, *set);
  if (!e.ok()) return Fail(err, program, e.status().message());
  PrintEvaluation(*e, *set, o.format, out);
  return ExitCodeFor(e->results, o.fail_on);
}

}  // namespace tidemark::policy
