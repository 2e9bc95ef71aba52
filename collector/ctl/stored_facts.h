// A stored state of a host as fact tables, for the commands that read states the collector
// stored (query, exceptions, verify-revocations, drift, report): from the facts file that the
// collector's evaluator keeps (each host's latest judged state and its approved baseline's
// state as SQL tables) when it holds that state,
// else decoded from the state's snapshot body (the same rows, more slowly).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "collector/sqlite_store.h"
#include "common/policy/fact_db.h"
#include "common/status.h"

namespace tidemark::ctl {

class StoredFacts {
 public:
  // `db` is the store's path (the facts file is FactsPathFor(db)); a missing or unreadable
  // facts file only makes loading slower.
  StoredFacts(SqliteStore& store, const std::string& db);

  // Returns the fact tables of `state` (from LatestState or Latest), valid until the next call.
  // Errors (a body that does not decode, a store that cannot be read) name neither host nor
  // snapshot: callers say which.
  StatusOr<const policy::FactDb*> Load(const StoredSnapshot& state);

 private:
  SqliteStore& store_;
  std::unique_ptr<policy::FactDb> facts_;       // the facts file, or null
  std::map<std::string, int64_t> fact_states_;  // host -> the latest state the facts file holds
  std::map<std::string, int64_t> kept_states_;  // host -> its approved baseline's state there
  std::unique_ptr<policy::FactDb> scratch_;     // decoded states
};

}  // namespace tidemark::ctl
