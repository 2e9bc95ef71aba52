#include "collector/ctl/stored_facts.h"

#include <memory>

#include "common/snapshot.h"

namespace tidemark::ctl {

StoredFacts::StoredFacts(SqliteStore& store, const std::string& db) : store_(store) {
  auto facts = policy::FactDb::OpenFacts(FactsPathFor(db));
  if (!facts.ok()) return;
  auto states = (*facts)->FactStates();
  if (!states.ok()) return;
  auto kept = (*facts)->KeptStates();
  if (!kept.ok()) return;
  facts_ = std::move(*facts);
  fact_states_ = std::move(*states);
  kept_states_ = std::move(*kept);
}

StatusOr<const policy::FactDb*> StoredFacts::Load(const StoredSnapshot& state) {
  auto held = [&](const std::map<std::string, int64_t>& states) {
    auto it = states.find(state.host);
    return it != states.end() && it->second == state.seq;
  };
  if (facts_ && (held(fact_states_) || held(kept_states_))) {
    if (facts_->SelectState(state.seq).ok()) return facts_.get();
  }
  std::string body = state.body;
  if (body.empty()) {
    auto full = store_.SnapshotBySeq(state.seq);
    if (!full.ok()) return full.status();
    body = std::move(full->body);
  }
  std::string hash;
  StatusOr<Snapshot> snapshot = DecodeSnapshot(body, &hash);
  if (!snapshot.ok()) return snapshot.status();
  if (!scratch_) {
    auto db = policy::FactDb::Open();
    if (!db.ok()) return db.status();
    scratch_ = std::move(*db);
  }
  auto kept = std::make_shared<const Snapshot>(std::move(*snapshot));
  if (Status s = scratch_->Load(std::move(kept), std::move(hash)); !s.ok()) return s;
  return scratch_.get();
}

}  // namespace tidemark::ctl
