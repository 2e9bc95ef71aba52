#include "agent/sections/ssh_keys.h"

#include <cstdio>
#include <map>
#include <set>

#include "agent/bounded_items.h"
#include "agent/file_meta.h"
#include "agent/parsers/authorized_keys.h"
#include "agent/user_files.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

// Per file, at most this many line errors are recorded; the rest are counted.
constexpr size_t kMaxLineErrorsPerFile = 20;
// Bounds of the key list (docs/sections/ssh_keys.md): a user writes their own authorized_keys
// (up to 1 MiB each, ~13,000 keys). Per user, so that one user cannot crowd out the others;
// in total, so that the snapshot stays deliverable.
constexpr size_t kMaxKeysPerUser = 1000;
constexpr size_t kMaxKeys = 20000;
constexpr size_t kMaxKeysBytes = 4u << 20;

bool IsNone(std::string_view s) {
  if (s.size() != 4) return false;
  for (size_t i = 0; i < 4; ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != "none"[i]) return false;
  }
  return true;
}

// Would sshd possibly have read keys from this file that we could not? (Then the user's key set
// is incomplete.) Not for failures sshd shares: missing, not regular, loops, ENOTDIR.
bool MayHideKeys(const UserFile& f) {
  if (f.state != UserFileState::kError) return false;
  switch (f.error_code) {
    case StatusCode::kNotFound:
    case StatusCode::kWrongType:
    case StatusCode::kLoop:
      return false;
    default:
      return true;
  }
}

json FileJson(const UserFile& f, const std::string& user, const AccountDb& db) {
  json j;
  // `path` is not repeated: the id is "ssh_key_file:USER:PATH" (a user name has no ':').
  j["id"] = "ssh_key_file:" + HostName(user) + ":" + HostName(f.path);
  if (!IsValidUtf8(f.path)) j["path_b64"] = Base64Encode(f.path);
  if (f.resolved_path.empty()) {
    j["resolved_path"] = nullptr;
  } else {
    SetHostName(j, "resolved_path", f.resolved_path);
  }
  j["via_symlink"] = f.via_symlink;
  j["state"] = UserFileStateName(f.state);
  j["reason"] = f.state == UserFileState::kPresent ? json(nullptr) : json(HostName(f.reason));
  AddFileMeta(j, f.info, db);
  j["size"] = f.info ? json(f.info->size) : json(nullptr);
  j["key_count"] = nullptr;
  std::set<std::string> flags;
  if (f.via_symlink) flags.insert("symlink");
  if (f.info) {
    json problems = json::array();
    for (const auto& p : f.strict_modes) {
      json jp = {{"problem", p.problem}};
      SetHostName(jp, "path", p.path);
      problems.push_back(std::move(jp));
      bool on_file = p.path == f.resolved_path;
      if (p.problem == "group_writable" || p.problem == "world_writable" ||
          p.problem == "foreign_owner") {
        flags.insert(on_file ? p.problem : "dir_" + p.problem);
      }
    }
    j["strict_modes"] = {{"ok", f.strict_modes.empty()}, {"problems", std::move(problems)}};
  } else {
    j["strict_modes"] = nullptr;
  }
  j["flags"] = flags;
  return j;  // compacted by the caller once complete; its own source ({file: path})
}

json CertificateJson(const authorized_keys::CertificateInfo& c) {
  return {{"cert_type", c.cert_type},
          {"serial", c.serial},
          {"key_id", c.key_id},
          {"principals", c.principals},
          {"valid_after", c.valid_after},
          {"valid_before", c.valid_before},
          {"critical_options", c.critical_options},
          {"extensions", c.extensions},
          {"ca_type", c.ca_type},
          {"ca_fingerprint", c.ca_fingerprint},
          {"signature_verified", false}};
}

}  // namespace

StatusOr<std::vector<std::string>> ExpandAuthorizedKeysFiles(
    const std::vector<std::string>& patterns, const PasswdEntry& user) {
  std::vector<std::string> out;
  for (const auto& pattern : patterns) {
    if (IsNone(pattern)) continue;
    std::string file;
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '%') {
        file += pattern[i];
        continue;
      }
      if (i + 1 >= pattern.size()) {
        return Status(StatusCode::kInvalidArgument,
                      "AuthorizedKeysFile pattern ends in a lone '%' (sshd: invalid format)");
      }
      char token = pattern[++i];
      switch (token) {
        case '%':
          file += '%';
          break;
        case 'h':
          file += user.home;
          break;
        case 'u':
          file += user.name;
          break;
        case 'U':
          file += std::to_string(user.uid);
          break;
        default:
          return Status(StatusCode::kInvalidArgument,
                        std::string("AuthorizedKeysFile has an unknown token %") + token +
                            " (sshd accepts %%, %h, %u, %U)");
      }
    }
    if (file.empty() || file.front() != '/') file = JoinPath(user.home, file);
    if (file.front() != '/') file = "/" + file;  // a relative home: sshd runs from "/"
    out.push_back(std::move(file));
  }
  return out;
}

namespace {

// The user's home as sshd's StrictModes walk sees it: home_state and home_reason in `ju`; an
// error other than absent, not a directory or a loop is the section's.
Resolution CheckHome(const Fs& fs, const FileOwner& owner, json& ju, Section& out) {
  Resolution home = ResolveAsOwner(fs, owner.home, nullptr);
  if (home.status.ok() && home.info->type == FileType::kDirectory) {
    ju["home_state"] = "present";
    ju["home_reason"] = nullptr;
    return home;
  }
  bool absent = home.status.code() == StatusCode::kNotFound;
  ju["home_state"] = absent ? "absent" : "error";
  ju["home_reason"] = HostName(
      home.status.ok()
          ? owner.home + " is a " + std::string(FileTypeName(home.info->type)) + ", not a directory"
          : home.status.message());
  StatusCode c = home.status.code();
  if (!home.status.ok() && c != StatusCode::kNotFound && c != StatusCode::kWrongType &&
      c != StatusCode::kLoop) {
    out.AddError(owner.home, std::nullopt,
                 "home directory of " + owner.name + ": " + home.status.message());
  }
  return home;
}

// The keys of one authorized_keys file that could be read: its items into `keys` (at most
// kMaxKeysPerUser of the user's, counted in `user_keys`), its line errors into `out`, its
// counts and flags into `jf`. Returns true when lines too long to parse may hide keys.
bool AddKeysOfFile(const std::string& path, const std::string& data, const std::string& user,
                   json& jf, BoundedItems& keys, size_t& user_keys, Section& out) {
  authorized_keys::ParsedFile parsed = authorized_keys::ParseFile(data);
  std::map<std::string, int> occurrences;  // same key twice in one file
  for (const auto& k : parsed.keys) {
    // A certificate shares its fingerprint with its plain key; keep their ids apart.
    std::string id = "ssh_key:" + user + ":" + k.key.fingerprint +
                     (k.key.certificate ? "/cert" : "") + ":" + path;
    int n = ++occurrences[id];
    if (n > 1) id += "#" + std::to_string(n);
    if (++user_keys > kMaxKeysPerUser) {
      keys.CountMore(1);
      continue;
    }
    json jk = {{"id", HostName(id)}, {"line", k.line}};
    SetHostName(jk, "user", user);
    SetHostName(jk, "file", path);
    jk.update(json{{"type", k.key.type},
                   {"bits", k.key.bits},
                   {"fingerprint", k.key.fingerprint},
                   {"comment", k.comment},
                   {"options", k.options},
                   {"source", {{"file", HostName(path)}, {"line", k.line}}}});
    if (k.key.certificate) jk["certificate"] = CertificateJson(*k.key.certificate);
    keys.Add(std::move(jk));
  }
  size_t recorded = 0;
  bool hidden = false;
  for (const auto& e : parsed.errors) {
    hidden = hidden || e.not_parsed;
    if (recorded++ < kMaxLineErrorsPerFile) out.AddError(path, e.line, e.message);
  }
  if (parsed.errors.size() > kMaxLineErrorsPerFile) {
    out.AddError(path, std::nullopt,
                 std::to_string(parsed.errors.size() - kMaxLineErrorsPerFile) +
                     " more line errors not listed");
  }
  jf["key_count"] = parsed.keys.size();
  jf["line_errors"] = parsed.errors.size();
  if (parsed.private_key_material) {
    auto flags = jf["flags"].get<std::set<std::string>>();
    flags.insert("private_key");
    jf["flags"] = flags;
  }
  return hidden;
}

}  // namespace

SshKeysReader::SshKeysReader()
    : settings_([](const PasswdEntry&) { return AuthorizedKeysSettings{}; }) {}

SshKeysReader::SshKeysReader(AuthorizedKeysSettingsFn settings) : settings_(std::move(settings)) {}

SshKeysReader::SshKeysReader(SshKeysSettingsFactory factory) : factory_(std::move(factory)) {}

void SshKeysReader::Collect(CollectContext& ctx, Section& out) {
  // Every user's files are resolved from "/" component by component, each home several times.
  StatMemoFs memo(ctx.fs());
  const Fs& fs = memo;
  const AccountDb& db = ctx.accounts();
  const AuthorizedKeysSettingsFn settings_of = factory_.make ? factory_.make(ctx) : settings_;
  ItemArray users;
  BoundedItems keys(kMaxKeys, kMaxKeysBytes);
  size_t users_cut = 0, keys_of_cut_users = 0;
  if (!db.passwd_status.ok()) {
    out.AddError(std::string(kPasswdPath), std::nullopt,
                 "cannot read the user list: " + db.passwd_status.message());
    out.status = SectionStatus::kError;
    out.items["users"] = std::move(users);
    out.items["keys"] = keys.Take();
    EscapeErrorNames(out);
    return;
  }
  std::set<std::string> seen;
  for (const PasswdEntry& u : db.users) {
    if (!seen.insert(u.name).second) continue;  // getpwnam() finds the first entry only
    FileOwner owner{u.name, u.uid, db.GroupIdsOf(u), u.home};
    if (owner.home.empty() || owner.home.front() != '/') owner.home = "/" + owner.home;

    json ju;
    ju["id"] = "ssh_keys_user:" + HostName(u.name);
    SetHostName(ju, "user", u.name);
    ju["uid"] = u.uid;
    SetHostName(ju, "home", u.home);
    size_t user_keys = 0;
    Resolution home = CheckHome(fs, owner, ju, out);

    AuthorizedKeysSettings settings = settings_of(u);
    ju["authorized_keys_file"] = settings.files;
    std::vector<std::string> reasons = settings.incomplete_reasons;
    if (settings.command && !IsNone(*settings.command)) {
      reasons.push_back("AuthorizedKeysCommand " + *settings.command +
                        " may supply further keys at login; it is not run by the agent");
    }
    json files = json::array();
    auto paths = ExpandAuthorizedKeysFiles(settings.files, u);
    if (!paths.ok()) {
      out.AddError("", std::nullopt, "user " + u.name + ": " + paths.status().message());
      reasons.push_back(paths.status().message());
    } else {
      bool home_absent = home.status.code() == StatusCode::kNotFound;
      for (const std::string& path : *paths) {
        UserFile f;
        if (home_absent && path.size() > owner.home.size() && path.rfind(owner.home, 0) == 0 &&
            (owner.home == "/" || path[owner.home.size()] == '/')) {
          // Under a home that does not exist: the walk would stop at the same missing
          // component. Saves 10,000 path walks on a host with 10,000 users without homes.
          f.path = path;
          f.state = UserFileState::kAbsent;
          f.reason = home.status.message();
        } else {
          f = ReadAsOwner(fs, path, owner);
        }
        json jf = FileJson(f, u.name, db);
        if (f.state == UserFileState::kError) out.AddError(path, std::nullopt, f.reason);
        if (MayHideKeys(f)) reasons.push_back(path + ": " + f.reason);
        if (f.state == UserFileState::kPresent &&
            AddKeysOfFile(path, f.data, u.name, jf, keys, user_keys, out)) {
          reasons.push_back(path + ": has lines too long to parse");
        }
        // Compact (docs/sections/ssh_keys.md): nulls, no flags, via_symlink false omitted.
        OmitDefaults(jf, CompactKind::kKeysFile);
        files.push_back(std::move(jf));
      }
    }
    ju["files"] = std::move(files);
    if (user_keys > kMaxKeysPerUser) {
      ++users_cut;
      keys_of_cut_users += user_keys;
      out.AddError(owner.home, std::nullopt,
                   "user " + u.name + " has " + std::to_string(user_keys) +
                       " authorized keys; only the first " + std::to_string(kMaxKeysPerUser) +
                       " are listed");
    }
    ju["incomplete"] = !reasons.empty();
    std::string reason;
    for (const auto& r : reasons) reason += (reason.empty() ? "" : "; ") + r;
    ju["incomplete_reason"] = reasons.empty() ? json(nullptr) : json(HostName(reason));
    ju["source"] = {{"line", u.line}};  // the section's default file: /etc/passwd
    OmitDefaults(ju, CompactKind::kKeysUser);
    users.push_back(std::move(ju));
  }
  ItemArray key_items = keys.Take();
  out.data["limits"] = {{"max_keys_per_user", kMaxKeysPerUser},
                        {"max_keys", kMaxKeys},
                        {"max_keys_bytes", kMaxKeysBytes}};
  out.data["counts"] = {{"users", users.size()}, {"keys", keys.total()}};
  keys.Report(out, "keys");
  if (users_cut > 0) out.NoteTruncated("keys_per_user", kMaxKeysPerUser, keys_of_cut_users);
  out.items["users"] = std::move(users);
  out.items["keys"] = std::move(key_items);
  EscapeErrorNames(out);
}

}  // namespace tidemark::agent
