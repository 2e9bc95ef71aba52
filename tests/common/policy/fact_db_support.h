// Helpers of the fact-table tests: collect real sections from a fixture root with the agent's
// section readers, load them into a FactDb, and read query results as compact JSON rows.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/collect.h"
#include "common/policy/fact_db.h"

namespace tidemark::policy::fixtures {

using Rows = std::vector<std::string>;

// Collects the sections `only` (comma-free names) of the root at `root` as host "testhost".
inline Snapshot Collect(const std::string& root, const std::vector<std::string>& only) {
  agent::CollectRequest request;
  request.root = root;
  request.host_id = "testhost";
  request.only = only;
  StatusOr<Snapshot> s = agent::CollectSnapshot(request);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : Snapshot{};
}

// Returns a FactDb holding `snapshot`.
inline std::unique_ptr<FactDb> Loaded(const Snapshot& snapshot) {
  StatusOr<std::unique_ptr<FactDb>> db = FactDb::Open();
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return nullptr;
  Status s = (*db)->Load(snapshot);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(*db);
}

// Returns the rows of `sql` as compact JSON text, one string per row.
inline Rows Query(const FactDb& db, const std::string& sql) {
  StatusOr<QueryResult> r = db.Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  Rows out;
  if (!r.ok()) return out;
  for (const auto& row : r->rows) out.push_back(nlohmann::json(row).dump());
  return out;
}

}  // namespace tidemark::policy::fixtures
