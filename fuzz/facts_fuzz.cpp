// The judgement over what an agent sent: a snapshot the collector accepted (DecodeSnapshot) is
// loaded into the fact tables (FactDb::Load, every table's row functions over sections of any
// shape) and the shipped baseline's rules run on them (EvaluateLoaded), as the collector does
// for every stored state. Any agent with a valid certificate chooses these bytes, so nothing
// here may crash, throw or hang. Checked too: one FactDb reused from snapshot to snapshot (as
// the collector's evaluator reuses its own) gives exactly the results a fresh one gives, so no
// row, source or section status of an earlier snapshot leaks into a later verdict.
// Input: a snapshot document. The seeds (make_seeds) carry no content_hash, which is optional
// in a document: a mutated section still decodes, instead of failing on the hash. Mutations are
// mostly structure-aware (LLVMFuzzerCustomMutator below: a value of another type, an element
// dropped, repeated or copied from elsewhere, a key added or removed), since nearly every byte
// mutation of a document breaks its JSON and tests only the decoder, the snapshot target's job.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/drift.h"
#include "common/policy/evaluate.h"
#include "common/policy/fact_db.h"
#include "common/policy/rules.h"
#include "common/policy/who.h"
#include "common/snapshot.h"
#include "fuzz/fuzz_support.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using namespace tidemark;
using namespace tidemark::policy;

struct Engine {
  PolicySet set;
  std::unique_ptr<FactDb> reused;
  StateRows previous;  // the last loaded state's rows, for drift
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

// Every value of `j` (parents before children), down to the decoder's nesting limit.
void Values(nlohmann::json& j, std::vector<nlohmann::json*>& out, int depth) {
  out.push_back(&j);
  if (depth >= 64) return;
  if (j.is_object()) {
    for (auto& [key, value] : j.items()) Values(value, out, depth + 1);
  } else if (j.is_array()) {
    for (auto& value : j) Values(value, out, depth + 1);
  }
}

// A value of any type, mostly ones a row function must refuse or bound.
nlohmann::json AnyValue(std::minstd_rand& rng) {
  static const char* const kStrings[] = {
      "",           "0",       "-1",       "*",           "ALL", "root", "yes",    "no",
      "%sudo",      "!",       "/",        "/etc/shadow", "..",  "a\nb", "\u00ff", "0644",
      "4294967296", "sha256:", "SHA256:x", "null",        "[]",  "{}"};
  switch (rng() % 12) {
    case 0:
      return nullptr;
    case 1:
      return rng() % 2 == 0;
    case 2:
      return 0;
    case 3:
      return -1;
    case 4:
      return std::numeric_limits<int64_t>::max();
    case 5:
      return std::numeric_limits<int64_t>::min();
    case 6:
      return std::numeric_limits<uint64_t>::max();
    case 7:
      return 1e300;
    case 8:
      return nlohmann::json::array();
    case 9:
      return nlohmann::json::object();
    case 10:
      return std::string(rng() % 2 ? 4096 : 1, 'x');
    default:
      return kStrings[rng() % (sizeof kStrings / sizeof *kStrings)];
  }
}

// One change to one value of `doc` (never the document itself).
void MutateOnce(nlohmann::json& doc, std::minstd_rand& rng) {
  std::vector<nlohmann::json*> values;
  Values(doc, values, 0);
  if (values.size() < 2) return;
  nlohmann::json& v = *values[1 + rng() % (values.size() - 1)];
  switch (rng() % 8) {
    case 0:
      v = AnyValue(rng);
      break;
    case 1:  // another value of the document in its place: shapes from elsewhere
      v = nlohmann::json(*values[1 + rng() % (values.size() - 1)]);
      break;
    case 2:
      if (v.is_string()) {
        std::string text = v.get<std::string>();
        size_t len = std::min<size_t>(text.size(), 256);
        text.resize(len + 16);
        text.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(text.data()), len, text.size()));
        v = text;
      } else if (v.is_number()) {
        v = static_cast<int64_t>(rng()) - static_cast<int64_t>(rng());
      } else {
        v = AnyValue(rng);
      }
      break;
    case 3:
      if (v.is_object() && !v.empty()) {
        auto it = v.begin();
        std::advance(it, rng() % v.size());
        v.erase(it);
      } else if (v.is_array() && !v.empty()) {
        v.erase(v.begin() + static_cast<long>(rng() % v.size()));
      }
      break;
    case 4:
      if (v.is_array() && !v.empty()) {  // an element repeated (same id twice, more rows)
        nlohmann::json copy = v[rng() % v.size()];
        size_t times = rng() % 4 == 0 ? 50 : 1;
        for (size_t i = 0; i < times; ++i) v.push_back(copy);
      }
      break;
    case 5:
      if (v.is_object()) {
        static const char* const kKeys[] = {"id", "name", "source", "status", "value", "x"};
        v[kKeys[rng() % (sizeof kKeys / sizeof *kKeys)]] = AnyValue(rng);
      }
      break;
    case 6:
      if (v.is_object() || v.is_array()) v.clear();
      break;
    default:
      if (v.is_boolean()) {
        v = !v.get<bool>();
      } else {
        v = AnyValue(rng);
      }
      break;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::minstd_rand rng(seed);
  // One mutation in ten is libFuzzer's own, on the bytes (and so is any input that is not JSON).
  if (rng() % 10 != 0) {
    nlohmann::json doc =
        nlohmann::json::parse(reinterpret_cast<const char*>(data),
                              reinterpret_cast<const char*>(data) + size, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
      for (unsigned n = 1 + rng() % 3; n > 0; --n) MutateOnce(doc, rng);
      // A string cut inside a UTF-8 sequence is written with U+FFFD (the decoder refuses
      // invalid UTF-8 anyway: that is the snapshot target's part).
      std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (text.size() <= max_size) {
        std::memcpy(data, text.data(), text.size());
        return text.size();
      }
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Engine& engine = TheEngine();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string hash;
  StatusOr<Snapshot> decoded = DecodeSnapshot(in, &hash);
  if (!decoded.ok()) return 0;
  // Both FactDbs serve the same snapshot's data in place, as the collector's does.
  auto snapshot = std::make_shared<const Snapshot>(std::move(*decoded));
  StatusOr<std::vector<SelectedRule>> rules = SelectRules(engine.set, snapshot->host.id);
  fuzz::Check(rules.ok(), "the shipped baseline's rules cannot be selected for a valid host id");

  // The reused FactDb; a failed load leaves it for the next input, as in the collector.
  Status loaded = engine.reused->Load(snapshot, hash);
  StatusOr<std::unique_ptr<FactDb>> fresh = FactDb::Open();
  fuzz::Check(fresh.ok(), "FactDb::Open failed");
  Status fresh_loaded = (*fresh)->Load(snapshot, hash);
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

  // Drift (tidemarkctl drift, approved baselines) and `who` read the same tables.
  StatusOr<StateRows> rows = ReadState(*engine.reused);
  fuzz::Check(rows.ok(), "ReadState fails on a loaded state");
  fuzz::Check(Diff(*rows, *rows).empty(), "a state differs from itself");
  for (const Change& c : Diff(engine.previous, *rows)) (void)IsBaselineFinding(c);
  engine.previous = std::move(*rows);
  for (const char* who : {"root", "alice", "group:sudo"}) {
    StatusOr<Identity> id = ParseIdentity(who);
    if (id.ok()) (void)FindAccess(*engine.reused, *id);
  }
  return 0;
}
