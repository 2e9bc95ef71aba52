#include "common/policy/evaluate_command.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>

#include "common/policy/exception_output.h"
#include "common/policy/rules.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "common/text.h"
#include "common/time.h"

namespace tidemark::policy {

const char* const kDefaultPoliciesDir = TIDEMARK_POLICIES_DIR;

const char* const kEvaluateUsage =
    "Usage: tidemarkctl evaluate --snapshot FILE [--policies DIR|FILE] [--fail-on LEVEL]\n"
    "                            [--format text|json] [--register FILE [--now TIME]\n"
    "                            [--received-at TIME] [--max-age DUR]]\n"
    "       tidemark-judge --snapshot FILE ... (the same, beside the agent)\n";

const char* const kEvaluateDetails =
    "Evaluates a snapshot file against the rules and baselines of --policies (a YAML file or\n"
    "a directory of them; default " TIDEMARK_POLICIES_DIR
    "), offline: no collector or\n"
    "store is needed. Per rule: pass, fail (with the violating items and where they were\n"
    "read), unknown (nothing found, but a section the rule reads is missing or incomplete)\n"
    "or error. Text shows what is not pass; JSON every result. docs/policies.md.\n"
    "--register FILE applies the exception register (docs/exceptions.md) as the collector's\n"
    "`tidemarkctl exceptions` does: each exception in scope of the snapshot's host gets its\n"
    "status at --now TIME (default: now); failures that active exceptions cover are\n"
    "tolerated (not counted), each leftover is a critical failure `exception:ID`. The\n"
    "snapshot counts as received at --received-at TIME; without it, at its collected_at:\n"
    "the agent's clock, which the output says (the collector's receive time is the\n"
    "evidence that counts). --max-age DUR (default 26h) as for `exceptions`.\n"
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
                     std::ostream& out, const std::vector<ExceptionVerdict>* verdicts,
                     int64_t now) {
  std::map<Outcome, int> counts;
  int tolerated = 0;
  for (const RuleResult& r : e.results) {
    if (r.tolerated) {
      ++tolerated;
    } else {
      ++counts[r.outcome];
    }
  }
  if (format == "json") {
    json results = json::array();
    for (const RuleResult& r : e.results) {
      json items = json::array();
      for (const FindingItem& i : r.items) {
        json item = {{"id", i.id},
                     {"detail", i.detail},
                     {"source_file", i.source_file ? json(*i.source_file) : json()},
                     {"source_line", i.source_line ? json(*i.source_line) : json()}};
        if (verdicts != nullptr) {
          item["exception"] = i.exception.empty() ? json() : json(i.exception);
          item["exception_status"] = i.exception.empty() ? json() : json(i.exception_status);
          item["exception_note"] = i.exception.empty() ? json() : json(i.exception_note);
        }
        items.push_back(std::move(item));
      }
      const Rule* rule = set.FindRule(r.rule_id);
      results.push_back({{"rule", r.rule_id},
                         {"title", r.title},
                         {"severity", SeverityName(r.severity)},
                         {"result", OutcomeName(r.outcome)},
                         {"items", std::move(items)},
                         {"message", r.message},
                         {"tolerated", r.tolerated},
                         {"references", rule != nullptr ? json(rule->references) : json()}});
    }
    json doc = {{"host", e.host},
                {"collected_at", e.collected_at},
                {"content_hash", e.content_hash},
                {"summary",
                 {{"pass", counts[Outcome::kPass]},
                  {"fail", counts[Outcome::kFail]},
                  {"unknown", counts[Outcome::kUnknown]},
                  {"error", counts[Outcome::kError]},
                  {"tolerated", tolerated}}},
                {"results", std::move(results)}};
    if (verdicts != nullptr) doc["exceptions"] = VerdictsJson(*verdicts, now);
    out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return;
  }
  out << EscapeControl(e.host) << " (collected " << EscapeControl(e.collected_at) << ", "
      << e.content_hash << "): " << counts[Outcome::kFail] << " fail, ";
  if (verdicts != nullptr) out << tolerated << " tolerated, ";
  out << counts[Outcome::kUnknown] << " unknown, " << counts[Outcome::kError] << " error, "
      << counts[Outcome::kPass] << " pass\n";
  // Failures first, the most severe first; then unknown and error results.
  std::vector<const RuleResult*> shown;
  for (const RuleResult& r : e.results) {
    if (r.outcome != Outcome::kPass) shown.push_back(&r);
  }
  // Failures first (tolerated ones after the others), the most severe first.
  auto rank = [](const RuleResult* r) {
    return r->outcome != Outcome::kFail ? 2 : r->tolerated ? 1 : 0;
  };
  std::stable_sort(shown.begin(), shown.end(), [&](const auto* a, const auto* b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    return a->severity > b->severity;
  });
  for (const RuleResult* r : shown) {
    std::string outcome = AsciiUpper(r->tolerated ? "tolerated" : OutcomeName(r->outcome));
    // A leftover's title names its owner and ticket from the register: escaped like host text.
    out << outcome << "\t" << SeverityName(r->severity) << "\t"
        << EscapeControlBounded(r->rule_id, 256) << "\t" << EscapeControlBounded(r->title, 512)
        << "\n";
    for (const FindingItem& i : r->items) {
      out << "\t" << EscapeControlBounded(i.id, 512);
      if (std::string at = SourceLocation(i.source_file, i.source_line); !at.empty())
        out << "\t" << EscapeControlBounded(at, 512);
      if (!i.detail.empty()) out << "\t" << EscapeControlBounded(i.detail, 512);
      if (!i.exception.empty()) {
        out << "\t[" << EscapeControlBounded(i.exception_note, 512) << "]";
      }
      out << "\n";
    }
    if (!r->message.empty()) out << "\t" << EscapeControlBounded(r->message, 1024) << "\n";
  }
  if (verdicts != nullptr) PrintVerdictsText(*verdicts, now, out);
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
    } else if (name == "--register") {
      o.register_file = value;
    } else if (name == "--now" || name == "--received-at") {
      StatusOr<int64_t> t = ParseTimeArgument(value);
      if (!t.ok()) return Usage(err, program, name + ": " + t.status().message());
      (name == "--now" ? o.now : o.received_at) = *t;
    } else if (name == "--max-age") {
      StatusOr<int64_t> d = ParseDuration(value);
      if (!d.ok()) return Usage(err, program, "--max-age: " + d.status().message());
      o.max_age = *d;
    } else if (name == "--fail-on") {
      std::optional<Severity> level = ParseSeverity(value);
      if (!level) return Usage(err, program, "--fail-on: critical, high, medium, low or info");
      o.fail_on = *level;
    } else {
      return Usage(err, program, "unknown option '" + name + "'");
    }
  }
  if (o.snapshot_file.empty()) return Usage(err, program, "--snapshot FILE is needed");
  if (o.register_file.empty() && (o.now || o.received_at)) {
    return Usage(err, program, "--now and --received-at go with --register FILE");
  }
  return RunEvaluate(o, program, out, err);
}

namespace {

// The register's statuses on the snapshot's host (offline: the snapshot is the host's only
// state, received at --received-at or at its collected_at).
StatusOr<std::vector<ExceptionVerdict>> OfflineVerdicts(const EvaluateOptions& o,
                                                        const Register& reg, const FactDb& db,
                                                        const Snapshot& snapshot,
                                                        const PolicySet& set, int64_t now) {
  StateEvidence evidence;
  evidence.snapshot_id = o.snapshot_file;
  if (o.received_at) {
    evidence.received_at = *o.received_at;
  } else {
    StatusOr<int64_t> collected = ParseRfc3339(snapshot.collected_at);
    if (!collected.ok()) {
      return Status{StatusCode::kInvalidArgument,
                    o.snapshot_file + ": its collected_at is not a time: give --received-at"};
    }
    evidence.received_at = *collected;
    evidence.agent_clock = true;
  }
  evidence.confirmed_at = evidence.received_at;
  std::optional<StateEvidence> state;
  if (evidence.received_at <= now) state = evidence;
  std::vector<ExceptionVerdict> verdicts;
  const std::string& host = snapshot.host.id;
  for (const MigrationException& e : reg.exceptions) {
    if (!InScope(e, host)) continue;
    std::optional<CoverCheck> check;
    if (state) {
      StatusOr<CoverCheck> c = CheckCovers(db, e, host, &set);
      if (!c.ok()) return c.status();
      check = std::move(*c);
    }
    verdicts.push_back(DecideStatus(e, host, state, check, now, o.max_age));
  }
  SortVerdicts(verdicts);
  return verdicts;
}

}  // namespace

int RunEvaluate(const EvaluateOptions& o, std::string_view program, std::ostream& out,
                std::ostream& err) {
  StatusOr<PolicySet> set = LoadPolicies(o.policies);
  if (!set.ok()) return Fail(err, program, set.status().message());
  std::optional<Register> reg;
  if (!o.register_file.empty()) {
    StatusOr<Register> r = LoadRegister(o.register_file, &*set);
    if (!r.ok()) return Fail(err, program, r.status().message());
    reg = std::move(*r);
  }
  StatusOr<std::string> text = ReadRegularFile(o.snapshot_file, kMaxSnapshotFileBytes);
  if (!text.ok()) return Fail(err, program, text.status().message());
  std::string hash;
  StatusOr<Snapshot> decoded = DecodeSnapshot(*text, &hash);
  if (!decoded.ok()) return Fail(err, program, o.snapshot_file + ": " + decoded.status().message());
  auto snapshot = std::make_shared<const Snapshot>(std::move(*decoded));
  StatusOr<std::vector<SelectedRule>> rules = SelectRules(*set, snapshot->host.id);
  if (!rules.ok()) return Fail(err, program, rules.status().message());
  StatusOr<std::unique_ptr<FactDb>> db = FactDb::Open();
  if (!db.ok()) return Fail(err, program, db.status().message());
  if (Status s = (*db)->Load(snapshot, std::move(hash)); !s.ok()) {
    return Fail(err, program, o.snapshot_file + ": " + s.message());
  }
  Evaluation e = EvaluateLoaded(**db, *snapshot, *rules);
  if (!reg) {
    PrintEvaluation(e, *set, o.format, out);
    return ExitCodeFor(e.results, o.fail_on);
  }
  const int64_t now = o.now ? *o.now : NowSeconds();
  StatusOr<std::vector<ExceptionVerdict>> verdicts =
      OfflineVerdicts(o, *reg, **db, *snapshot, *set, now);
  if (!verdicts.ok()) return Fail(err, program, verdicts.status().message());
  ApplyVerdicts(e, *verdicts);
  PrintEvaluation(e, *set, o.format, out, &*verdicts, now);
  return ExitCodeFor(e.results, o.fail_on);
}

}  // namespace tidemark::policy
