// Small helpers shared by the configuration sections (sysctl, login, cron, packages): reading an
// optional config file through the Fs with "absent" vs "error" kept apart, where an item came
// from, and bounded line errors. A missing optional file is absent, never an error and never
// "empty". (Text helpers that parsers share are in agent/parsers/lines.h.)
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent/parsers/lines.h"
#include "common/fs.h"
#include "common/snapshot.h"

namespace tidemark::agent {

enum class ConfState { kPresent, kAbsent, kError };

inline std::string_view ConfStateName(ConfState s) {
  switch (s) {
    case ConfState::kPresent:
      return "present";
    case ConfState::kAbsent:
      return "absent";
    case ConfState::kError:
      return "error";
  }
  return "error";
}

struct ConfFile {
  std::string path;
  ConfState state = ConfState::kAbsent;
  std::string data;
  std::optional<FileInfo> info;
  std::string reason;  // why it is absent or could not be read
};

// Reads `path`. Not found is kAbsent (recorded in `out` as an error only when `required`); any
// other failure (permission, directory, FIFO, too large, loop) is kError with an error naming the
// file. The content is never quoted.
inline ConfFile ReadConf(const Fs& fs, std::string_view path, Section& out,
                         uint64_t max_bytes = 8ull << 20, bool required = false) {
  ConfFile f;
  f.path = std::string(path);
  ReadOptions options;
  options.max_bytes = max_bytes;
  StatusOr<FileContent> r = fs.ReadFile(path, options);
  if (r.ok()) {
    f.state = ConfState::kPresent;
    f.data = std::move(r->data);
    f.info = r->info;
    return f;
  }
  f.reason = r.status().message();
  if (r.status().code() == StatusCode::kNotFound) {
    f.state = ConfState::kAbsent;
    if (required) out.AddError(f.path, std::nullopt, "cannot read: " + f.reason);
    return f;
  }
  f.state = ConfState::kError;
  out.AddError(f.path, std::nullopt, "cannot read: " + f.reason);
  return f;
}

// systemd's conf_files_list_strv() (src/basic/conf-files.c, systemd 252), the part that the
// sysctl and services sections share: directories come in precedence order, and per file name
// that ends in the suffix and is not hidden (dirent_is_file_with_suffix(): no leading '.'), the
// first directory that holds the name claims it, whatever the entry is (systemd does not stat()
// it first). `Claim` stores what the caller needs of the claiming entry (a path, an index).
template <typename Claim>
class ConfFilesList {
 public:
  explicit ConfFilesList(std::string suffix) : suffix_(std::move(suffix)) {}

  // Returns whether conf_files_list considers a directory entry named `name` at all.
  bool Considers(std::string_view name) const {
    return !name.empty() && name.front() != '.' && name.size() > suffix_.size() &&
           name.substr(name.size() - suffix_.size()) == suffix_;
  }
  // Claims `name` with `claim` unless an earlier directory did. Returns null when this entry
  // now claims it, else the claim it lost to (the entry is overridden).
  const Claim* Add(const std::string& name, Claim claim) {
    auto [it, inserted] = claimed_.try_emplace(name, std::move(claim));
    return inserted ? nullptr : &it->second;
  }
  // Name -> claim, in name order: the order systemd reads the files in.
  const std::map<std::string, Claim>& claimed() const { return claimed_; }

 private:
  std::string suffix_;
  std::map<std::string, Claim> claimed_;
};

inline nlohmann::json SourceJson(std::string_view file, std::optional<int64_t> line) {
  return {{"file", std::string(file)},
          {"line", line ? nlohmann::json(*line) : nlohmann::json(nullptr)}};
}

// Records line errors for a file, at most `limit` of them, then one summary error at the end.
class LineErrorSink {
 public:
  LineErrorSink(std::string path, size_t limit = 20) : path_(std::move(path)), limit_(limit) {}
  void Add(Section& out, std::optional<int64_t> line, std::string message) {
    if (count_++ < limit_) out.AddError(path_, line, std::move(message));
  }
  void Flush(Section& out) {
    if (count_ > limit_)
      out.AddError(path_, std::nullopt,
                   std::to_string(count_ - limit_) + " more line errors not listed");
  }
  // Moves errors collected by a parser into `out`, counting the line errors against the limit;
  // errors without a line (a parser's ErrorCap summary) always pass.
  void Take(Section& out, std::vector<SectionError>& errors) {
    for (auto& e : errors) {
      if (!e.line) {
        out.AddError(path_, std::nullopt, std::move(e.message));  // file-level or a summary
      } else {
        Add(out, e.line, std::move(e.message));
      }
    }
    errors.clear();
  }

 private:
  std::string path_;
  size_t limit_;
  size_t count_ = 0;
};

// Calls fn(line, number) for each line of `text` that AcceptLine lets through (at most
// `max_bytes`, no NUL); the others become line errors of `path` in `out`, bounded as by
// LineErrorSink. Stops early when fn returns false.
template <typename Fn>
void ForEachAcceptedLine(std::string_view text, const std::string& path, size_t max_bytes,
                         Section& out, Fn&& fn) {
  std::vector<SectionError> errs;
  LineErrorSink sink(path);
  ForEachLine(text, [&](std::string_view raw, int64_t number) {
    if (!AcceptLine(raw, path, number, max_bytes, errs)) {
      sink.Take(out, errs);
      return true;
    }
    return fn(raw, number);
  });
  sink.Flush(out);
}

}  // namespace tidemark::agent
