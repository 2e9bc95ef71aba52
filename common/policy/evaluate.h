// The engine: evaluates the rules that apply to a host (rules.h) against the fact tables of one
// snapshot (fact_db.h). Per rule the result is pass, fail (with the violating items), unknown (no
// violating row, but a table the query reads comes from a section that is missing or was not
// collected fully: never pass), or error (the query failed or was stopped). Used by tidemarkctl,
// the collector and the agent's audit. One thread at a time per FactDb.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/fact_db.h"
#include "common/policy/rules.h"
#include "common/snapshot.h"

namespace tidemark::policy {

enum class Outcome { kPass, kFail, kUnknown, kError };

std::string_view OutcomeName(Outcome outcome);

// One violating item, as the rule's query returned it.
struct FindingItem {
  std::string id;      // the query's `id` column: the item's id, or what is missing
  std::string detail;  // the query's `detail` column, when it has one
  std::optional<std::string> source_file;  // from the query, else from the row with that id
  std::optional<int64_t> source_line;
  // The register's exception that covers this item on this host (ApplyVerdicts), and its
  // status: "active" (tolerated until the expiry) or "leftover". Empty when none covers it.
  std::string exception;
  std::string exception_status;
  std::string exception_note;  // ExceptionNote: status, id, days left or overdue, owner, ticket
};

// Returns "FILE:LINE", "FILE" without a line, "" without a file: where an item is written, as
// findings print it.
std::string SourceLocation(const std::optional<std::string>& file,
                           const std::optional<int64_t>& line);

struct RuleResult {
  std::string rule_id;
  std::string title;
  Severity severity = Severity::kMedium;
  Outcome outcome = Outcome::kPass;
  std::vector<FindingItem> items;  // kFail: at least one
  std::string message;             // kUnknown: which sections; kError: what failed
  // kFail whose every item an active exception covers (ApplyVerdicts): shown as tolerated and
  // not counted by ExitCodeFor.
  bool tolerated = false;
};

struct Evaluation {
  std::string host;
  std::string collected_at;
  std::string content_hash;
  std::vector<RuleResult> results;  // in rule id order
};

// Runs one rule (with its variables) against the snapshot loaded in `db`.
RuleResult RunRule(const FactDb& db, const SelectedRule& selected, const QueryLimits& limits = {});

// The sections behind the fact tables `tables` that are missing or incomplete, as one message
// each ("section sudo is partial; ..."): `absent` those whose tables say nothing (not in the
// snapshot, `error`, `unknown_shape`), `partial` those that were cut short. Empty: complete.
struct SectionProblems {
  std::string absent;
  std::string partial;
};
SectionProblems ProblemsOf(const FactDb& db, const std::set<std::string>& tables);

// Evaluates `rules` against the snapshot loaded in `db`. `snapshot` (the one loaded) gives the
// host and time reported with the results; the content hash is the one Load computed.
Evaluation EvaluateLoaded(const FactDb& db, const Snapshot& snapshot,
                          const std::vector<SelectedRule>& rules, const QueryLimits& limits = {});

// Loads `snapshot` into a fresh FactDb and evaluates the rules of `set` that apply to its host.
StatusOr<Evaluation> Evaluate(const Snapshot& snapshot, const PolicySet& set,
                              const QueryLimits& limits = {});

// The exit code of evaluate and findings (docs/policies.md): 3 when a result at or above
// `fail_on` failed (a tolerated one does not count); else 1 when one is an error; else 4 when one
// is unknown; else 0.
int ExitCodeFor(const std::vector<RuleResult>& results, Severity fail_on);

}  // namespace tidemark::policy
