// Small helpers shared by the configuration sections (sysctl, login, cron, packages): reading an
// optional config file through the Fs with "absent" vs "error" kept apart, file metadata as JSON,
// and text trimming. A missing optional file is absent, never an error and never "empty".
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent/file_meta.h"
#include "agent/parsers/account_db.h"
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

inline bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

inline std::string_view TrimBlank(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

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

// Bounds the errors a parser keeps for one file: call Trim() after each line; errors past `cap`
// (counted from the size at construction) are dropped and counted, and Finish() adds one
// summary error. Keeps a hostile file of millions of bad lines from using memory per line.
class ErrorCap {
 public:
  ErrorCap(std::vector<SectionError>& errors, std::string path, size_t cap = 20)
      : errors_(errors), path_(std::move(path)), base_(errors.size()), cap_(cap) {}
  void Trim() {
    while (errors_.size() > base_ + cap_) {
      errors_.pop_back();
      ++dropped_;
    }
  }
  void Finish() {
    Trim();
    if (dropped_)
      errors_.push_back(
          {path_, std::nullopt, std::to_string(dropped_) + " more line errors not listed"});
  }

 private:
  std::vector<SectionError>& errors_;
  std::string path_;
  size_t base_;
  size_t cap_;
  size_t dropped_ = 0;
};

}  // namespace tidemark::agent
