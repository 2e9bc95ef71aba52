// Helpers shared by the libFuzzer targets (fuzz/*_fuzz.cpp): an in-memory Fs, so that parsers
// that read through an Fs (sshd_config includes, sudoers includes, login.defs) run on fuzzed
// files without touching the disk, and the split of one fuzz input into several files.
// Single-threaded, like libFuzzer's callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace tidemark::fuzz {

// Aborts (a crash for libFuzzer) when an invariant of the code under test does not hold.
inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

// Separates the files of one multi-file input ("main file\n--FILE--\nsecond file..."). The
// seed corpora use it (fuzz/make_seeds.sh) and the dictionaries name it.
inline constexpr std::string_view kFileSeparator = "\n--FILE--\n";

// Returns the parts of `data` between separators, at most `max_parts` (the last part keeps any
// further separators).
inline std::vector<std::string_view> SplitFiles(std::string_view data, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t at = data.find(kFileSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(data.substr(0, at));
    data.remove_prefix(at + kFileSeparator.size());
  }
  parts.push_back(data);
  return parts;
}

// A read-only tree of regular files held in memory. Directories exist implicitly as the parents
// of files (and any added with AddDir). No symlinks: ReadLink is always kInvalidArgument.
class MemFs final : public Fs {
 public:
  void AddFile(const std::string& path, std::string_view data) {
    files_[NormalizePath(path)] = std::string(data);
    for (std::string d = DirName(NormalizePath(path));; d = DirName(d)) {
      dirs_.insert(d);
      if (d == "/") break;
    }
  }
  void AddDir(const std::string& path) {
    for (std::string d = NormalizePath(path);; d = DirName(d)) {
      dirs_.insert(d);
      if (d == "/") break;
    }
  }

  StatusOr<FileContent> ReadFile(std::string_view path, const ReadOptions& options) const override {
    std::string p = NormalizePath(path);
    auto it = files_.find(p);
    if (it == files_.end()) {
      if (dirs_.count(p)) return Status{StatusCode::kWrongType, p + ": is a directory"};
      return Status{StatusCode::kNotFound, p + ": no such file"};
    }
    if (it->second.size() > options.max_bytes) {
      return Status{StatusCode::kTooLarge, p + ": larger than the limit"};
    }
    FileContent c;
    c.data = it->second;
    c.info = Info(false, it->second.size());
    return c;
  }
  StatusOr<FileInfo> Stat(std::string_view path, bool /*follow*/) const override {
    std::string p = NormalizePath(path);
    if (auto it = files_.find(p); it != files_.end()) return Info(false, it->second.size());
    if (dirs_.count(p)) return Info(true, 0);
    return Status{StatusCode::kNotFound, p + ": no such file"};
  }
  StatusOr<std::vector<std::string>> ListDir(std::string_view path) const override {
    std::string p = NormalizePath(path);
    if (!dirs_.count(p)) {
      if (files_.count(p)) return Status{StatusCode::kWrongType, p + ": not a directory"};
      return Status{StatusCode::kNotFound, p + ": no such directory"};
    }
    std::set<std::string> names;
    std::string prefix = p == "/" ? "/" : p + "/";
    auto child = [&](const std::string& full) {
      if (full.size() <= prefix.size() || full.compare(0, prefix.size(), prefix) != 0) return;
      std::string rest = full.substr(prefix.size());
      if (rest.find('/') == std::string::npos) names.insert(rest);
    };
    for (const auto& [f, unused] : files_) child(f);
    for (const auto& d : dirs_) child(d);
    return std::vector<std::string>(names.begin(), names.end());
  }
  StatusOr<std::string> ReadLink(std::string_view path) const override {
    return Status{StatusCode::kInvalidArgument, std::string(path) + ": not a symlink"};
  }
  const std::string& root() const override { return root_; }

 private:
  static FileInfo Info(bool dir, uint64_t size) {
    FileInfo i;
    i.type = dir ? FileType::kDirectory : FileType::kRegular;
    i.mode = dir ? 0755 : 0644;
    i.size = size;
    i.nlink = 1;
    return i;
  }

  std::map<std::string, std::string> files_;
  std::set<std::string> dirs_ = {"/"};
  std::string root_ =
      "/fuzz-root";  // never "/": section readers must not treat it as the live host
};

}  // namespace tidemark::fuzz
