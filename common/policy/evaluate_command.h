// The evaluate command shared by `tidemarkctl evaluate` and `tidemark-judge` (which the agent's
// `audit` runs): arguments, loading, and the text and JSON renderings of an Evaluation
// (docs/policies.md, "Commands").
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/evaluate.h"
#include "common/policy/exceptions.h"

namespace tidemark::policy {

// The installed policies (`share/tidemark/policies` under the install prefix).
extern const char* const kDefaultPoliciesDir;

// The help of `tidemark-judge --help`; kEvaluateDetails is its part after the usage lines (what
// the command does and its exit codes), which `tidemarkctl evaluate --help` shows too.
extern const char* const kEvaluateUsage;
extern const char* const kEvaluateDetails;

// The arguments of the evaluate command.
struct EvaluateOptions {
  std::string snapshot_file;
  std::string policies = kDefaultPoliciesDir;
  std::string format = "text";  // or "json"
  Severity fail_on = Severity::kHigh;
  // The exception register applied (docs/exceptions.md), "" for none; when given, --now (default:
  // the clock), --received-at (default: the snapshot's collected_at, the agent's clock, said so
  // in the output) and --max-age decide the statuses.
  std::string register_file;
  std::optional<int64_t> now;
  std::optional<int64_t> received_at;
  int64_t max_age = kDefaultMaxAgeSeconds;
};

// Writes `e` as text (the summary line, then every result that is not pass: failures first,
// most severe first, each item with id, file:line and detail; host text escaped) or as JSON
// (every result, with the rules' references).
// With `verdicts` (the register's statuses on this host at `now`, ApplyVerdicts applied to
// `e`), tolerated failures are marked, each covered item names its exception, and the statuses
// follow the results (JSON: "exceptions").
void PrintEvaluation(const Evaluation& e, const PolicySet& set, std::string_view format,
                     std::ostream& out, const std::vector<ExceptionVerdict>* verdicts = nullptr,
                     int64_t now = 0);

// Evaluates o.snapshot_file against o.policies and prints the result; returns the exit code of
// ExitCodeFor, 1 when the snapshot or the policies cannot be read. Errors are "PROGRAM: ...".
int RunEvaluate(const EvaluateOptions& o, std::string_view program, std::ostream& out,
                std::ostream& err);

// Runs `PROGRAM --snapshot FILE [--policies DIR|FILE] [--fail-on LEVEL] [--format text|json]`
// (`args` without the program or command name); returns the exit code of ExitCodeFor, 1 when
// the snapshot or the policies cannot be read, 2 on a usage error.
int RunEvaluateCommand(const std::vector<std::string>& args, std::string_view program,
                       std::ostream& out, std::ostream& err);

}  // namespace tidemark::policy
