// signals.h: sigwait(3) on a thread of its own. The destructor wakes it with pthread_kill of a
// blocked signal, which stays pending for that thread alone until its sigwait takes it.
#include "collector/signals.h"

#include <csignal>
#include <cstring>
#include <string>
#include <utility>

namespace tidemark::collector {
namespace {

sigset_t ServerSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

Status BlockServerSignals() {
  sigset_t set = ServerSignals();
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr)) {
    return Status(StatusCode::kInternal, std::string("pthread_sigmask: ") + std::strerror(err));
  }
  return Status();
}

bool ServerSignalsBlocked() {
  sigset_t current;
  sigemptyset(&current);
  if (pthread_sigmask(SIG_BLOCK, nullptr, &current) != 0) return false;
  return sigismember(&current, SIGTERM) == 1 && sigismember(&current, SIGINT) == 1 &&
         sigismember(&current, SIGHUP) == 1;
}

SignalWaiter::SignalWaiter(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
  thread_ = std::thread([this] {
    const sigset_t set = ServerSignals();
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (done_.load()) return;
      on_signal_(sig);
    }
  });
}

SignalWaiter::~SignalWaiter() {
  done_ = true;
  pthread_kill(thread_.native_handle(), SIGHUP);
  thread_.join();
}

}  // namespace tidemark::collector
