// What pull and deploy share on top of an SSH connection: Ctrl-C as a cancel flag, and a
// private working directory on the host that is removed again whatever happens.
#pragma once

#include <array>
#include <atomic>
#include <csignal>
#include <string>
#include <vector>

#include "collector/ctl/remote/ssh.h"

namespace tidemark::ctl::remote {

// While it lives, SIGINT, SIGTERM and SIGHUP set Cancelled() instead of ending the process; a
// second signal (the handlers reset themselves) ends it at once. One at a time.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  static const std::atomic<bool>* Flag();
  static bool Cancelled() { return Flag()->load(); }

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
};

// A new directory with a random name (`prefix` + 16 hex digits) under `base` on the host, mode
// 0700 (MakePrivateDirectory: nothing that exists is followed). Files put into it are removed
// with it by CleanUp(), which the destructor calls too.
class RemoteWorkDir {
 public:
  explicit RemoteWorkDir(SshConnection& ssh) : ssh_(ssh) {}
  ~RemoteWorkDir() { (void)CleanUp(); }
  RemoteWorkDir(const RemoteWorkDir&) = delete;
  RemoteWorkDir& operator=(const RemoteWorkDir&) = delete;

  // `base` "" is the login user's home directory.
  Status Make(const std::string& base, const std::string& prefix);
  const std::string& path() const { return dir_; }
  // Uploads the local file / `content` as NAME in the directory with `mode`; returns its path.
  StatusOr<std::string> PutFile(const std::string& name, const std::string& local, int mode);
  StatusOr<std::string> PutContent(const std::string& name, const std::string& content, int mode);
  // Removes every file put and the directory; ok when nothing is left. Runs once.
  Status CleanUp();

 private:
  SshConnection& ssh_;
  std::string dir_;
  std::vector<std::string> files_;
};

}  // namespace tidemark::ctl::remote
