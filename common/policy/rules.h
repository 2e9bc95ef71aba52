// Rules and baselines as their authors write them (YAML, docs/policies.md), loaded into an
// immutable PolicySet. A rule is one SQL SELECT over the fact tables (docs/tables.md) that
// returns one row per violating item; a baseline names the rules it uses, variable overrides
// and the hosts it applies to. Loading is all or nothing: any error (YAML syntax, an unknown
// key, a duplicate id, a value of the wrong type, a query that is not a single SELECT over
// known tables and columns) fails the whole load with a message naming file, line and rule.
// A loaded PolicySet is a value; share it as shared_ptr<const PolicySet>.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::policy {

enum class Severity { kInfo, kLow, kMedium, kHigh, kCritical };

std::string_view SeverityName(Severity severity);
std::optional<Severity> ParseSeverity(std::string_view name);

// A rule variable: bound into the query as the named parameter `:name`.
enum class VarType { kText, kInteger, kBoolean, kList };

struct RuleVar {
  VarType type = VarType::kText;
  nlohmann::json value;  // string, integer, boolean (bound as 0/1) or array of strings
  std::string description;
};

struct Rule {
  std::string id;
  std::string title;
  Severity severity = Severity::kMedium;
  std::string rationale;
  std::string remediation;
  std::map<std::string, std::string> references;  // e.g. cis_debian12 -> "5.2.4", ssg -> ...
  std::map<std::string, RuleVar> vars;            // defaults
  std::string query;
  std::string file;  // where it was defined, and the line of its `id`
  int line = 0;
};

struct Baseline {
  std::string id;
  std::string title;
  std::vector<std::string> hosts;  // host-id globs (fnmatch)
  std::vector<std::string> rules;  // rule ids or globs
  // Overrides: "VAR" applies to every selected rule that declares VAR, "RULE.VAR" to one rule.
  // Values are kept as written and read in the declared type of the variable.
  std::map<std::string, std::string> vars;
  std::string file;
  int line = 0;
};

struct PolicySet {
  std::vector<Rule> rules;  // sorted by id
  std::vector<Baseline> baselines;

  const Rule* FindRule(std::string_view id) const;
};

// Loads one YAML file, or every *.yaml / *.yml file of a directory (sorted by name; not
// recursive). The query of each rule is checked against the fact tables (prepared, not run).
StatusOr<PolicySet> LoadPolicies(const std::string& path);

// Loads policy text (tests, one file); `file` names it in errors.
StatusOr<PolicySet> LoadPolicyText(std::string_view yaml, const std::string& file);

// A hash of what `set` judges by ("sha256:" + 64 hex digits): every rule and baseline, their
// text, variables and queries, but not the files they came from. The collector stores it with
// each evaluation: a state is judged again when the policies change.
std::string PolicyHash(const PolicySet& set);

// A rule as one baseline applies it: the rule with the baseline's overrides applied.
struct SelectedRule {
  const Rule* rule = nullptr;
  std::map<std::string, RuleVar> vars;
};

// Returns the rules of the baselines that apply to `host_id` (a rule selected by several
// baselines once, with the overrides of the first), or, when `set` has no baseline, every rule
// with its defaults. kInvalidArgument when an override does not fit its variable's type or
// names no variable of the selected rules.
StatusOr<std::vector<SelectedRule>> SelectRules(const PolicySet& set, const std::string& host_id);

}  // namespace tidemark::policy
