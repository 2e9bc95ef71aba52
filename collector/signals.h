// The collector's process signals (SIGTERM, SIGINT, SIGHUP), taken synchronously: main blocks
// them before any thread starts, so every thread inherits the block, and one SignalWaiter thread
// takes each with sigwait() and hands it to a callback. No signal handler ever runs, so no
// signal can land on a thread that is busy, being created or exiting (ThreadSanitizer's runtime
// defers handlers and lost such a SIGTERM in CI about once in 200 starts under load).
#pragma once

#include <pthread.h>

#include <atomic>
#include <functional>
#include <thread>

#include "common/status.h"

namespace tidemark::collector {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every thread it starts
// after). REQUIRES: called by main before any thread exists.
Status BlockServerSignals();

// Returns whether the calling thread blocks all three (Run checks it before it relies on them).
bool ServerSignalsBlocked();

// A thread that takes the blocked signals and calls `on_signal(signo)` for each, on that thread;
// stopped and joined by the destructor.
class SignalWaiter {
 public:
  explicit SignalWaiter(std::function<void(int)> on_signal);
  ~SignalWaiter();
  SignalWaiter(const SignalWaiter&) = delete;
  SignalWaiter& operator=(const SignalWaiter&) = delete;
  SignalWaiter(SignalWaiter&&) = delete;
  SignalWaiter& operator=(SignalWaiter&&) = delete;

 private:
  std::function<void(int)> on_signal_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace tidemark::collector
