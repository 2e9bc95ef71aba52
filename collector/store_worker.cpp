// store_worker.h: the store thread, its queues and group commits.
#include "collector/store_worker.h"

#include <exception>
#include <utility>

#include "collector/log.h"

namespace tidemark::collector {

StoreWorker::StoreWorker(std::unique_ptr<SnapshotStore> store, std::string db,
                         std::function<void(const Status&)> on_corrupt)
    : store_(std::move(store)), db_(std::move(db)), on_corrupt_(std::move(on_corrupt)) {
  thread_ = std::thread([this] { Loop(); });
}

void StoreWorker::SetOnStored(std::function<void()> on_stored) {
  on_stored_ = std::move(on_stored);
}

StoreWorker::~StoreWorker() { Stop(); }

void StoreWorker::Put(PutJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    puts_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void StoreWorker::Seen(SeenJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    seens_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void StoreWorker::Hello(HostJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    hosts_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void StoreWorker::Run(Task task, TaskFailed failed) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back({std::move(task), std::move(failed)});
  }
  cv_.notify_one();
}

void StoreWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

template <typename F, typename R>
void StoreWorker::Answer(F& done, R r) {
  if (!done) return;
  auto f = std::move(done);
  done = nullptr;
  try {
    f(std::move(r));
  } catch (const std::exception& e) {
    Log::Error("store_exception", {{"event", "answer"}, {"error", Clip(e.what(), 256)}});
  } catch (...) {
    Log::Error("store_exception", {{"event", "answer"}, {"error", "unknown exception"}});
  }
}

Status StoreWorker::CorruptStatus() const {
  return Status(StatusCode::kIoError, db_ + ": the store is corrupted; nothing is acknowledged");
}

bool StoreWorker::CheckCorrupt(const std::string& error) {
  if (corrupt_) return true;
  if (!store_->Corrupt()) return false;
  corrupt_ = true;
  Log::Critical("store_corrupt", {{"db", db_}, {"error", Clip(error, 1024)}});
  if (on_corrupt_) on_corrupt_(CorruptStatus());
  return true;
}

void StoreWorker::Loop() {
  for (;;) {
    std::deque<QueuedTask> tasks;
    std::vector<PutJob> puts;
    std::vector<SeenJob> seens;
    std::vector<HostJob> hosts;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto idle = [this] {
        return tasks_.empty() && puts_.empty() && seens_.empty() && hosts_.empty();
      };
      cv_.wait(lock, [&] { return stop_ || !idle(); });
      if (idle()) return;  // stop_, nothing left
      tasks.swap(tasks_);
      puts.swap(puts_);
      seens.swap(seens_);
      hosts.swap(hosts_);
    }
    for (auto& t : tasks) RunTask(t);
    try {
      ProcessHosts(hosts);
      ProcessSeens(seens);
      ProcessPuts(puts);
    } catch (const std::exception& e) {
      Log::Error("store_exception", {{"event", "commit"}, {"error", Clip(e.what(), 256)}});
    } catch (...) {
      Log::Error("store_exception", {{"event", "commit"}, {"error", "unknown exception"}});
    }
    // Whatever an exception left unanswered gets a (transient) error: never an ack.
    Status failed(StatusCode::kInternal, "the store thread failed on this batch");
    for (auto& j : hosts) Answer(j.done, StatusOr<bool>(failed));
    for (auto& j : seens) Answer(j.done, StatusOr<PutResult>(failed));
    for (auto& j : puts) Answer(j.done, StatusOr<PutResult>(failed));
  }
}

void StoreWorker::RunTask(QueuedTask& t) {
  if (corrupt_) {
    Answer(t.failed, CorruptStatus());
    return;
  }
  try {
    t.task(*store_);
    t.failed = nullptr;  // the task answered its caller itself
  } catch (const std::exception& e) {
    Log::Error("store_exception", {{"event", "task"}, {"error", Clip(e.what(), 256)}});
    Answer(t.failed, Status(StatusCode::kInternal, "the store thread failed"));
  } catch (...) {
    Log::Error("store_exception", {{"event", "task"}, {"error", "unknown exception"}});
    Answer(t.failed, Status(StatusCode::kInternal, "the store thread failed"));
  }
  CheckCorrupt("a store call reported corruption");
}

template <typename R, typename Job, typename Commit>
void StoreWorker::ProcessBatch(std::vector<Job>& jobs, const char* what, Commit commit) {
  if (jobs.empty()) return;
  if (corrupt_) {
    for (auto& j : jobs) Answer(j.done, StatusOr<R>(CorruptStatus()));
    return;
  }
  auto results = commit(jobs);
  if (!results.ok()) {
    Log::Error("store_commit_failed",
               {{what, std::to_string(jobs.size())}, {"error", results.status().ToString()}});
  }
  if (CheckCorrupt(results.ok() ? "" : results.status().ToString())) {
    for (auto& j : jobs) Answer(j.done, StatusOr<R>(CorruptStatus()));
    return;
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    Answer(jobs[i].done, results.ok() ? (*results)[i] : StatusOr<R>(results.status()));
  }
}

void StoreWorker::ProcessHosts(std::vector<HostJob>& hosts) {
  ProcessBatch<bool>(hosts, "hosts", [this](const std::vector<HostJob>& jobs) {
    std::vector<HostContact> contacts;
    contacts.reserve(jobs.size());
    for (const auto& j : jobs) contacts.push_back(j.contact);
    return store_->UpsertHostBatch(contacts);
  });
}

void StoreWorker::ProcessSeens(std::vector<SeenJob>& seens) {
  ProcessBatch<PutResult>(seens, "seen_records", [this](const std::vector<SeenJob>& jobs) {
    std::vector<SeenInput> inputs;
    inputs.reserve(jobs.size());
    for (const auto& j : jobs) inputs.push_back(j.input);
    return store_->RecordSeenBatch(inputs);
  });
}

void StoreWorker::ProcessPuts(std::vector<PutJob>& puts) {
  if (puts.empty()) return;
  if (corrupt_) {
    for (auto& j : puts) Answer(j.done, StatusOr<PutResult>(CorruptStatus()));
    return;
  }
  std::vector<SnapshotInput> inputs;
  inputs.reserve(puts.size());
  for (const auto& p : puts) inputs.push_back(p.input);
  auto results = store_->PutBatch(inputs);
  if (!results.ok()) {
    Log::Error("store_commit_failed", {{"snapshots", std::to_string(puts.size())},
                                       {"error", results.status().ToString()}});
  }
  std::string first_error;
  if (results.ok()) {
    for (const auto& r : *results) {
      if (!r.ok() && first_error.empty()) first_error = r.status().ToString();
    }
  } else {
    first_error = results.status().ToString();
  }
  // A batch in which the store met corruption is not acknowledged, not even the snapshots
  // that were committed: the agents keep them and send them again (then `duplicate`).
  if (CheckCorrupt(first_error)) {
    for (auto& j : puts) Answer(j.done, StatusOr<PutResult>(CorruptStatus()));
    return;
  }
  bool stored = false;
  for (size_t i = 0; i < puts.size(); ++i) {
    Answer(puts[i].done, results.ok() ? (*results)[i] : StatusOr<PutResult>(results.status()));
    stored |= results.ok() && (*results)[i].ok() && *(*results)[i] == PutResult::kStored;
  }
  if (stored && on_stored_) on_stored_();
}
}  // namespace tidemark::collector
