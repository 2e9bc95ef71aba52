// TempRoot: a throw-away host root for tests, built file by file under a fresh temp directory
// and removed on destruction. Section readers read it through OpenRootFs like any offline root.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tidemark::testing {

class TempRoot {
 public:
  TempRoot();
  ~TempRoot();
  TempRoot(const TempRoot&) = delete;
  TempRoot& operator=(const TempRoot&) = delete;

  // Returns the directory on the real filesystem.
  const std::string& path() const { return path_; }
  // Returns path() + in-root path.
  std::string Host(std::string_view in_root) const;

  // Writes a file (parents created 0755), then chmods it to `mode`.
  void Write(std::string_view in_root, std::string_view content, unsigned mode = 0644);
  void Mkdir(std::string_view in_root, unsigned mode = 0755);
  void Symlink(std::string_view in_root, std::string_view target);
  void Fifo(std::string_view in_root);
  void Chmod(std::string_view in_root, unsigned mode);
  // chown(2); returns false when not permitted (tests that need it skip).
  bool Chown(std::string_view in_root, unsigned uid, unsigned gid);

 private:
  std::string path_;
};

// Returns the content of a file on the real filesystem ("" if unreadable).
std::string ReadHostFile(const std::string& path);

// Runs `command` through /bin/sh; returns its exit status and fills stdout/stderr.
int RunCommand(const std::string& command, std::string* out, std::string* err = nullptr);

// Runs `body` where mode-000 files and directories are really unreadable: directly when not
// root, else in a forked child that drops to uid/gid 65534 (root reads everything). Returns
// body's result (false if the child could not drop privileges or crashed).
bool RunUnprivileged(const std::function<bool()>& body);

// Returns `s` quoted for /bin/sh (single quotes; embedded ones escaped).
std::string ShellQuote(const std::string& s);

// Splits command output into lines (without the newlines).
std::vector<std::string> Lines(const std::string& s);

// Returns true when `program` is on PATH.
bool HaveProgram(const std::string& program);

// Returns the path of systemd-sysctl (not on PATH: /lib/systemd or /usr/lib/systemd), or "".
std::string SystemdSysctlPath();

}  // namespace tidemark::testing
