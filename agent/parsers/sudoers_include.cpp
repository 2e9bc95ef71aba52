// The include resolution: sudo 1.9.13's plugins/sudoers/toke.l for @include, @includedir and
// their #include forms (the GOTINC state, expand_include(), read_dir_files(), push_include()),
// read through an Fs. sudoers(5), "Including other files from within sudoers".
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/parsers/sudoers.h"
#include "agent/parsers/sudoers_internal.h"
#include "common/fs.h"

namespace tidemark::agent::sudoers {
namespace internal {

// @include / @includedir / #include / #includedir (toke.l GOTINC); pos_ is after the keyword.
bool Parser::ParseInclude(bool is_dir, int64_t line) {
  while (pos_ < t_.size() && IsBlank(t_[pos_])) ++pos_;
  std::string raw;
  if (pos_ < t_.size() && t_[pos_] == '"') {
    Tok s = LexString();
    if (s.type == T::kError) return SyntaxError(s);
    raw = std::move(s.text);
  } else {
    // [^\"[:space:]]([^[:space:]]|\\[[:blank:]])*
    size_t j = pos_;
    if (j >= t_.size() || IsSpaceClass(t_[j]) || t_[j] == '"') return SyntaxError(Lex());
    ++j;
    while (j < t_.size()) {
      if (t_[j] == '\\' && j + 1 < t_.size() && IsBlank(t_[j + 1])) {
        j += 2;
      } else if (!IsSpaceClass(t_[j])) {
        ++j;
      } else {
        break;
      }
    }
    raw = Unescape(t_.substr(pos_, j - pos_));
    pos_ = j;
  }
  if (!ExpectEol()) return false;
  // toke.l expand_include(): %h is the short host name; a relative path is taken relative to
  // the folder of the including file.
  std::string expanded;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 1 < raw.size() && raw[i + 1] == 'h') {
      expanded += short_host_;
      ++i;
    } else {
      expanded.push_back(raw[i]);
    }
  }
  if (expanded.empty() || expanded[0] != '/') expanded = JoinPath(DirName(path_), expanded);
  on_include_({expanded, is_dir, line});
  return true;
}

}  // namespace internal

namespace {

// Entries of one include directory that are looked at (stat, read); the rest are reported.
constexpr size_t kMaxDirEntries = 10000;

// ---- include resolution --------------------------------------------------------------------

class Loader {
 public:
  Loader(const Fs& fs, std::string_view short_host, Policy& policy)
      : fs_(fs), short_host_(short_host), policy_(policy) {}

  // Reads and parses one file. `from` is absent for the main file.
  Status LoadFile(const std::string& path, const std::optional<SourceRef>& from,
                  std::string_view via, int depth) {
    if (policy_.parse_stopped) return Status(StatusCode::kTooLarge, "sudoers too large");
    if (policy_.files_read >= kMaxFiles) {
      if (!files_cut_) {
        files_cut_ = true;
        AddBoundedError(
            policy_.errors,
            {from ? from->file : path, from ? std::optional<int64_t>(from->line) : std::nullopt,
             path + " not read: more than " + std::to_string(kMaxFiles) +
                 " sudoers files (includes); this and later includes are not read"});
      }
      return Status(StatusCode::kTooLarge, "too many sudoers files");
    }
    ReadOptions options;
    options.max_bytes = kMaxTotalBytes - policy_.bytes_read;
    auto content = fs_.ReadFile(path, options);
    if (!content.ok()) {
      if (from) {
        std::string why = content.status().code() == StatusCode::kTooLarge
                              ? "larger than the " + std::to_string(kMaxTotalBytes >> 20) +
                                    " MiB left for all sudoers files"
                              : std::string(StatusCodeName(content.status().code()));
        AddBoundedError(policy_.errors,
                        {from->file, from->line, "cannot read included file " + path + ": " + why});
      }
      return content.status();
    }
    ++policy_.files_read;
    policy_.bytes_read += content->data.size();
    const FileInfo& info = content->info;
    auto id = std::make_pair(info.dev, info.ino);
    if (std::find(stack_.begin(), stack_.end(), id) != stack_.end()) {
      AddBoundedError(policy_.errors, {from ? from->file : path,
                                       from ? std::optional<int64_t>(from->line) : std::nullopt,
                                       "include loop: " + path + " is already being read"});
      return Status(StatusCode::kLoop, "include loop");
    }
    policy_.files.push_back({path, info, from, std::string(via)});
    stack_.push_back(id);
    ParseSudoersText(content->data, path, short_host_, policy_,
                     [&](const IncludeRequest& req) { Include(path, req, depth); });
    stack_.pop_back();
    return Status::Ok();
  }

 private:
  void Include(const std::string& from_path, const IncludeRequest& req, int depth) {
    SourceRef from{from_path, req.line};
    if (depth >= kMaxIncludeDepth) {
      AddBoundedError(policy_.errors,
                      {from_path, req.line, req.path + ": too many levels of includes"});
      return;
    }
    if (policy_.parse_stopped || policy_.files_read >= kMaxFiles) {
      LoadFile(req.path, from, req.is_dir ? "includedir" : "include", depth + 1);  // reports
      return;
    }
    if (!req.is_dir) {
      LoadFile(req.path, from, "include", depth + 1);
      return;
    }
    IncludeDirRecord rec;
    rec.path = req.path;
    rec.included_from = from;
    auto names = fs_.ListDir(req.path);
    if (!names.ok()) {
      // sudo silently ignores a missing include directory; anything else is reported.
      if (names.status().code() == StatusCode::kNotFound) {
        rec.status = "missing";
      } else {
        rec.status = "error";
        AddBoundedError(policy_.errors, {from_path, req.line,
                                         "cannot read include directory " + req.path + ": " +
                                             std::string(StatusCodeName(names.status().code()))});
      }
      policy_.includedirs.push_back(std::move(rec));
      return;
    }
    rec.status = "read";
    size_t index = policy_.includedirs.size();
    policy_.includedirs.push_back(rec);
    // toke.l read_dir_files(): skip names ending in '~' or containing '.', and anything that is
    // not a regular file (stat(2), so symlinks are followed); the rest in strcmp order.
    ++policy_.files_read;  // a directory read counts as a file against kMaxFiles
    size_t considered = 0;
    for (const auto& name : *names) {
      if (policy_.parse_stopped || policy_.files_read >= kMaxFiles) {
        LoadFile(JoinPath(req.path, name), from, "includedir", depth + 1);  // reports the cut
        break;
      }
      if (++considered > kMaxDirEntries) {
        AddBoundedError(policy_.errors,
                        {from_path, req.line,
                         "include directory " + req.path + " has more than " +
                             std::to_string(kMaxDirEntries) + " entries; the rest are not read"});
        break;
      }
      std::string path = JoinPath(req.path, name);
      if (name.empty() || name.back() == '~' || name.find('.') != std::string::npos) {
        Skip(index, name);
        continue;
      }
      auto st = fs_.Stat(path, true);
      if (!st.ok() || st->type != FileType::kRegular) {
        Skip(index, name);
        continue;
      }
      policy_.includedirs[index].files.push_back(path);
      LoadFile(path, from, "includedir", depth + 1);
    }
  }

  // Records a name an include directory skipped: at most kMaxFiles in all are listed.
  void Skip(size_t index, const std::string& name) {
    if (policy_.skipped_listed < kMaxFiles) {
      policy_.includedirs[index].skipped.push_back(name);
      ++policy_.skipped_listed;
    }
    ++policy_.skipped_total;
  }

  const Fs& fs_;
  std::string short_host_;
  Policy& policy_;
  std::vector<std::pair<uint64_t, uint64_t>> stack_;
  bool files_cut_ = false;
};

}  // namespace

Policy LoadSudoers(const Fs& fs, std::string_view main_path, std::string_view short_host,
                   Status* main_status) {
  Policy policy;
  Loader loader(fs, short_host, policy);
  Status st = loader.LoadFile(std::string(main_path), std::nullopt, "", 0);
  if (main_status != nullptr) *main_status = st;
  return policy;
}

}  // namespace tidemark::agent::sudoers
