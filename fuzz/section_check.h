// Runs one agent section collector over an in-memory root (fuzz_support.h) and checks the
// invariant the agent relies on: whatever the host's files hold, the section serializes into a
// snapshot document that the collector's verifier (VerifySnapshotText, the check every received
// snapshot passes) accepts, with the content hash the writer stated. DecodeSnapshot of arbitrary
// documents is the snapshot target's job. A violated invariant aborts, which libFuzzer reports as
// a crash.
#pragma once

#include <cstdio>
#include <string>

#include "agent/section_reader.h"
#include "common/snapshot.h"
#include "common/snapshot_verify.h"
#include "fuzz/fuzz_support.h"

namespace tidemark::fuzz {

// Collects `collector` with `ctx` (what the harness read through it already is not read again)
// and checks that the collector would accept the section.
inline void CollectAndRoundTrip(agent::SectionReader& collector, agent::CollectContext& ctx) {
  const Fs& fs = ctx.fs();
  Section section;
  collector.Collect(ctx, section);
  section.Finish();
  Snapshot snapshot;
  snapshot.host = {"fuzzhost", "fuzzhost", fs.root()};
  snapshot.collected_at = "2026-01-01T00:00:00Z";
  snapshot.agent_version = "fuzz";
  snapshot.sections[std::string(collector.name())] = std::move(section);
  // SerializeSnapshot writes content_hash; the verifier recomputes it over the canonical form.
  std::string text = SerializeSnapshot(snapshot);
  StatusOr<VerifiedSnapshot> back = VerifySnapshotText(text);
  if (!back.ok()) std::fprintf(stderr, "%s\n", back.status().ToString().c_str());
  Check(back.ok(), "a collected section is refused by the collector's verifier");
}

// Collects `collector` over `fs` and checks that the collector would accept the section.
inline void CollectAndRoundTrip(agent::SectionReader& collector, const Fs& fs) {
  agent::CollectContext ctx(fs, "fuzzhost");
  CollectAndRoundTrip(collector, ctx);
}

}  // namespace tidemark::fuzz
