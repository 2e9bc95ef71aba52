// The collector's store thread: SqliteStore is used by this thread only. Snapshot puts queued
// from all connections are committed together (PutBatch: one fsync); other work runs in order.
// Every method is thread-safe; each job's `done` is called on the store thread.
//
// Named edge: nothing thrown while storing (std::bad_alloc, a library exception) leaves this
// thread; every job queued then is answered with an error. Once the store reports corruption,
// nothing is acknowledged any more: every result becomes an error, on_corrupt runs once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/store.h"
#include "common/status.h"

namespace tidemark::collector {

class StoreWorker {
 public:
  using Done = std::function<void(StatusOr<PutResult>)>;
  struct PutJob {
    SnapshotInput input;
    std::shared_ptr<std::string> payload;  // owns the text input.body points into
    Done done;
  };
  struct SeenJob {
    SeenInput input;
    Done done;
  };
  struct HostJob {
    HostContact contact;
    std::function<void(StatusOr<bool>)> done;  // true: the certificate fingerprint changed
  };
  using Task = std::function<void(SnapshotStore&)>;
  // Called (on the store thread) when a task cannot run or threw: it must answer its caller.
  using TaskFailed = std::function<void(const Status&)>;

  StoreWorker(std::unique_ptr<SnapshotStore> store, std::string db,
              std::function<void(const Status&)> on_corrupt);
  // Called on the store thread after a commit that stored a new state (the evaluator's wake).
  // Set before the first Put.
  void SetOnStored(std::function<void()> on_stored);
  ~StoreWorker();

  // Queues a snapshot; the puts queued from all connections are committed together
  // (PutBatch: one fsync), and each job's `done` gets its own result.
  void Put(PutJob job);
  // Offers queued from all connections are recorded together (RecordSeenBatch: one fsync).
  void Seen(SeenJob job);
  // Hellos queued from all connections are recorded together (UpsertHostBatch: one fsync).
  void Hello(HostJob job);
  // Queues `task` to run on the store thread, in order with the other tasks.
  void Run(Task task, TaskFailed failed = {});
  // Finishes the queued work, then joins.
  void Stop();

 private:
  struct QueuedTask {
    Task task;
    TaskFailed failed;
  };

  // Calls `done` once with `r`; an exception from it is logged, never propagated.
  template <typename F, typename R>
  static void Answer(F& done, R r);

  Status CorruptStatus() const;

  // After each store call: the first time the store reports corruption, say so at critical
  // level and tell the server (which stops).
  bool CheckCorrupt(const std::string& error);

  void Loop();

  void RunTask(QueuedTask& t);

  // A group commit of hellos or offers: `commit` records every job's input in one transaction;
  // each job is answered with its own result, the commit's error, or the store's corruption.
  template <typename R, typename Job, typename Commit>
  void ProcessBatch(std::vector<Job>& jobs, const char* what, Commit commit);

  void ProcessHosts(std::vector<HostJob>& hosts);

  void ProcessSeens(std::vector<SeenJob>& seens);

  void ProcessPuts(std::vector<PutJob>& puts);

  std::unique_ptr<SnapshotStore> store_;
  std::string db_;
  std::function<void(const Status&)> on_corrupt_;
  std::function<void()> on_stored_;
  bool corrupt_ = false;  // store thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedTask> tasks_;
  std::vector<PutJob> puts_;
  std::vector<SeenJob> seens_;
  std::vector<HostJob> hosts_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tidemark::collector
