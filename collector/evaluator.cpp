// evaluator.h: the collector's evaluation thread.
#include "collector/evaluator.h"

#include <exception>
#include <memory>

#include "collector/log.h"
#include "collector/sqlite_store.h"
#include "common/snapshot.h"
#include "common/time.h"

namespace tidemark::collector {
namespace {

EvaluationRecord ErrorRecord(int64_t snapshot_seq, const std::string& policy_hash,
                             int64_t evaluated_at, const std::string& why) {
  EvaluationRecord r;
  r.snapshot_seq = snapshot_seq;
  r.policy_hash = policy_hash;
  r.evaluated_at = evaluated_at;
  StoredResult x;
  x.rule_id = kEvaluationRuleId;
  x.title = "The stored state could not be judged";
  x.severity = "high";
  x.outcome = "error";
  x.message = why;
  r.results.push_back(std::move(x));
  return r;
}

}  // namespace

EvaluationRecord ToRecord(const policy::Evaluation& e, int64_t snapshot_seq,
                          const std::string& policy_hash, int64_t evaluated_at) {
  EvaluationRecord r;
  r.snapshot_seq = snapshot_seq;
  r.policy_hash = policy_hash;
  r.evaluated_at = evaluated_at;
  r.results.reserve(e.results.size());
  for (const policy::RuleResult& x : e.results) {
    StoredResult s;
    s.rule_id = x.rule_id;
    s.title = x.title;
    s.severity = std::string(policy::SeverityName(x.severity));
    s.outcome = std::string(policy::OutcomeName(x.outcome));
    s.message = x.message;
    for (const policy::FindingItem& i : x.items) {
      if (s.items.size() == kMaxStoredItems) break;
      s.items.push_back({i.id, i.detail, i.source_file, i.source_line});
    }
    if (x.items.size() > kMaxStoredItems) {
      s.message += (s.message.empty() ? "" : "; ") + std::to_string(x.items.size()) +
                   " items, the first " + std::to_string(kMaxStoredItems) + " kept";
    }
    r.results.push_back(std::move(s));
  }
  return r;
}

EvaluationRecord EvaluateStored(const StoredSnapshot& state, const policy::PolicySet& set,
                                const std::string& policy_hash, int64_t evaluated_at,
                                policy::FactDb* db, bool save_facts,
                                const policy::QueryLimits& limits,
                                std::optional<int64_t> keep_seq) {
  std::string content_hash;
  StatusOr<Snapshot> snapshot = DecodeSnapshot(state.body, &content_hash);
  if (!snapshot.ok()) {
    return ErrorRecord(state.seq, policy_hash, evaluated_at,
                       "snapshot " + state.id + ": " + snapshot.status().message());
  }
  // The host is who sent it (the certificate's name), whatever the document calls itself.
  snapshot->host.id = state.host;
  StatusOr<std::vector<policy::SelectedRule>> rules = policy::SelectRules(set, state.host);
  if (!rules.ok()) {
    return ErrorRecord(state.seq, policy_hash, evaluated_at, rules.status().message());
  }
  auto loaded = std::make_shared<const Snapshot>(std::move(*snapshot));
  if (Status s = db->Load(loaded, std::move(content_hash)); !s.ok()) {
    return ErrorRecord(state.seq, policy_hash, evaluated_at,
                       "snapshot " + state.id + ": " + s.message());
  }
  policy::Evaluation e = policy::EvaluateLoaded(*db, *loaded, *rules, limits);
  if (save_facts) {
    if (Status s = db->SaveFacts(state.host, state.seq, keep_seq); !s.ok()) {
      Log::Warn("facts_not_saved",
                {{"host", Clip(state.host, kMaxAgentTextBytes)}, {"error", s.ToString()}});
    }
  }
  db->Unload();  // the decoded snapshot is not kept until the next state comes
  return ToRecord(e, state.seq, policy_hash, evaluated_at);
}

StatusOr<std::unique_ptr<Evaluator>> Evaluator::Start(
    Options options, std::shared_ptr<const policy::PolicySet> policies) {
  SqliteStore::Options open;
  open.create = false;
  auto store = SqliteStore::Open(options.db, open);
  if (!store.ok()) return store.status();
  std::unique_ptr<Evaluator> e(
      new Evaluator(std::move(options), std::move(*store), std::move(policies)));
  e->thread_ = std::thread([raw = e.get()] { raw->Loop(); });
  return e;
}

Evaluator::Evaluator(Options options, std::unique_ptr<SnapshotStore> store,
                     std::shared_ptr<const policy::PolicySet> policies)
    : options_(std::move(options)),
      store_(std::move(store)),
      policies_(std::move(policies)),
      policy_hash_(policies_ ? policy::PolicyHash(*policies_) : "") {}

Evaluator::~Evaluator() { Stop(); }

void Evaluator::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++wakes_;
    idle_ = false;
  }
  cv_.notify_all();
}

void Evaluator::SetPolicies(std::shared_ptr<const policy::PolicySet> policies) {
  std::string hash = policies ? policy::PolicyHash(*policies) : "";
  {
    std::lock_guard<std::mutex> lock(mu_);
    policies_ = std::move(policies);
    policy_hash_ = std::move(hash);
    ++policy_generation_;
    ++wakes_;
    idle_ = false;
  }
  cv_.notify_all();
}

void Evaluator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  idle_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Evaluator::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return idle_ || stop_; }) && idle_;
}

std::string Evaluator::policy_hash() const {
  std::lock_guard<std::mutex> lock(mu_);
  return policy_hash_;
}

bool Evaluator::CheckCorrupt() {
  if (!store_->Corrupt()) return false;
  if (!corrupt_reported_) {
    corrupt_reported_ = true;
    Log::Critical("store_corrupt", {{"db", options_.db}, {"by", "evaluator"}});
    if (options_.on_corrupt) options_.on_corrupt();
  }
  return true;
}

int64_t Evaluator::evaluated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evaluated_;
}

Evaluator::StepResult Evaluator::Step(const policy::PolicySet& set, const std::string& hash,
                                      int64_t& after_seq, policy::FactDb* db, bool save_facts) {
  auto pending = store_->PendingEvaluations(hash, after_seq, options_.batch);
  if (!pending.ok()) {
    Log::Error("evaluation_failed", {{"error", pending.status().ToString()}});
    CheckCorrupt();
    return StepResult::kStoreFailed;
  }
  if (pending->empty()) return StepResult::kNothingPending;
  std::vector<EvaluationRecord> records;
  records.reserve(pending->size());
  // What each state's `evaluated` line says, logged once the records are stored: the line
  // means that `tidemarkctl findings` shows the judgement.
  struct Judged {
    std::string host, snapshot;
    size_t rules = 0;
    OutcomeCounts counts;
    int64_t ms = 0;
  };
  std::vector<Judged> judged;
  judged.reserve(pending->size());
  for (int64_t seq : *pending) {
    auto started = std::chrono::steady_clock::now();
    StatusOr<StoredSnapshot> state = store_->SnapshotBySeq(seq);
    if (!state.ok() && (state.status().code() == StatusCode::kNotFound || store_->Corrupt())) {
      // Gone since it was listed, or the store itself is damaged: nothing to record for it.
      Log::Error("evaluation_failed",
                 {{"seq", std::to_string(seq)}, {"error", state.status().ToString()}});
      if (CheckCorrupt()) return StepResult::kStoreFailed;
      continue;
    }
    // Named edge: nothing thrown while judging one state (std::bad_alloc on a huge snapshot,
    // a library exception) stops the evaluator; that state gets an error result.
    EvaluationRecord r;
    try {
      std::optional<int64_t> keep;  // the approved baseline's state stays in the facts file
      if (state.ok() && save_facts) {
        auto approval = store_->ApprovedBaseline(state->host, std::nullopt);
        if (approval.ok() && *approval) keep = (*approval)->snapshot_seq;
      }
      if (!state.ok()) {
        r = ErrorRecord(seq, hash, NowSeconds(), state.status().message());
      } else if (static_cast<int64_t>(state->body.size()) > options_.max_state_bytes) {
        r = ErrorRecord(seq, hash, NowSeconds(),
                        "snapshot " + state->id + ": not judged: its " +
                            std::to_string(state->body.size()) +
                            " bytes are more than the collector judges (max_evaluate_bytes = " +
                            std::to_string(options_.max_state_bytes) +
                            "; a whole Debian host is about 250 KB): raise the limit, or judge "
                            "it with tidemarkctl evaluate");
      } else {
        r = EvaluateStored(*state, set, hash, NowSeconds(), db, save_facts, options_.limits, keep);
      }
    } catch (const std::exception& e) {
      r = ErrorRecord(seq, hash, NowSeconds(), std::string("evaluation failed: ") + e.what());
    }
    judged.push_back({state.ok() ? Clip(state->host, kMaxAgentTextBytes) : "?",
                      state.ok() ? Clip(state->id, kMaxAgentTextBytes) : "?", r.results.size(),
                      CountOutcomes(r),
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count()});
    records.push_back(std::move(r));
  }
  if (!records.empty()) {
    if (Status s = store_->PutEvaluations(records); !s.ok()) {
      Log::Error("evaluation_failed",
                 {{"states", std::to_string(records.size())}, {"error", s.ToString()}});
      CheckCorrupt();
      return StepResult::kStoreFailed;
    }
  }
  for (const Judged& j : judged) {
    Log::Info("evaluated", {{"host", j.host},
                            {"snapshot", j.snapshot},
                            {"rules", std::to_string(j.rules)},
                            {"fail", std::to_string(j.counts.fail)},
                            {"unknown", std::to_string(j.counts.unknown)},
                            {"error", std::to_string(j.counts.error)},
                            {"ms", std::to_string(j.ms)}});
  }
  after_seq = pending->back();
  std::lock_guard<std::mutex> lock(mu_);
  evaluated_ += static_cast<int64_t>(records.size());
  return StepResult::kWorked;
}

void Evaluator::Loop() {
  auto db = policy::FactDb::Open();
  if (!db.ok()) {
    Log::Error("evaluation_off", {{"error", db.status().ToString()}});
    return;
  }
  bool save_facts = false;
  if (!options_.facts.empty()) {
    Status s = (*db)->AttachFacts(options_.facts);
    save_facts = s.ok();
    if (!s.ok()) Log::Warn("facts_off", {{"error", s.ToString()}});
  }
  int64_t after_seq = 0;
  uint64_t generation = 0;
  for (;;) {
    std::shared_ptr<const policy::PolicySet> set;
    std::string hash;
    uint64_t wakes = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      if (policy_generation_ != generation) {
        generation = policy_generation_;
        after_seq = 0;  // every host's latest state, under the new policies
      }
      set = policies_;
      hash = policy_hash_;
      wakes = wakes_;
    }
    // Off (no policies): nothing to do until SetPolicies. A store that failed is tried again
    // after `poll`, without claiming to be idle.
    StepResult step =
        set ? Step(*set, hash, after_seq, db->get(), save_facts) : StepResult::kNothingPending;
    if (step == StepResult::kWorked) continue;
    std::unique_lock<std::mutex> lock(mu_);
    if (wakes_ != wakes) continue;
    idle_ = step == StepResult::kNothingPending;
    if (idle_) idle_cv_.notify_all();
    cv_.wait_for(lock, options_.poll, [&] { return stop_ || wakes_ != wakes; });
    idle_ = false;
  }
}

}  // namespace tidemark::collector
