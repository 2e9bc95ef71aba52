#include "collector/ctl/remote/session.h"

#include <sys/random.h>

#include "common/text.h"

namespace tidemark::ctl::remote {
namespace {

std::atomic<bool> g_cancel{false};

extern "C" void OnInterrupt(int /*sig*/) { g_cancel.store(true); }

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < raw.size()) {
    ssize_t n = getrandom(raw.data() + got, raw.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return HexEncode(raw);
}

}  // namespace

InterruptScope::InterruptScope() {
  g_cancel.store(false);
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &sa, &old_[i]);
}

InterruptScope::~InterruptScope() {
  for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &old_[i], nullptr);
}

const std::atomic<bool>* InterruptScope::Flag() { return &g_cancel; }

Status RemoteWorkDir::Make(const std::string& base, const std::string& prefix) {
  auto real = ssh_.RealPath(base.empty() ? "." : base);
  if (!real.ok()) return real.status();
  std::string dir = (*real == "/" ? "" : *real) + "/" + prefix + RandomHex(8);
  if (Status s = ssh_.MakePrivateDirectory(dir, 0700); !s.ok()) return s;
  dir_ = dir;
  return Status::Ok();
}

StatusOr<std::string> RemoteWorkDir::PutFile(const std::string& name, const std::string& local,
                                             int mode) {
  std::string path = dir_ + "/" + name;
  files_.push_back(path);  // also a partial upload is removed
  if (Status s = ssh_.Upload(local, path, mode); !s.ok()) return s;
  return path;
}

StatusOr<std::string> RemoteWorkDir::PutContent(const std::string& name, const std::string& content,
                                                int mode) {
  std::string path = dir_ + "/" + name;
  files_.push_back(path);
  if (Status s = ssh_.UploadContent(content, path, mode); !s.ok()) return s;
  return path;
}

Status RemoteWorkDir::CleanUp() {
  Status result = Status::Ok();
  for (const std::string& f : files_) {
    Status s = ssh_.RemoveFile(f);
    if (result.ok()) result = s;
  }
  files_.clear();
  if (!dir_.empty()) {
    Status s = ssh_.RemoveDirectory(dir_);
    if (result.ok()) result = s;
    dir_.clear();
  }
  return result;
}

}  // namespace tidemark::ctl::remote
