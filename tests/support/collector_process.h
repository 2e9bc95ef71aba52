// Runs the built tidemark-collector (TIDEMARK_COLLECTOR_BIN) as a child process for tests:
// stderr into a log file, the ephemeral port read from its "listening" line, signals, a bounded
// wait for exit, and SIGKILL on destruction so no test leaves a collector behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tidemark::testing {

class CollectorProcess {
 public:
  // `log_file`: where the collector's stderr goes (created/truncated).
  explicit CollectorProcess(std::string log_file) : log_file_(std::move(log_file)) {}
  ~CollectorProcess();
  CollectorProcess(const CollectorProcess&) = delete;
  CollectorProcess& operator=(const CollectorProcess&) = delete;

  // Starts the collector with `args` and waits (up to 20 s) for its "listening" line. False
  // when it exited or did not listen in time; exit_code() then tells (or -1).
  bool Start(const std::vector<std::string>& args);
  uint16_t port() const { return port_; }
  // Before Start(): the largest file the collector may write (RLIMIT_FSIZE, SIGXFSZ ignored),
  // so that its store meets a "disk full" (EFBIG) as a test wants it to.
  void set_max_file_bytes(uint64_t bytes) { max_file_bytes_ = bytes; }
  pid_t pid() const { return pid_; }

  // The log so far.
  std::string Log() const;
  // Waits (up to timeout_s) until the log has a line containing every one of `needles`.
  bool WaitLog(const std::vector<std::string>& needles, int timeout_s = 20) const;
  // True when a line of the log contains every one of `needles`.
  bool HasLogLine(const std::vector<std::string>& needles) const;

  void Signal(int sig);
  // Waits up to timeout_s for the process to exit; returns its exit code, or -1 (still
  // running, then killed) / 128+signal when killed by a signal.
  int Wait(int timeout_s);
  int exit_code() const { return exit_code_; }

 private:
  std::string log_file_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  int exit_code_ = -1;
  uint64_t max_file_bytes_ = 0;
};

}  // namespace tidemark::testing
