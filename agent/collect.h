// Runs the section collectors over one root and assembles a Snapshot.
#pragma once

#include <string>
#include <vector>

#include "agent/collector.h"
#include "common/snapshot.h"
#include "common/status.h"

namespace tidemark::agent {

inline constexpr std::string_view kAgentVersion = "0.1.0";

struct CollectRequest {
  std::string root = "/";         // "/" audits the live host
  std::vector<std::string> only;  // section names; empty means all
  std::string host_id;            // empty: the root's /etc/hostname, else the live host name
  CollectOptions options;         // passed to every collector (e.g. --privileged-groups)
};

// Collects the requested sections. Fails only when nothing can be collected: the root cannot be
// opened or a requested section does not exist. Section problems are inside the snapshot.
StatusOr<Snapshot> CollectSnapshot(const CollectRequest& request);

// Parses a comma-separated section list ("accounts,sudo") against the known sections.
StatusOr<std::vector<std::string>> ParseSectionList(std::string_view list);

}  // namespace tidemark::agent
