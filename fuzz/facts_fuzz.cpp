// The judgement over what an agent sent: a snapshot the collector accepted (DecodeSnapshot) is
// loaded into the fact tables (FactDb::Load, every table's row functions over sections of any
// shape) and the shipped baseline's rules run on them (EvaluateLoaded), as the collector does
// for every stored state. Any agent with a valid certificate chooses these bytes, so nothing
// here may crash, throw or hang. Checked too: one FactDb reused from snapshot to snapshot (as
// the collector's evaluator reuses its own) gives exactly the results a fresh one gives, so no
// row, source or section status of an earlier snapshot leaks into a later verdict.
// Input: a snapshot document. The seeds (make_seeds) carry no content_hash, which is optional
// in a document: a mutated section still decodes, instead of failing on the hash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/evaluate.h"
#include "common/policy/fact_db.h"
#include "common/policy/rules.h"
#include "common/snapshot.h"
#include "fuzz/fuzz_support.h"

namespace {

using namespace tidemark;
using namespace tidemark::policy;

struct Engine {
  PolicySet set;
  std::unique_ptr<FactDb> reused;
};

Engine& TheEngine() {
  static Engine* engine = [] {
    auto* e = new Engine;
    StatusOr<PolicySet> set = LoadPolicies(TIDEMARK_SHIPPED_POLICY);
    if (!set.ok()) std::fprintf(stderr, "%s\n", set.status().ToString().c_str());
    fuzz::Check(set.ok(), "the shipped baseline does not load");
    e->set = std::move(*set);
    StatusOr<std::unique_ptr<FactDb>> db = FactDb::Open();
    fuzz::Check(db.ok(), "FactDb::Open failed");
    e->reused = std::move(*db);
    return e;
  }();
  return *engine;
}

bool SameItems(const std::vector<FindingItem>& a, const std::vector<FindingItem>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].detail != b[i].detail || a[i].source_file != b[i].source_file ||
        a[i].source_line != b[i].source_line) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Engine& engine = TheEngine();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string hash;
  StatusOr<Snapshot> snapshot = DecodeSnapshot(in, &hash);
  if (!snapshot.ok()) return 0;
  StatusOr<std::vector<SelectedRule>> rules = SelectRules(engine.set, snapshot->host.id);
  fuzz::Check(rules.ok(), "the shipped baseline's rules cannot be selected for a valid host id");

  // The reused FactDb; a failed load leaves it for the next input, as in the collector.
  Status loaded = engine.reused->Load(*snapshot, hash);
  StatusOr<std::unique_ptr<FactDb>> fresh = FactDb::Open();
  fuzz::Check(fresh.ok(), "FactDb::Open failed");
  Status fresh_loaded = (*fresh)->Load(*snapshot, hash);
  fuzz::Check(loaded.ok() == fresh_loaded.ok(), "Load succeeds on one FactDb and not another");
  if (!loaded.ok()) return 0;

  // Only the deterministic bounds (VM steps, rows): the wall-time ones would make the two
  // evaluations differ on a loaded machine. A snapshot that makes the rules slow shows up as
  // libFuzzer's timeout instead.
  QueryLimits limits;
  limits.max_millis = limits.max_total_millis = int64_t{1} << 40;
  Evaluation a = EvaluateLoaded(*engine.reused, *snapshot, *rules, limits);
  Evaluation b = EvaluateLoaded(**fresh, *snapshot, *rules, limits);
  fuzz::Check(a.results.size() == rules->size(), "a rule has no result");
  fuzz::Check(a.results.size() == b.results.size(), "a reused FactDb gives other results");
  for (size_t i = 0; i < a.results.size(); ++i) {
    const RuleResult& x = a.results[i];
    const RuleResult& y = b.results[i];
    if (x.outcome != y.outcome || x.message != y.message || !SameItems(x.items, y.items)) {
      std::fprintf(stderr, "rule %s: %s (%s) on the reused FactDb, %s (%s) on a fresh one\n",
                   x.rule_id.c_str(), std::string(OutcomeName(x.outcome)).c_str(),
                   x.message.c_str(), std::string(OutcomeName(y.outcome)).c_str(),
                   y.message.c_str());
      fuzz::Check(false, "a reused FactDb gives other results than a fresh one");
    }
    fuzz::Check(x.outcome != Outcome::kFail || !x.items.empty(), "a failed rule has no item");
  }
  return 0;
}
