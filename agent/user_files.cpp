#include "agent/user_files.h"

#include <algorithm>
#include <deque>

namespace tidemark::agent {
namespace {

std::deque<std::string> SplitComponents(std::string_view path) {
  std::vector<std::string> parts = PathComponents(path);
  return {std::make_move_iterator(parts.begin()), std::make_move_iterator(parts.end())};
}

std::string JoinComponents(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string out;
  for (const auto& p : parts) {
    out += '/';
    out += p;
  }
  return out;
}

// The permission class bits that apply to `owner` (Linux generic_permission without ACLs).
uint32_t ClassBits(const FileInfo& info, const FileOwner& owner) {
  if (info.uid == owner.uid) return (info.mode >> 6) & 7;
  if (std::find(owner.gids.begin(), owner.gids.end(), info.gid) != owner.gids.end()) {
    return (info.mode >> 3) & 7;
  }
  return info.mode & 7;
}

Status OwnerDenied(std::string message) {
  return Status(StatusCode::kPermissionDenied, std::move(message));
}

void AddModeProblems(std::string_view path, const FileInfo& info, const FileOwner& owner,
                     std::vector<StrictModesProblem>& out) {
  if (info.uid != 0 && info.uid != owner.uid) out.push_back({std::string(path), "foreign_owner"});
  if ((info.mode & 020) != 0) out.push_back({std::string(path), "group_writable"});
  if ((info.mode & 002) != 0) out.push_back({std::string(path), "world_writable"});
}

}  // namespace

std::string_view UserFileStateName(UserFileState state) {
  switch (state) {
    case UserFileState::kPresent:
      return "present";
    case UserFileState::kAbsent:
      return "absent";
    case UserFileState::kUnreadableByOwner:
      return "unreadable_by_owner";
    case UserFileState::kUnsafeSymlink:
      return "unsafe_symlink";
    case UserFileState::kError:
      return "error";
  }
  return "error";
}

bool OwnerMayRead(const FileInfo& info, const FileOwner& owner) {
  return owner.uid == 0 || (ClassBits(info, owner) & 4) != 0;
}

bool OwnerMaySearch(const FileInfo& info, const FileOwner& owner) {
  // CAP_DAC_READ_SEARCH lets uid 0 search any directory.
  return owner.uid == 0 || (ClassBits(info, owner) & 1) != 0;
}

StatusOr<FileInfo> StatMemoFs::Stat(std::string_view path, bool follow) const {
  std::string key;
  key.reserve(path.size() + 1);
  key += follow ? 'f' : 'l';
  key += path;
  if (auto it = answers_.find(key); it != answers_.end()) return it->second;
  if (answers_.size() >= kMaxEntries) answers_.clear();
  ++forwarded_;
  StatusOr<FileInfo> answer = fs_.Stat(path, follow);
  answers_.emplace(std::move(key), answer);
  return answer;
}

Resolution ResolveAsOwner(const Fs& fs, std::string_view path, const FileOwner* owner) {
  Resolution res;
  if (path.empty() || path.front() != '/') {
    res.status = Status(StatusCode::kInvalidArgument, "not an absolute path: " + std::string(path));
    return res;
  }
  std::deque<std::string> pending = SplitComponents(path);
  std::vector<std::string> stack;   // resolved components of the current directory
  std::optional<FileInfo> current;  // metadata of JoinComponents(stack)
  int hops = 0;
  while (!pending.empty()) {
    std::string name = std::move(pending.front());
    pending.pop_front();
    std::string dir = JoinComponents(stack);
    if (!current) {
      auto st = fs.Stat(dir, /*follow=*/false);
      if (!st.ok()) {
        res.status = st.status();
        return res;
      }
      current = *st;
    }
    // Every lookup, "." and ".." included, needs a directory the walker may search.
    if (current->type != FileType::kDirectory) {
      res.status = Status(StatusCode::kWrongType, dir + ": a path component is not a directory");
      return res;
    }
    if (owner != nullptr && !OwnerMaySearch(*current, *owner)) {
      res.status = OwnerDenied("user " + owner->name + " may not search " + dir);
      res.owner_denied = true;
      return res;
    }
    if (name == ".") continue;
    if (name == "..") {
      if (!stack.empty()) stack.pop_back();  // ".." of the root is the root
      current.reset();
      continue;
    }
    std::string candidate = JoinPath(dir, name);
    auto st = fs.Stat(candidate, /*follow=*/false);
    if (!st.ok()) {
      res.status = st.status();
      return res;
    }
    if (st->type == FileType::kSymlink) {
      if (++hops > kMaxSymlinkHops) {
        res.status = Status(StatusCode::kLoop, std::string(path) + ": more than " +
                                                   std::to_string(kMaxSymlinkHops) + " symlinks");
        return res;
      }
      // fs.protected_symlinks=1 (the Debian default): in a sticky world-writable directory a
      // link is followed only by its owner or when it belongs to the directory's owner.
      if (owner != nullptr && (current->mode & 01000) != 0 && (current->mode & 0002) != 0 &&
          st->uid != owner->uid && st->uid != current->uid) {
        res.status = OwnerDenied(candidate +
                                 ": symlink in a sticky world-writable directory, not "
                                 "followed (fs.protected_symlinks)");
        res.owner_denied = true;
        return res;
      }
      auto target = fs.ReadLink(candidate);
      if (!target.ok()) {
        res.status = target.status();
        return res;
      }
      if (target->empty()) {
        res.status = Status(StatusCode::kNotFound, candidate + ": empty symlink");
        return res;
      }
      std::deque<std::string> parts = SplitComponents(*target);
      pending.insert(pending.begin(), parts.begin(), parts.end());
      if (target->front() == '/') {
        stack.clear();  // re-rooted: "/" is the audited root
        current.reset();
      }
      res.via_symlink = true;
      continue;
    }
    stack.push_back(std::move(name));
    current = *st;
  }
  if (!current) {
    auto st = fs.Stat(JoinComponents(stack), /*follow=*/false);
    if (!st.ok()) {
      res.status = st.status();
      return res;
    }
    current = *st;
  }
  res.resolved = JoinComponents(stack);
  res.info = current;
  return res;
}

std::vector<StrictModesProblem> JudgeStrictModes(const Fs& fs, std::string_view resolved,
                                                 const FileInfo& info, const FileOwner& owner,
                                                 std::string_view resolved_home) {
  std::vector<StrictModesProblem> out;
  if (info.type != FileType::kRegular) out.push_back({std::string(resolved), "not_regular_file"});
  AddModeProblems(resolved, info, owner, out);
  std::string dir(resolved);
  while (dir != "/") {
    dir = DirName(dir);
    auto st = fs.Stat(dir, /*follow=*/true);
    if (!st.ok()) {
      out.push_back({dir, "stat_failed"});
    } else {
      AddModeProblems(dir, *st, owner, out);
    }
    if (!resolved_home.empty() && dir == resolved_home) break;
  }
  return out;
}

UserFile ReadAsOwner(const Fs& fs, std::string_view path, const FileOwner& owner,
                     const UserFileOptions& options) {
  UserFile out;
  out.path = std::string(path);
  Resolution home = ResolveAsOwner(fs, owner.home, &owner);
  std::string resolved_home;
  if (home.status.ok() && home.info && home.info->type == FileType::kDirectory) {
    resolved_home = home.resolved;
  }

  Resolution r = ResolveAsOwner(fs, path, &owner);
  out.via_symlink = r.via_symlink;
  if (!r.status.ok()) {
    out.reason = r.status.message();
    if (r.owner_denied) {
      out.state = UserFileState::kUnreadableByOwner;
    } else if (r.status.code() == StatusCode::kNotFound) {
      out.state = UserFileState::kAbsent;
    } else {
      out.state = UserFileState::kError;
      out.error_code = r.status.code();
    }
    return out;
  }
  out.resolved_path = r.resolved;
  out.info = r.info;
  const FileInfo& info = *r.info;
  out.strict_modes = JudgeStrictModes(fs, r.resolved, info, owner, resolved_home);
  if (info.type != FileType::kRegular) {
    out.state = UserFileState::kError;
    out.error_code = StatusCode::kWrongType;
    out.reason = r.resolved + ": is a " + std::string(FileTypeName(info.type)) +
                 ", not a regular file (sshd refuses it)";
    return out;
  }
  if (!OwnerMayRead(info, owner)) {
    out.state = UserFileState::kUnreadableByOwner;
    out.reason = "user " + owner.name + " may not read " + r.resolved;
    return out;
  }
  if (r.via_symlink && !out.strict_modes.empty()) {
    out.state = UserFileState::kUnsafeSymlink;
    out.reason =
        "reached through a symlink to " + r.resolved + ", which StrictModes rejects; not followed";
    return out;
  }
  if (info.size > options.max_bytes) {
    out.state = UserFileState::kError;
    out.error_code = StatusCode::kTooLarge;
    out.reason = r.resolved + ": " + std::to_string(info.size) + " bytes, over the limit of " +
                 std::to_string(options.max_bytes);
    return out;
  }
  ReadOptions read_options;
  read_options.max_bytes = options.max_bytes;
  read_options.no_symlinks = true;
  auto content = fs.ReadFile(r.resolved, read_options);
  if (!content.ok()) {
    out.state = UserFileState::kError;
    out.error_code = content.status().code();
    out.reason = content.status().message();
    return out;
  }
  if (content->info.dev != info.dev || content->info.ino != info.ino) {
    out.state = UserFileState::kError;
    out.error_code = StatusCode::kIoError;
    out.reason = r.resolved + ": changed during the check (device/inode differ); not used";
    return out;
  }
  out.state = UserFileState::kPresent;
  out.info = content->info;
  out.data = std::move(content->data);
  return out;
}

}  // namespace tidemark::agent
