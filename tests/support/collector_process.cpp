// collector_process.h: the collector as a child process.
#include "tests/support/collector_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/temp_root.h"

namespace tidemark::testing {

CollectorProcess::~CollectorProcess() {
  if (pid_ > 0) WaitChild(pid_, 0);  // killed and reaped
}

bool CollectorProcess::Start(const std::vector<std::string>& args) {
  int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return false;
  std::vector<std::string> argv_s = {TIDEMARK_COLLECTOR_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return false;
  }
  if (pid == 0) {
    ::dup2(log_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
      ::dup2(devnull, STDOUT_FILENO);
    }
    if (max_file_bytes_ > 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // stays ignored across exec: writes fail with EFBIG
      rlimit rl{max_file_bytes_, max_file_bytes_};
      ::setrlimit(RLIMIT_FSIZE, &rl);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& line : Lines(Log())) {
      if (line.rfind("info listening ", 0) != 0) continue;
      size_t p = line.find(" port=");
      if (p == std::string::npos) continue;
      port_ = static_cast<uint16_t>(std::stoi(line.substr(p + 6)));
      return true;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string CollectorProcess::Log() const { return ReadHostFile(log_file_); }

bool CollectorProcess::HasLogLine(const std::vector<std::string>& needles) const {
  for (const auto& line : Lines(Log())) {
    bool all = true;
    for (const auto& n : needles) {
      if (line.find(n) == std::string::npos) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

bool CollectorProcess::WaitLog(const std::vector<std::string>& needles, int timeout_s) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  do {
    if (HasLogLine(needles)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return HasLogLine(needles);
}

void CollectorProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int CollectorProcess::Wait(int timeout_s) {
  if (pid_ <= 0) return exit_code_;
  exit_code_ = WaitChild(pid_, timeout_s);
  pid_ = -1;
  return exit_code_;
}

}  // namespace tidemark::testing
