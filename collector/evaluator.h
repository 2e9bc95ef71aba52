// The collector's evaluator: judges every state the store keeps against the collector's
// policies (common/policy: the fact tables and rules that tidemarkctl and the agent's audit
// use too) and stores the results with the state (docs/store.md "Evaluations").
//
// It runs on a thread of its own with its own connection to the store, so acknowledgements
// never wait for it: the store thread only wakes it. What it has to do is always read from the
// store (PendingEvaluations), never kept only in memory, so a state stored but not evaluated
// when the collector stopped is evaluated after the next start, and a "seen" record needs no
// evaluation (it points at a state that has one). New policies (SIGHUP) judge every host's
// latest state again; older states keep the verdicts they had.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "collector/store.h"
#include "common/policy/evaluate.h"
#include "common/policy/rules.h"

namespace tidemark::collector {

// The rule id of the result stored when a state cannot be judged at all (its body cannot be
// read or decoded, or the policies do not fit its host): an `error` that findings shows.
inline constexpr const char* kEvaluationRuleId = "(evaluation)";

// The most violating items kept per rule and state: a host whose rule matches 100,000 rows
// (what a query may return) must not make the store keep them all on every change. The rest
// are counted in the result's message.
inline constexpr size_t kMaxStoredItems = 1000;

// The largest state the collector's evaluator judges by default (docs/collector.md, "Memory
// per snapshot"): decoding and judging take about 20-27 times a state's size, so this bounds
// the evaluator's memory at about 450 MB (a 60 MB state took the collector to 1.24 GB). A whole
// Debian host is about 250 KB. A larger state gets one `error` result saying so.
inline constexpr int64_t kDefaultMaxEvaluateBytes = 16ll << 20;

// Converts the engine's evaluation into what the store keeps (items cut at kMaxStoredItems).
EvaluationRecord ToRecord(const policy::Evaluation& e, int64_t snapshot_seq,
                          const std::string& policy_hash, int64_t evaluated_at);

// Judges one stored state: decodes its body, labels it with the stored host id (the
// certificate's name, never what the snapshot says) and evaluates the rules that apply to that
// host. A state that cannot be judged gets one `error` result (kEvaluationRuleId) saying why.
// With `save_facts`, the tables loaded are kept as the host's facts (FactDb::SaveFacts, with
// `keep_seq`, the host's approved baseline state, kept there too; a failure there is logged,
// the judgement stands). `db` is left unloaded (FactDb::Unload): it holds no decoded state.
EvaluationRecord EvaluateStored(const StoredSnapshot& state, const policy::PolicySet& set,
                                const std::string& policy_hash, int64_t evaluated_at,
                                policy::FactDb* db, bool save_facts,
                                const policy::QueryLimits& limits,
                                std::optional<int64_t> keep_seq = {});

class Evaluator {
 public:
  struct Options {
    std::string db;  // the store's file (opened again, by this thread)
    // The facts file (FactsPathFor(db)) the judged states' tables are kept in; empty = none.
    std::string facts;
    // States judged per store transaction.
    int batch = 16;
    // A state whose body is larger is not decoded: it gets one `error` result (kEvaluationRuleId)
    // naming the limit.
    int64_t max_state_bytes = kDefaultMaxEvaluateBytes;
    // Looks for work this often even when not woken (states imported by tidemarkctl).
    std::chrono::milliseconds poll{std::chrono::seconds(30)};
    policy::QueryLimits limits;
    // Called once, on the evaluator's thread, when the store reports corruption (the collector
    // then stops acknowledging and exits, as when its store thread meets it).
    std::function<void()> on_corrupt;
  };

  // Opens the store and starts the thread. `policies` null: evaluation off until
  // SetPolicies gives some (nothing is judged; Wake is harmless).
  static StatusOr<std::unique_ptr<Evaluator>> Start(
      Options options, std::shared_ptr<const policy::PolicySet> policies);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // New states were stored: look now.
  void Wake();
  // Judges by these policies from now on (SIGHUP); null turns evaluation off.
  void SetPolicies(std::shared_ptr<const policy::PolicySet> policies);
  // The hash of the policies judged by now ("" when off).
  std::string policy_hash() const;
  // Finishes the state in hand and stops; what is left stays pending in the store.
  void Stop();

  // For tests and benchmarks: waits until nothing is pending (or `timeout` passed); returns
  // true when idle.
  bool WaitIdle(std::chrono::milliseconds timeout);
  // How many states were judged since Start.
  int64_t evaluated() const;

 private:
  Evaluator(Options options, std::unique_ptr<SnapshotStore> store,
            std::shared_ptr<const policy::PolicySet> policies);
  void Loop();
  enum class StepResult { kWorked, kNothingPending, kStoreFailed };
  // One batch of pending states, judged and stored.
  StepResult Step(const policy::PolicySet& set, const std::string& hash, int64_t& after_seq,
                  policy::FactDb* db, bool save_facts);
  // Logs and reports (once) a store that met corruption; returns true when it did.
  bool CheckCorrupt();

  Options options_;
  std::unique_ptr<SnapshotStore> store_;  // this thread only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::shared_ptr<const policy::PolicySet> policies_;  // guarded by mu_; null: off
  std::string policy_hash_;                            // guarded by mu_
  uint64_t wakes_ = 0;              // bumped by Wake and SetPolicies (guarded by mu_)
  uint64_t policy_generation_ = 0;  // bumped by SetPolicies (guarded by mu_)
  bool stop_ = false;               // guarded by mu_
  bool idle_ = false;               // guarded by mu_
  int64_t evaluated_ = 0;           // guarded by mu_
  bool corrupt_reported_ = false;   // the evaluator's thread only
  std::thread thread_;
};

}  // namespace tidemark::collector
