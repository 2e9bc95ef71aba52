// Runs one section collector over a fixture root the way the agent does (Collect, Finish,
// Materialize) and returns the section as it appears in a snapshot, envelope included.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/section_reader.h"
#include "common/fs.h"
#include "common/snapshot.h"
#include "tests/support/temp_root.h"

namespace tidemark::testing {

// `root`: a directory on the real filesystem ("/" for this host).
template <typename Collector>
nlohmann::json CollectSectionJsonAt(const std::string& root, Section* section_out = nullptr) {
  auto fs = OpenRootFs(root);
  if (!fs.ok()) return nlohmann::json();
  agent::CollectContext ctx(**fs, "test");
  Section s;
  Collector().Collect(ctx, s);
  s.Finish();
  s.Materialize();
  if (section_out != nullptr) *section_out = s;
  return EncodeSection(s);
}

template <typename Collector>
nlohmann::json CollectSectionJson(const TempRoot& root, Section* section_out = nullptr) {
  return CollectSectionJsonAt<Collector>(root.path(), section_out);
}

// Returns true when the section JSON `j` has an error about `path` (and `line`, when given).
inline bool HasError(const nlohmann::json& j, const std::string& path,
                     std::optional<int64_t> line = {}) {
  for (const auto& e : j["errors"]) {
    if (e["path"] == path && (!line || e["line"] == *line)) return true;
  }
  return false;
}

}  // namespace tidemark::testing
