// Runs one agent section collector over an in-memory root (fuzz_support.h) and checks the
// invariant the collector relies on: whatever the host's files hold, the section serializes
// into a snapshot document that DecodeSnapshot accepts, with the same content hash.
// A violated invariant aborts, which libFuzzer reports as a crash.
#pragma once

#include <cstdio>
#include <string>

#include "agent/collector.h"
#include "common/snapshot.h"
#include "fuzz/fuzz_support.h"

namespace tidemark::fuzz {

// Collects `collector` over `fs` and round-trips the section through a snapshot document.
inline void CollectAndRoundTrip(agent::SectionCollector& collector, const Fs& fs) {
  agent::CollectContext ctx(fs, "fuzzhost");
  Section section;
  collector.Collect(ctx, section);
  section.Finish();
  Snapshot snapshot;
  snapshot.host = {"fuzzhost", "fuzzhost", fs.root()};
  snapshot.collected_at = "2026-01-01T00:00:00Z";
  snapshot.agent_version = "fuzz";
  snapshot.sections[std::string(collector.name())] = std::move(section);
  std::string text = SerializeSnapshot(snapshot);
  StatusOr<Snapshot> back = DecodeSnapshot(text);
  if (!back.ok()) std::fprintf(stderr, "%s\n", back.status().ToString().c_str());
  Check(back.ok(), "a collected section does not decode");
  Check(ContentHash(*back) == ContentHash(snapshot), "the content hash changes on decode");
}

}  // namespace tidemark::fuzz
