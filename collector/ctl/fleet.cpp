#include "collector/ctl/fleet.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

#include "collector/ctl/common.h"

namespace tidemark::ctl {

namespace {

policy::RuleResult FromStored(const StoredResult& r) {
  policy::RuleResult out;
  out.rule_id = r.rule_id;
  out.title = r.title;
  out.severity = policy::ParseSeverity(r.severity).value_or(policy::Severity::kInfo);
  out.outcome = r.outcome == "pass"      ? policy::Outcome::kPass
                : r.outcome == "fail"    ? policy::Outcome::kFail
                : r.outcome == "unknown" ? policy::Outcome::kUnknown
                                         : policy::Outcome::kError;
  out.message = r.message;
  for (const StoredItem& i : r.items) {
    out.items.push_back({i.id, i.detail, i.source_file, i.source_line, "", "", ""});
  }
  return out;
}

// The verdicts of the exceptions `in` on one host, from its latest state at scope.now.
void JudgeHost(const std::string& host, const std::vector<const policy::MigrationException*>& in,
               SqliteStore& store, StoredFacts& facts, const LoadedRegister& l,
               const RegisterScope& scope, std::vector<policy::ExceptionVerdict>& out) {
  auto state = store.LatestState(host, scope.now);
  std::optional<policy::StateEvidence> evidence;
  const policy::FactDb* db = nullptr;
  std::string unreadable;
  if (state.ok()) {
    evidence = policy::StateEvidence{state->id, state->received_at, state->last_confirmed_at};
    StatusOr<const policy::FactDb*> loaded = facts.Load(*state);
    if (loaded.ok()) {
      db = *loaded;
    } else {
      unreadable = "snapshot " + state->id + " cannot be read: " + loaded.status().message();
    }
  } else if (state.status().code() != StatusCode::kNotFound) {
    unreadable = "the store cannot be read: " + state.status().message();
  }
  for (const policy::MigrationException* e : in) {
    std::optional<policy::CoverCheck> check;
    std::string problem = unreadable;
    if (db != nullptr) {
      StatusOr<policy::CoverCheck> c = policy::CheckCovers(*db, *e, host, l.rules_or_null());
      if (c.ok()) {
        check = std::move(*c);
      } else {
        problem = c.status().message();
      }
    }
    policy::ExceptionVerdict v =
        policy::DecideStatus(*e, host, evidence, check, scope.now, scope.max_age);
    if (!problem.empty()) {
      v.status = policy::ExceptionStatus::kUnverified;
      v.reason = problem;
    }
    out.push_back(std::move(v));
  }
}

}  // namespace

StatusOr<std::vector<JudgedHost>> LoadJudgedHosts(SqliteStore& store,
                                                  const std::vector<std::string>& globs,
                                                  std::optional<int64_t> at) {
  auto hosts = store.ListHosts();
  if (!hosts.ok()) return hosts.status();
  std::vector<JudgedHost> all;
  for (const HostInfo& info : *hosts) {
    if (!HostMatches(globs, info.id)) continue;
    auto state = store.LatestState(info.id, at);
    if (!state.ok()) {
      if (state.status().code() == StatusCode::kNotFound) continue;  // nothing that early
      return Status(state.status().code(), info.id + ": " + state.status().message());
    }
    JudgedHost h;
    h.state = std::move(*state);
    auto evaluation = store.EvaluationOf(h.state.seq, at);
    if (!evaluation.ok()) {
      return Status(evaluation.status().code(), info.id + ": " + evaluation.status().message());
    }
    h.evaluation = std::move(*evaluation);
    if (h.evaluation) {
      for (const StoredResult& r : h.evaluation->results) h.results.push_back(FromStored(r));
    }
    all.push_back(std::move(h));
  }
  return all;
}

StatusOr<LoadedRegister> LoadRegisterWithRules(const std::string& register_file,
                                               const std::string& policies, bool policies_given) {
  LoadedRegister l;
  StatusOr<policy::PolicySet> set = policy::LoadPolicies(policies);
  if (set.ok()) {
    l.rules = std::move(*set);
  } else if (policies_given) {
    return set.status();
  }
  StatusOr<policy::Register> reg = policy::LoadRegister(register_file, l.rules_or_null());
  if (!reg.ok()) {
    if (!l.rules) {
      return Status(reg.status().code(), reg.status().message() + " (no rules were loaded: " +
                                             set.status().message() + "; give --policies)");
    }
    return reg.status();
  }
  l.reg = std::move(*reg);
  return l;
}

StatusOr<std::vector<policy::ExceptionVerdict>> JudgeRegister(SqliteStore& store,
                                                              StoredFacts& facts,
                                                              const LoadedRegister& l,
                                                              const RegisterScope& scope) {
  std::vector<const policy::MigrationException*> exceptions;
  for (const policy::MigrationException& e : l.reg.exceptions) {
    if (!scope.expired_only || scope.now >= e.effective_expiry) exceptions.push_back(&e);
  }
  auto hosts = store.ListHosts();
  if (!hosts.ok()) return hosts.status();
  // Every host in some exception's scope: the known ones that match a pattern, and those named
  // outright (in scope even when nothing was ever received from them). Only the patterns are
  // matched against every known host: a register that names its hosts (the usual one) costs a
  // look-up per name, not a match per host and name.
  std::map<std::string, std::vector<const policy::MigrationException*>> in_scope;
  std::set<const policy::MigrationException*> scoped;
  std::vector<std::pair<const policy::MigrationException*, std::vector<std::string>>> patterns;
  for (const policy::MigrationException* e : exceptions) {
    if (auto p = policy::HostPatterns(*e); !p.empty()) patterns.emplace_back(e, std::move(p));
  }
  for (const HostInfo& h : *hosts) {
    for (const auto& [e, globs] : patterns) {
      bool match = std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
        return fnmatch(g.c_str(), h.id.c_str(), 0) == 0;
      });
      if (!match) continue;
      scoped.insert(e);
      if (HostMatches(scope.host_globs, h.id)) in_scope[h.id].push_back(e);
    }
  }
  for (const policy::MigrationException* e : exceptions) {
    for (const std::string& named : policy::NamedHosts(*e)) {
      scoped.insert(e);
      auto& list = in_scope[named];
      if (HostMatches(scope.host_globs, named) &&
          std::find(list.begin(), list.end(), e) == list.end()) {
        list.push_back(e);
      }
      if (list.empty()) in_scope.erase(named);
    }
  }
  std::vector<policy::ExceptionVerdict> verdicts;
  for (const auto& [host, in] : in_scope) {
    JudgeHost(host, in, store, facts, l, scope, verdicts);
  }
  if (scope.host_globs.empty()) {
    for (const policy::MigrationException* e : exceptions) {
      if (!scoped.count(e)) verdicts.push_back(policy::NoHostInScope(*e));
    }
  }
  return verdicts;
}

StatusOr<std::vector<policy::Change>> DriftOverStates(StoredFacts& facts, const std::string& host,
                                                      const std::vector<HistoryEntry>& states) {
  std::vector<policy::StateRows> rows;
  for (const HistoryEntry& e : states) {
    StoredSnapshot state;
    state.seq = e.state_seq;
    state.host = host;
    StatusOr<const policy::FactDb*> db = facts.Load(state);
    if (!db.ok())
      return Status(db.status().code(), "snapshot " + e.id + ": " + db.status().message());
    StatusOr<policy::StateRows> r = policy::ReadState(**db);
    if (!r.ok()) return Status(r.status().code(), "snapshot " + e.id + ": " + r.status().message());
    rows.push_back(std::move(*r));
  }
  if (rows.empty()) return std::vector<policy::Change>();
  if (rows.size() == 1) return std::vector<policy::Change>();  // one state: nothing changed
  return policy::DriftOver(rows);
}

}  // namespace tidemark::ctl
