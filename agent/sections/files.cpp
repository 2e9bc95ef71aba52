#include "agent/sections/files.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "agent/bounded_items.h"
#include "agent/file_meta.h"
#include "agent/parsers/shells.h"
#include "agent/user_files.h"
#include "common/compact_form.h"
#include "common/sha256.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

// Files larger than this are listed with their metadata but not hashed: the content is read
// into memory once, and the agent's peak memory must stay small. Configuration files are far
// smaller.
constexpr uint64_t kMaxHashBytes = 1u << 20;

// Bounds of the lists (docs/sections/files.md): a user may create any number of dot files in
// their home; the fixed system paths come first in `files`, so a flood never pushes them out.
constexpr size_t kMaxFiles = 20000;
constexpr size_t kMaxFilesBytes = 4u << 20;
constexpr size_t kMaxEntriesPerHome = 500;  // dot files and .ssh/* of one home
constexpr size_t kMaxTrustFiles = 5000;
constexpr size_t kMaxTrustBytes = 1u << 20;

// The trust files rlogin/rsh (.rhosts, .shosts: rhosts(5), hosts.equiv(5)), ftp/curl (.netrc:
// netrc(5)) and mail delivery (.forward) honour; tidemark reports each one found.
constexpr const char* kTrustNames[] = {".rhosts", ".shosts", ".netrc", ".forward"};
constexpr const char* kSystemTrustFiles[] = {"/etc/hosts.equiv", "/etc/ssh/shosts.equiv"};

struct Wanted {
  std::string path;
  std::string category;
  bool fixed = false;  // from the default list by name: a missing one is reported absent
  const PasswdEntry* user = nullptr;  // the home this path lies under, if any
};

bool HasWildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

bool IsUnder(std::string_view path, std::string_view dir) {
  if (dir.empty() || dir == "/") return false;
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> ExpandGlob(const Fs& fs, std::string_view pattern,
                                    std::vector<SectionError>* errors) {
  std::string norm = NormalizePath(pattern);
  if (!HasWildcard(norm)) return {norm};
  std::vector<std::string> current = {"/"};
  std::vector<std::string> parts = PathComponents(norm);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    bool last = i + 1 == parts.size();
    std::vector<std::string> next;
    for (const auto& dir : current) {
      if (!HasWildcard(part)) {
        next.push_back(JoinPath(dir, part));
        continue;
      }
      auto names = fs.ListDir(dir);
      if (!names.ok()) {
        // Missing or not a directory: nothing matches. Anything else is "could not look".
        StatusCode c = names.status().code();
        if (errors != nullptr && c != StatusCode::kNotFound && c != StatusCode::kWrongType &&
            c != StatusCode::kLoop) {
          errors->push_back(
              {dir, std::nullopt,
               "cannot list for " + std::string(pattern) + ": " + names.status().message()});
        }
        continue;
      }
      for (const auto& name : *names) {
        if (::fnmatch(part.c_str(), name.c_str(), 0) != 0) continue;
        std::string path = JoinPath(dir, name);
        if (!last) {
          auto st = fs.Stat(path, /*follow=*/false);
          if (!st.ok() || st->type != FileType::kDirectory) continue;
        }
        next.push_back(std::move(path));
      }
    }
    current = std::move(next);
    if (current.empty()) break;
  }
  if (HasWildcard(parts.empty() ? "" : parts.back())) {
    std::sort(current.begin(), current.end());
    return current;
  }
  // A literal last component after wildcards: keep only what exists.
  std::vector<std::string> out;
  for (auto& p : current) {
    if (fs.Stat(p, false).ok()) out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string_view NoHashReason(std::string_view path) {
  std::string name = BaseName(path);
  std::string dir = BaseName(DirName(path));
  // SSH host private keys (sshd(8) FILES: /etc/ssh/ssh_host_*_key), and any /etc/ssh/*_key
  // (a HostKey or a CA key named otherwise; ComplianceAsCode's sshd_private_key files).
  if (EndsWith(name, "_key") && (name.rfind("ssh_host_", 0) == 0 || DirName(path) == "/etc/ssh")) {
    return "private_key";
  }
  bool pub = EndsWith(name, ".pub");
  if (dir == ".ssh" && !pub) {
    static const char* const kPublic[] = {
        "authorized_keys", "authorized_keys2", "known_hosts", "known_hosts.old",
        "config",          "environment",      "rc"};
    bool known = std::any_of(std::begin(kPublic), std::end(kPublic),
                             [&](const char* n) { return name == n; });
    if (!known) return "private_key";  // id_rsa, id_ed25519 and any key named otherwise
  }
  if (!pub && (name.rfind("id_", 0) == 0 || EndsWith(name, ".key") || EndsWith(name, ".pem") ||
               EndsWith(name, ".p12") || EndsWith(name, ".pfx") || EndsWith(name, ".jks") ||
               EndsWith(name, ".keystore"))) {
    return "private_key";
  }
  // Low-entropy secrets (passwords, typed commands): a hash would be a guessing oracle.
  static const char* const kSecrets[] = {".netrc",
                                         ".pgpass",
                                         ".my.cnf",
                                         ".git-credentials",
                                         ".smbcredentials",
                                         ".bash_history",
                                         ".zsh_history",
                                         ".sh_history",
                                         ".history",
                                         ".mysql_history",
                                         ".psql_history",
                                         ".python_history",
                                         ".lesshst",
                                         ".viminfo",
                                         ".sqlite_history",
                                         ".node_repl_history",
                                         ".rediscli_history",
                                         ".dbshell"};
  for (const char* s : kSecrets) {
    if (name == s) return "may_hold_secrets";
  }
  return "";
}

namespace {

class FilesRun {
 public:
  FilesRun(CollectContext& ctx, Section& out)
      : ctx_(ctx), fs_(ctx.fs()), db_(ctx.accounts()), out_(out) {}

  void Run() {
    AddSystemPaths();
    AddHomes();
    AddExtraPatterns();
    for (const auto& e : glob_errors_) out_.AddError(e.path, e.line, e.message);
    WriteItems();
  }

 private:
  // The fixed paths and globs of every host: account databases, sudo, sshd, cron, PAM, login,
  // security, audit and the system's trust files.
  void AddSystemPaths() {
    AddFixed({"/etc/passwd", "/etc/passwd-", "/etc/shadow", "/etc/shadow-", "/etc/group",
              "/etc/group-", "/etc/gshadow", "/etc/gshadow-"},
             "account_db");
    AddFixed({"/etc/sudoers", "/etc/sudoers.d"}, "sudo");
    AddGlob("/etc/sudoers.d/*", "sudo");
    AddFixed({"/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d"}, "sshd");
    AddGlob("/etc/ssh/sshd_config.d/*", "sshd");
    AddGlob("/etc/ssh/ssh_host_*", "ssh_host_key");
    // Keys named otherwise (HostKey /etc/ssh/vendor_host_key, a CA's key and its .pub), as
    // ComplianceAsCode's sshd_private_key and sshd_pub_key rules find them.
    AddGlob("/etc/ssh/*_key", "ssh_host_key");
    AddGlob("/etc/ssh/*.pub", "ssh_host_key");
    AddFixed({"/etc/crontab"}, "cron");
    AddGlob("/etc/cron.*", "cron");
    AddGlob("/etc/cron.*/*", "cron");
    AddFixed({"/etc/pam.d"}, "pam");
    AddGlob("/etc/pam.d/*", "pam");
    AddFixed({"/etc/login.defs", "/etc/shells"}, "login");
    AddFixed({"/etc/security"}, "security");
    AddGlob("/etc/security/*", "security");
    AddGlob("/etc/security/*/*", "security");
    AddFixed({"/etc/audit/auditd.conf", "/etc/audit/audit.rules", "/etc/audit/rules.d"}, "audit");
    AddGlob("/etc/audit/rules.d/*", "audit");
    for (const char* p : kSystemTrustFiles) AddFixed({p}, "trust");
  }

  // Homes: root's and every login user's (a shell other than nologin/false, as the accounts
  // section decides), the home itself, its dot files and its .ssh, one level each.
  void AddHomes() {
    std::set<std::string> seen_users;
    for (const PasswdEntry& u : db_.users) {
      if (!seen_users.insert(u.name).second) continue;
      if (u.uid != 0 && IsNoLoginShell(EffectiveShell(u.shell))) continue;
      std::string home = NormalizePath(u.home.empty() ? "/" : u.home);
      if (home == "/") continue;  // never "/" as a home: that would be the whole root
      homes_.push_back(&u);
      Add(home, "home", true, &u);
      // .ssh first (a flood of dot files must not push it out), listed only when it is a real
      // directory: a user's link is described, not entered.
      std::vector<std::string> entries;
      auto ssh = fs_.Stat(JoinPath(home, ".ssh"), /*follow=*/false);
      if (ssh.ok() && ssh->type == FileType::kDirectory) {
        entries = ExpandGlob(fs_, JoinPath(home, ".ssh/*"), &glob_errors_);
      }
      for (auto& p : ExpandGlob(fs_, JoinPath(home, ".*"), &glob_errors_)) {
        entries.push_back(std::move(p));
      }
      home_entries_total_ += entries.size();
      if (entries.size() > kMaxEntriesPerHome) {
        out_.AddError(home, std::nullopt,
                      std::to_string(entries.size()) +
                          " dot files and .ssh entries in this home; only the first " +
                          std::to_string(kMaxEntriesPerHome) + " are listed");
        home_entries_cut_ = true;
        entries.resize(kMaxEntriesPerHome);
      }
      for (auto& p : entries) Add(p, "home", false, &u);
      for (const char* t : kTrustNames) trust_candidates_.push_back({JoinPath(home, t), &u});
    }
    if (!db_.passwd_status.ok()) {
      out_.AddError(std::string(kPasswdPath), std::nullopt,
                    "cannot read the user list; home directories are not listed: " +
                        db_.passwd_status.message());
    }
  }

  // --files-extra: extra in-root paths and globs.
  void AddExtraPatterns() {
    for (const auto& pattern : ctx_.options().files_extra) {
      std::string p = NormalizePath(pattern);
      if (HasWildcard(p)) {
        AddGlob(p, "extra");
      } else {
        Add(p, "extra", true, nullptr);
      }
    }
  }

  // Describes what was wanted (bounded lists) and writes the section.
  void WriteItems() {
    BoundedItems files(kMaxFiles, kMaxFilesBytes);
    for (const Wanted& w : wanted_) {
      if (files.total() >= kMaxFiles) {  // not even looked at: counted
        files.CountMore(1);
        continue;
      }
      json j = Describe(w);
      if (!j.is_null()) files.Add(std::move(j));
    }
    BoundedItems trust(kMaxTrustFiles, kMaxTrustBytes);
    for (const char* p : kSystemTrustFiles) TrustItem(p, nullptr, trust);
    for (const auto& [path, user] : trust_candidates_) TrustItem(path, user, trust);

    std::vector<std::string> extra;
    for (const auto& p : ctx_.options().files_extra) extra.push_back(HostName(p));
    out_.data["extra_patterns"] = extra;
    out_.data["max_hash_bytes"] = kMaxHashBytes;
    out_.data["limits"] = {{"max_files", kMaxFiles},
                           {"max_files_bytes", kMaxFilesBytes},
                           {"max_entries_per_home", kMaxEntriesPerHome},
                           {"max_trust_files", kMaxTrustFiles},
                           {"max_trust_bytes", kMaxTrustBytes}};
    ItemArray file_items = files.Take();
    ItemArray trust_items = trust.Take();
    out_.data["counts"] = {{"files", files.total()}, {"trust_files", trust.total()}};
    files.Report(out_, "files");
    trust.Report(out_, "trust_files");
    if (home_entries_cut_) {
      out_.NoteTruncated("home_entries", kMaxEntriesPerHome, home_entries_total_);
    }
    out_.items["files"] = std::move(file_items);
    out_.items["trust_files"] = std::move(trust_items);
    EscapeErrorNames(out_);
  }

  void Add(const std::string& path, const std::string& category, bool fixed,
           const PasswdEntry* user) {
    if (!index_.emplace(path, wanted_.size()).second) return;
    wanted_.push_back({path, category, fixed, user});
  }
  void AddFixed(std::initializer_list<const char*> paths, const std::string& category) {
    for (const char* p : paths) Add(p, category, true, nullptr);
  }
  void AddGlob(const std::string& pattern, const std::string& category) {
    for (auto& p : ExpandGlob(fs_, pattern, &glob_errors_)) Add(p, category, false, nullptr);
  }

  // The passwd user whose home `path` lies under (content there is user-controlled).
  const PasswdEntry* HomeOwner(const std::string& path, const PasswdEntry* hint) const {
    if (hint) return hint;
    for (const PasswdEntry& u : db_.users) {
      if (IsUnder(path, NormalizePath(u.home))) return &u;
    }
    return nullptr;
  }

  json OwnerFields(json j, const FileInfo& info) const {
    j["type"] = FileTypeName(info.type);
    j["mode"] = ModeOctal(info.mode);
    j["uid"] = info.uid;
    j["owner"] = UserNameJson(db_.FindUserById(info.uid));
    j["gid"] = info.gid;
    const GroupEntry* g = db_.FindGroupById(info.gid);
    j["group"] = g ? json(HostName(g->name)) : json(nullptr);
    j["size"] = info.size;
    j["mtime"] = info.mtime;
    return j;
  }

  // Returns null for a globbed path that vanished (nothing to report).
  json Describe(const Wanted& w) {
    // `path` is not repeated: the id is "file:PATH" (compact form, rule 5).
    // A name that is not UTF-8 also has `path_b64` (docs/snapshot.md).
    json j = {{"id", "file:" + HostName(w.path)}, {"category", w.category}};
    if (!IsValidUtf8(w.path)) j["path_b64"] = Base64Encode(w.path);
    const PasswdEntry* home_user = w.category == "home" ? w.user : HomeOwner(w.path, nullptr);
    j["user"] = UserNameJson(home_user);
    auto st = fs_.Stat(w.path, /*follow=*/false);
    if (!st.ok()) {
      bool absent = st.status().code() == StatusCode::kNotFound;
      if (absent && !w.fixed) return nullptr;
      j["state"] = absent ? "absent" : "error";
      if (!absent) j["reason"] = HostName(st.status().message());
      if (!absent) out_.AddError(w.path, std::nullopt, st.status().message());
      // Compact: null metadata omitted; the item is its own source ({file: path}).
      OmitDefaults(j);
      return j;
    }
    j["state"] = "present";
    j = OwnerFields(std::move(j), *st);
    if (st->type == FileType::kSymlink) {
      auto target = fs_.ReadLink(w.path);
      if (target.ok()) SetHostName(j, "link_target", *target);
    }
    std::string hash_state;
    std::optional<std::string> sha;
    if (st->type != FileType::kRegular) {
      hash_state = "not_regular";
    } else if (std::string_view r = NoHashReason(w.path); !r.empty()) {
      hash_state = std::string(r);
    } else if (st->size > kMaxHashBytes) {
      hash_state = "too_large";
    } else if (home_user != nullptr) {
      sha = HashAsOwner(w.path, *home_user, *st, hash_state);
    } else {
      ReadOptions options;
      options.max_bytes = kMaxHashBytes;
      auto content = fs_.ReadFile(w.path, options);
      if (!content.ok()) {
        hash_state = content.status().code() == StatusCode::kTooLarge ? "too_large" : "error";
        if (hash_state == "error") out_.AddError(w.path, std::nullopt, content.status().message());
      } else if (content->info.dev != st->dev || content->info.ino != st->ino) {
        hash_state = "changed";
      } else {
        sha = Hash(content->data, hash_state);
      }
    }
    if (sha) j["sha256"] = *sha;
    j["hash_state"] = sha ? "hashed" : hash_state;
    // Compact (docs/sections/files.md): nulls, state "present" and hash_state "hashed" omitted;
    // the item is its own source ({file: path}).
    OmitDefaults(j, CompactKind::kFile);
    return j;
  }

  // Private keys slip past any name rule: drop the hash of content that is one.
  static std::optional<std::string> Hash(const std::string& data, std::string& state) {
    if (data.find("PRIVATE KEY-----") != std::string::npos) {
      state = "private_key";
      return std::nullopt;
    }
    return Sha256Hex(data);
  }

  // Content under a home is read only as its owner could (agent/user_files.h), from the home's
  // physical path, and only when no symlink lies on the way: a user's link to /etc/shadow is
  // described (lstat) but never hashed.
  std::optional<std::string> HashAsOwner(const std::string& path, const PasswdEntry& u,
                                         const FileInfo& lstat_info, std::string& state) {
    FileOwner owner{u.name, u.uid, db_.GroupIdsOf(u), NormalizePath(u.home)};
    Resolution home = ResolveAsOwner(fs_, owner.home, nullptr);
    std::string physical = path;
    if (home.status.ok() && IsUnder(path, owner.home)) {
      physical = home.resolved + path.substr(owner.home.size());
    }
    UserFileOptions options;
    options.max_bytes = kMaxHashBytes;
    UserFile f = ReadAsOwner(fs_, physical, owner, options);
    if (f.via_symlink) {
      state = "symlink_in_path";
      return std::nullopt;
    }
    switch (f.state) {
      case UserFileState::kPresent:
        break;
      case UserFileState::kUnreadableByOwner:
        state = "unreadable_by_owner";
        return std::nullopt;
      case UserFileState::kAbsent:
        state = "changed";
        return std::nullopt;
      default:
        state = f.error_code == StatusCode::kTooLarge ? "too_large" : "error";
        if (state == "error") out_.AddError(path, std::nullopt, f.reason);
        return std::nullopt;
    }
    if (!f.info || f.info->dev != lstat_info.dev || f.info->ino != lstat_info.ino) {
      state = "changed";
      return std::nullopt;
    }
    return Hash(f.data, state);
  }

  void TrustItem(const std::string& path, const PasswdEntry* user, BoundedItems& out) {
    auto st = fs_.Stat(path, /*follow=*/false);
    if (!st.ok()) {
      if (st.status().code() != StatusCode::kNotFound &&
          st.status().code() != StatusCode::kWrongType) {
        out_.AddError(path, std::nullopt, st.status().message());
      }
      return;
    }
    json j = {{"id", "trust_file:" + HostName(path)}};
    SetHostName(j, "path", path);
    j["name"] = BaseName(path);
    j["user"] = UserNameJson(user);
    j = OwnerFields(std::move(j), *st);
    OmitDefaults(j);  // the item is its own source ({file: path})
    out.Add(std::move(j));
  }

  CollectContext& ctx_;
  const Fs& fs_;
  const AccountDb& db_;
  Section& out_;
  std::vector<Wanted> wanted_;
  std::map<std::string, size_t> index_;
  std::vector<const PasswdEntry*> homes_;
  std::vector<std::pair<std::string, const PasswdEntry*>> trust_candidates_;
  std::vector<SectionError> glob_errors_;
  size_t home_entries_total_ = 0;
  bool home_entries_cut_ = false;
};

}  // namespace

void FilesReader::Collect(CollectContext& ctx, Section& out) { FilesRun(ctx, out).Run(); }

}  // namespace tidemark::agent
