// Runs the section readers over one root and assembles a Snapshot.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/section_reader.h"
#include "common/snapshot.h"
#include "common/status.h"

namespace tidemark::agent {

inline constexpr std::string_view kAgentVersion = "0.1.0";
inline constexpr std::string_view kInvalidHostIdMessage =
    "--host-id: not a valid host id (1 to 253 of A-Z a-z 0-9 . - _, not starting with . or -, "
    "no ..)";

struct CollectRequest {
  std::string root = "/";         // "/" audits the live host
  std::vector<std::string> only;  // section names; empty means all
  std::string host_id;            // empty: the root's /etc/hostname, else (live host only) its name
  CollectOptions options;         // passed to every section reader (e.g. --privileged-groups)
};

// What is known of a snapshot before its sections: identity, time, agent version.
struct SnapshotHeader {
  HostIdentity host;
  std::string collected_at;
  std::string agent_version;
};

// Receives a collection as it happens: begin() once, then section() for each finished section
// in name order (the canonical order), so that large sections can be written out and freed one
// at a time. An error from either stops the collection and is returned.
struct SectionSink {
  std::function<Status(const SnapshotHeader&)> begin;
  std::function<Status(const std::string& name, Section&& section)> section;
};

// Collects the requested sections into `sink`. Fails when nothing can be collected (the root
// cannot be opened, a requested section does not exist, `host_id` is not a valid host id, an
// offline root has no usable /etc/hostname and no host_id was given: kInvalidArgument) or the
// sink fails. Section problems
// are inside the sections.
Status CollectSections(const CollectRequest& request, const SectionSink& sink);

// Collects the requested sections into memory (tests, small hosts, --pretty).
StatusOr<Snapshot> CollectSnapshot(const CollectRequest& request);

// Parses a comma-separated section list ("accounts,sudo") against the known sections.
StatusOr<std::vector<std::string>> ParseSectionList(std::string_view list);

}  // namespace tidemark::agent
