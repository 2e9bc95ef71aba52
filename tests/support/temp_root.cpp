#include "tests/support/temp_root.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tidemark::testing {
namespace fs = std::filesystem;

TempRoot::TempRoot() {
  std::string tmpl = (fs::temp_directory_path() / "tidemark-root-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  ::chmod(path_.c_str(), 0755);
}

TempRoot::~TempRoot() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempRoot::Host(std::string_view in_root) const {
  std::string p(in_root);
  if (!p.empty() && p.front() == '/') p.erase(0, 1);
  return path_ + "/" + p;
}

void TempRoot::Mkdir(std::string_view in_root, unsigned mode) {
  fs::create_directories(Host(in_root));
  ::chmod(Host(in_root).c_str(), mode);
}

void TempRoot::Write(std::string_view in_root, std::string_view content, unsigned mode) {
  fs::path p = Host(in_root);
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + p.string());
  ::chmod(p.c_str(), mode);
}

void TempRoot::Symlink(std::string_view in_root, std::string_view target) {
  fs::path p = Host(in_root);
  fs::create_directories(p.parent_path());
  fs::create_symlink(std::string(target), p);
}

void TempRoot::Fifo(std::string_view in_root) {
  fs::path p = Host(in_root);
  fs::create_directories(p.parent_path());
  if (::mkfifo(p.c_str(), 0644) != 0) throw std::runtime_error("mkfifo failed");
}

void TempRoot::Chmod(std::string_view in_root, unsigned mode) {
  ::chmod(Host(in_root).c_str(), mode);
}

bool TempRoot::Chown(std::string_view in_root, unsigned uid, unsigned gid) {
  return ::lchown(Host(in_root).c_str(), uid, gid) == 0;
}

std::string ReadHostFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

int RunCommand(const std::string& command, std::string* out, std::string* err) {
  std::string err_file;
  std::string cmd = command;
  if (err) {
    err_file =
        (fs::temp_directory_path() / ("tidemark-stderr-" + std::to_string(::getpid()))).string();
    cmd += " 2>" + err_file;
  }
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf{};
  std::string collected;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) collected.append(buf.data(), n);
  int status = ::pclose(pipe);
  if (out) *out = std::move(collected);
  if (err) {
    *err = ReadHostFile(err_file);
    ::unlink(err_file.c_str());
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool RunUnprivileged(const std::function<bool()>& body) {
  if (::geteuid() != 0) return body();
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(2);
    _exit(body() ? 0 : 1);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

bool HaveProgram(const std::string& program) {
  std::string out;
  return RunCommand("command -v " + program + " >/dev/null 2>&1", &out) == 0;
}

std::string SystemdSysctlPath() {
  for (const char* p : {"/lib/systemd/systemd-sysctl", "/usr/lib/systemd/systemd-sysctl"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

}  // namespace tidemark::testing
