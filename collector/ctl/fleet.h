// What the store says of the fleet, for the commands that judge it (findings, exceptions,
// verify-revocations, drift --baseline, report): each host's judged state as the engine's
// results, and the exception register's verdicts on every host in scope.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/ctl/stored_facts.h"
#include "collector/sqlite_store.h"
#include "common/policy/drift.h"
#include "common/policy/evaluate.h"
#include "common/policy/exceptions.h"
#include "common/policy/register.h"
#include "common/policy/rules.h"

namespace tidemark::ctl {

// A host's latest state at a time and how the collector judged it.
struct JudgedHost {
  StoredSnapshot state;                        // without the body
  std::optional<EvaluationRecord> evaluation;  // none: not judged yet
  std::vector<policy::RuleResult> results;     // the evaluation's, as the engine's results
};

// Every host matching `globs` (all when empty) with a state received at or before `at` (any
// when absent), in host order.
StatusOr<std::vector<JudgedHost>> LoadJudgedHosts(SqliteStore& store,
                                                  const std::vector<std::string>& globs,
                                                  std::optional<int64_t> at);

// A register with the rules its `{rule: ID}` covers name. `policies_given`: a policies path
// that does not load is an error; else (the default path) the register loads without rules,
// and a rule cover then fails saying so.
struct LoadedRegister {
  std::optional<policy::PolicySet> rules;
  policy::Register reg;
  const policy::PolicySet* rules_or_null() const { return rules ? &*rules : nullptr; }
};
StatusOr<LoadedRegister> LoadRegisterWithRules(const std::string& register_file,
                                               const std::string& policies, bool policies_given);

// Which verdicts JudgeRegister gives.
struct RegisterScope {
  int64_t now = 0;
  int64_t max_age = policy::kDefaultMaxAgeSeconds;
  std::vector<std::string> host_globs;  // only these hosts (all when empty)
  bool expired_only = false;            // verify-revocations: exceptions expired by `now`
};

// The verdict of every exception on every host in its scope, from each host's latest state at
// `scope.now`: known hosts that match a glob and hosts named outright (never heard from:
// unverified); an exception whose scope matches no host gets one verdict with host "" (only
// without host globs). A state that cannot be read makes its verdicts unverified, saying why.
// `l` must outlive the verdicts. Unsorted.
StatusOr<std::vector<policy::ExceptionVerdict>> JudgeRegister(SqliteStore& store,
                                                              StoredFacts& facts,
                                                              const LoadedRegister& l,
                                                              const RegisterScope& scope);

// The drift over `states` (distinct states of `host` in receive order, at least one; History
// entries): the changes from the first to the last, each with the index of the state from
// which on it held (common/policy/drift.h DriftOver). One state: no change.
StatusOr<std::vector<policy::Change>> DriftOverStates(StoredFacts& facts, const std::string& host,
                                                      const std::vector<HistoryEntry>& states);

}  // namespace tidemark::ctl
