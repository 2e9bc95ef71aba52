// The statuses of the register's exceptions (register.h, docs/exceptions.md): for one exception
// and one host in its scope, what the host's latest state shows of the covered items, and
// whether the exception is active, a leftover, revoked (with fresh evidence) or unverified.
// The same engine decides through the collector's store (`tidemarkctl exceptions`,
// `verify-revocations`) and offline (`tidemarkctl evaluate --register`): callers give it the
// state (a loaded FactDb) and its receive times; it never reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/evaluate.h"
#include "common/policy/fact_db.h"
#include "common/policy/register.h"
#include "common/policy/rules.h"

namespace tidemark::policy {

enum class ExceptionStatus { kActive, kLeftover, kRevoked, kUnverified };

std::string_view ExceptionStatusName(ExceptionStatus status);
std::optional<ExceptionStatus> ParseExceptionStatus(std::string_view name);

// One covered item found in a state: a row of a covered table, or a failing item of a covered
// rule.
struct CoveredItem {
  std::string table;  // the fact table, or "" for a rule's item
  std::string rule;   // the covered rule, or "" for a table's row
  std::string id;     // the row's id / the rule's item id
  std::optional<std::string> source_file;
  std::optional<int64_t> source_line;
  int cover_line = 0;  // the line of the `covers` entry in the register
};

// What one state shows of an exception's covers.
struct CoverCheck {
  std::vector<CoveredItem> items;  // present
  // Why absence could not be read, one per cover that could not be checked fully (a section a
  // covered table comes from is missing or not `ok`, a covered rule is unknown or an error).
  std::vector<std::string> unreadable;
};

// Looks for every item `e` covers in the state loaded in `db` (the host `host`). A rule cover
// runs the rule with the variables the baselines of `rules` give it on `host` (its defaults
// when no baseline selects it); `rules` may be null when `e` covers no rule.
StatusOr<CoverCheck> CheckCovers(const FactDb& db, const MigrationException& e,
                                 const std::string& host, const PolicySet* rules,
                                 const QueryLimits& limits = {});

// The state a status is decided on (times in seconds since the epoch).
struct StateEvidence {
  std::string snapshot_id;
  int64_t received_at = 0;   // when the collector first received this state
  int64_t confirmed_at = 0;  // the latest time (<= now) the host reported it (a "seen" record)
  bool agent_clock = false;  // offline: the times are the snapshot's collected_at
};

struct ExceptionVerdict {
  const MigrationException* exception = nullptr;
  std::string host;
  ExceptionStatus status = ExceptionStatus::kUnverified;
  std::string reason;                     // one sentence: why this status
  std::optional<StateEvidence> evidence;  // the state decided on; none when there is none
  std::vector<CoveredItem> items;         // the covered items present in it
  std::optional<int64_t> absent_since;    // revoked: the covered items are absent since then
  bool early = false;                     // revoked before the effective expiry
  int64_t decided_at = 0;                 // the `now` it was decided at
};

// Decides the status of `e` on `host` at `now` from the host's latest state received at or
// before `now` (`state` and what CheckCovers found in it; both absent when the host has none):
//  - active: before the effective expiry, and a covered item is present;
//  - leftover: past the expiry (now >= effective expiry), and the state, reported at or after
//    the expiry, still shows a covered item;
//  - revoked: no covered item in a complete state reported at or after the expiry and no older
//    than `max_age` at `now` (before the expiry: "revoked early", absent since the state
//    was first received);
//  - unverified: anything else (no state, a state last reported before the expiry, a covered
//    section missing or incomplete, evidence older than `max_age`). Never counted as revoked.
ExceptionVerdict DecideStatus(const MigrationException& e, const std::string& host,
                              const std::optional<StateEvidence>& state,
                              const std::optional<CoverCheck>& check, int64_t now, int64_t max_age);

// The verdict for a scope that names no host at all (no known host matches its globs):
// unverified, saying so. Host "".
ExceptionVerdict NoHostInScope(const MigrationException& e);

// True when one of `e`'s host globs (fnmatch) matches `host`.
bool InScope(const MigrationException& e, const std::string& host);
// The globs of `e` that hold no glob character: hosts named outright, in scope even when
// nothing was ever received from them.
std::vector<std::string> NamedHosts(const MigrationException& e);
// The other globs of `e`, the patterns: InScope(e, host) is true exactly when `host` is one of
// NamedHosts(e) or one of these matches it (fnmatch).
std::vector<std::string> HostPatterns(const MigrationException& e);

// Orders verdicts as reports show them: leftover, unverified, active (soonest expiry first),
// revoked; then by exception id and host.
void SortVerdicts(std::vector<ExceptionVerdict>& verdicts);

// Applies the verdicts of one host to its evaluation: every failing item that an active or
// leftover exception covers (its rule is covered, or a covered item has the item's id) names
// the exception, with a note for people (ExceptionNote); a failure whose every item an active
// exception covers is tolerated; each leftover becomes a critical failure of its own
// ("exception:ID", the items still present, with owner, contact and ticket in its title). Results
// stay in rule id order.
void ApplyVerdicts(Evaluation& e, const std::vector<ExceptionVerdict>& verdicts);

// "active: MIG-2041, 5 days left, owner Jane Roe, ticket CHG-1234" / "leftover: MIG-2041,
// expired 2 days ago, owner ..., contact ..., ticket ...": how a finding names its exception.
std::string ExceptionNote(const ExceptionVerdict& v);

// The default of --max-age: evidence older than this does not prove a revocation (26 h: a
// nightly collection plus slack).
constexpr int64_t kDefaultMaxAgeSeconds = int64_t{26} * 3600;

}  // namespace tidemark::policy
