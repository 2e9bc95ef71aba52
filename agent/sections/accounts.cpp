#include "agent/sections/accounts.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "agent/file_meta.h"
#include "agent/parsers/nsswitch.h"
#include "agent/parsers/shadow.h"
#include "agent/parsers/shells.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

// Per file, at most this many line errors are kept; the rest are counted (binary garbage would
// otherwise make one error per line).
constexpr size_t kMaxErrorsPerFile = 50;

class ErrorSink {
 public:
  explicit ErrorSink(Section& out) : out_(out) {}
  ~ErrorSink() {
    for (const auto& [path, count] : counts_) {
      if (count > kMaxErrorsPerFile) {
        out_.AddError(
            path, std::nullopt,
            std::to_string(count - kMaxErrorsPerFile) + " more errors in this file are not listed");
      }
    }
  }
  void Add(const SectionError& e) {
    if (++counts_[e.path] <= kMaxErrorsPerFile) out_.errors.push_back(e);
  }
  void Add(std::string_view path, std::optional<int64_t> line, std::string message) {
    Add(SectionError{std::string(path), line, std::move(message)});
  }
  void AddAll(const std::vector<SectionError>& errors) {
    for (const auto& e : errors) Add(e);
  }

 private:
  Section& out_;
  std::map<std::string, size_t> counts_;
};

// An input file that may legitimately be absent.
struct OptionalFile {
  bool present = false;
  bool readable = false;
  std::string data;
  std::optional<FileInfo> info;  // from the read, else from stat(2) when that works
};

OptionalFile ReadOptional(const Fs& fs, std::string_view path, ErrorSink& errors) {
  OptionalFile f;
  auto r = fs.ReadFile(path);
  if (r.ok()) {
    f.present = f.readable = true;
    f.info = r->info;
    f.data = std::move(r->data);
    return f;
  }
  if (r.status().code() == StatusCode::kNotFound) return f;
  f.present = true;
  errors.Add(path, std::nullopt, "cannot read: " + r.status().message());
  auto st = fs.Stat(path, true);
  if (st.ok()) f.info = *st;
  return f;
}

json Source(std::string_view file, int64_t line) { return {{"file", file}, {"line", line}}; }
// Compact sources (docs/sections/accounts.md): the file is the array's default file.
json LineOnly(int64_t line) { return {{"line", line}}; }
// A password's default file is /etc/shadow; one from /etc/passwd names its file.
json ShadowSource(int64_t line) { return LineOnly(line); }

json OptNum(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// Returns "user:NAME", with "#N" for the N-th (N > 1) entry of a repeated name.
std::string NumberedId(std::string_view kind, const std::string& name,
                       std::map<std::string, int>& seen) {
  int n = ++seen[name];
  std::string id = std::string(kind) + ":" + name;
  if (n > 1) id += "#" + std::to_string(n);
  return id;
}

// User and group names, homes and shells in their lossless escaped form (docs/snapshot.md,
// "Names that are not UTF-8"); `name_b64` carries the bytes of a name that is not UTF-8.
std::vector<std::string> HostNames(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(HostName(n));
  return out;
}

bool Contains(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// Names that may be shown from a secret file: names of known accounts, or name-like text.
json ShowableNames(const std::set<std::string>& names) {
  json out = json::array();
  for (const auto& n : names) {
    if (LooksLikeAccountName(n)) out.push_back(n);
  }
  return out;
}

struct SecretIndex {
  std::map<std::string, size_t> first;  // name -> index of its first well-formed entry
  std::set<std::string> duplicates;
  std::map<std::string, int64_t> skipped;  // known name -> first malformed line holding it
};

template <typename Entry>
SecretIndex IndexSecret(const SecretFile<Entry>& file) {
  SecretIndex idx;
  for (size_t i = 0; i < file.entries.size(); ++i) {
    if (!idx.first.emplace(file.entries[i].name, i).second) {
      idx.duplicates.insert(file.entries[i].name);
    }
  }
  for (const auto& s : file.skipped) {
    if (!s.known_name.empty()) idx.skipped.emplace(s.known_name, s.line);
  }
  return idx;
}

class Builder {
 public:
  Builder(CollectContext& ctx, Section& out)
      : ctx_(ctx), fs_(ctx.fs()), db_(ctx.accounts()), out_(out), errors_(out) {}

  void Run() {
    errors_.AddAll(db_.errors);
    passwd_ok_ = db_.passwd_status.ok();
    group_ok_ = db_.group_status.ok();
    ReadShells();
    ReadShadow();
    ReadGshadow();
    out_.items["users"] = Users();
    out_.items["groups"] = Groups();
    out_.data["shadow"] = ShadowSummary();
    out_.data["gshadow"] = GshadowSummary();
    out_.data["shells"] = ShellsSummary();
    Derived();
    out_.data["nss"] = Nss();
    out_.data["compat_lines"] = CompatLines();
    if (!passwd_ok_) out_.status = SectionStatus::kError;
  }

 private:
  void ReadShells() {
    shells_file_ = ReadOptional(fs_, kShellsPath, errors_);
    if (!shells_file_.readable) return;
    std::vector<SectionError> errs;
    shells_ = ParseShells(shells_file_.data, kShellsPath, errs);
    errors_.AddAll(errs);
    shells_file_.data.clear();
  }

  void ReadShadow() {
    shadow_file_ = ReadOptional(fs_, kShadowPath, errors_);
    if (!shadow_file_.readable) return;
    shadow_ = ParseShadow(shadow_file_.data, kShadowPath,
                          [this](std::string_view n) { return db_.FindUser(n) != nullptr; });
    // The text holds hashes: drop it as soon as it is classified.
    std::fill(shadow_file_.data.begin(), shadow_file_.data.end(), '\0');
    shadow_file_.data.clear();
    shadow_file_.data.shrink_to_fit();
    errors_.AddAll(shadow_.errors);
    shadow_idx_ = IndexSecret(shadow_);
  }

  void ReadGshadow() {
    gshadow_file_ = ReadOptional(fs_, kGshadowPath, errors_);
    if (!gshadow_file_.readable) return;
    gshadow_ = ParseGshadow(gshadow_file_.data, kGshadowPath,
                            [this](std::string_view n) { return db_.FindGroup(n) != nullptr; });
    std::fill(gshadow_file_.data.begin(), gshadow_file_.data.end(), '\0');
    gshadow_file_.data.clear();
    gshadow_file_.data.shrink_to_fit();
    errors_.AddAll(gshadow_.errors);
    gshadow_idx_ = IndexSecret(gshadow_);
  }

  // The password object of a user (never the hash), see docs/sections/accounts.md.
  json Password(const PasswdEntry& u) {
    json p = {{"status", nullptr},   {"scheme", nullptr}, {"last_change", nullptr},
              {"min", nullptr},      {"max", nullptr},    {"warn", nullptr},
              {"inactive", nullptr}, {"expire", nullptr}, {"source", nullptr}};
    auto set_class = [&](const PasswordClass& c) {
      p["status"] = PasswordStatusName(c.status);
      auto scheme = HashSchemeName(c.scheme);
      p["scheme"] = scheme ? json(*scheme) : json(nullptr);
    };
    if (!u.password_shadowed) {
      // pam_unix and login(1) use the passwd field itself unless it is "x".
      set_class(u.passwd_field_class);
      p["source"] = Source(kPasswdPath, u.line);
      OmitDefaults(p);
      return p;
    }
    if (!shadow_file_.present) {
      p["status"] = "no_shadow_entry";
      OmitDefaults(p);
      return p;
    }
    if (!shadow_file_.readable) {
      p["status"] = "unknown";
      OmitDefaults(p);
      return p;
    }
    auto it = shadow_idx_.first.find(u.name);
    if (it == shadow_idx_.first.end()) {
      auto skipped = shadow_idx_.skipped.find(u.name);
      if (skipped != shadow_idx_.skipped.end()) {
        p["status"] = "unknown";  // only a malformed line names this user
        p["source"] = ShadowSource(skipped->second);
      } else {
        p["status"] = "no_shadow_entry";
      }
      OmitDefaults(p);
      return p;
    }
    const ShadowEntry& e = shadow_.entries[it->second];
    set_class(e.password);
    p["last_change"] = OptNum(e.last_change);
    p["min"] = OptNum(e.min_days);
    p["max"] = OptNum(e.max_days);
    p["warn"] = OptNum(e.warn_days);
    p["inactive"] = OptNum(e.inactive_days);
    p["expire"] = OptNum(e.expire);
    p["source"] = ShadowSource(e.line);
    OmitDefaults(p);
    return p;
  }

  // Primary group first, then every group listing the user, without repeating a gid (the
  // kernel's view: what counts is the gid), as initgroups(3) over the files source does.
  json EffectiveGroups(const PasswdEntry& u) {
    if (!group_ok_) return nullptr;
    json out = json::array();
    std::vector<uint32_t> seen = {u.gid};
    const GroupEntry* primary = db_.FindGroupById(u.gid);
    out.push_back({{"name", primary ? json(HostName(primary->name)) : json(nullptr)},
                   {"gid", u.gid},
                   {"primary", true}});
    for (const GroupEntry* g : db_.GroupsListing(u.name)) {
      if (std::find(seen.begin(), seen.end(), g->gid) != seen.end()) continue;
      seen.push_back(g->gid);
      json group = {{"name", HostName(g->name)}, {"gid", g->gid}, {"primary", false}};
      OmitDefaults(group, CompactKind::kUserGroup);
      out.push_back(std::move(group));
    }
    return out;
  }

  ItemArray Users() {
    ItemArray users;
    std::map<std::string, int> seen;
    for (const auto& u : db_.users) {
      std::string_view shell = EffectiveShell(u.shell);
      bool nologin = IsNoLoginShell(shell);
      json listed = nullptr;
      if (shells_file_.readable) {
        listed = std::any_of(shells_.begin(), shells_.end(),
                             [&](const ShellEntry& s) { return s.path == shell; });
      }
      // Without a readable /etc/shells the list cannot refuse anything: like sshd, which never
      // consults it, we then count every shell but the nologin ones as permitting login.
      bool login = !nologin && (listed.is_null() || listed.get<bool>());
      std::string field = u.password_shadowed      ? "shadowed"
                          : u.password_field_empty ? "empty"
                                                   : "hash_in_passwd";
      json user = {{"id", NumberedId("user", HostName(u.name), seen)},
                   {"name", HostName(u.name)},
                   {"uid", u.uid},
                   {"gid", u.gid},
                   {"gecos", HostName(u.gecos)},
                   {"home", HostName(u.home)},
                   {"shell", HostName(u.shell)},
                   {"login_shell", login},
                   {"shell_listed", listed},
                   {"password_shadowed", u.password_shadowed},
                   {"password_field", field},
                   {"password", Password(u)},
                   {"groups", EffectiveGroups(u)},
                   {"source", LineOnly(u.line)}};  // the default file: /etc/passwd
      if (!IsValidUtf8(u.name)) user["name_b64"] = Base64Encode(u.name);
      if (!IsValidUtf8(u.home)) user["home_b64"] = Base64Encode(u.home);
      if (user["password"]["status"] == "empty") empty_passwords_.push_back(HostName(u.name));
      OmitDefaults(user);
      users.push_back(std::move(user));
    }
    return users;
  }

  json Gshadow(const GroupEntry& g) {
    json j = {{"status", nullptr},
              {"password", nullptr},
              {"administrators", nullptr},
              {"members", nullptr},
              {"source", nullptr}};
    if (!gshadow_file_.present) {
      j["status"] = "no_gshadow_file";
      OmitDefaults(j);
      return j;
    }
    if (!gshadow_file_.readable) {
      j["status"] = "unknown";
      OmitDefaults(j);
      return j;
    }
    auto it = gshadow_idx_.first.find(g.name);
    if (it == gshadow_idx_.first.end()) {
      auto skipped = gshadow_idx_.skipped.find(g.name);
      if (skipped != gshadow_idx_.skipped.end()) {
        j["status"] = "unknown";
        j["source"] = LineOnly(skipped->second);  // the default file: /etc/gshadow
      } else {
        j["status"] = "no_entry";
      }
      OmitDefaults(j);
      return j;
    }
    const GshadowEntry& e = gshadow_.entries[it->second];
    j["status"] = "present";
    j["password"] = GroupPasswordClassName(e.password);
    j["administrators"] = HostNames(e.administrators);
    j["members"] = HostNames(e.members);
    j["source"] = LineOnly(e.line);  // the default file: /etc/gshadow
    // Compact: with status "present", empty administrators/members are omitted.
    OmitDefaults(j, CompactKind::kGshadow);
    return j;
  }

  ItemArray Groups() {
    ItemArray groups;
    std::map<std::string, int> seen;
    for (const auto& g : db_.groups) {
      json j = {{"id", NumberedId("group", HostName(g.name), seen)},
                {"name", HostName(g.name)},
                {"gid", g.gid},
                {"members", HostNames(g.members)},
                {"gshadow", Gshadow(g)},
                {"source", LineOnly(g.line)}};  // the default file: /etc/group
      if (!IsValidUtf8(g.name)) j["name_b64"] = Base64Encode(g.name);
      OmitDefaults(j, CompactKind::kGroup);
      groups.push_back(std::move(j));
    }
    return groups;
  }

  template <typename Entry>
  json SecretSummary(std::string_view path, const OptionalFile& file,
                     const SecretFile<Entry>& parsed, const SecretIndex& idx,
                     const char* orphans_key, const std::function<bool(std::string_view)>& known) {
    json j = {{"file", path},
              {"present", file.present},
              {"readable", file.readable},
              {"entries", nullptr},
              {"duplicates", nullptr},
              {orphans_key, nullptr},
              {"malformed_lines", nullptr},
              {"mode", nullptr},
              {"uid", nullptr},
              {"gid", nullptr}};
    j["group"] = nullptr;
    j["world_readable"] = nullptr;
    if (file.info) {
      j["mode"] = ModeOctal(file.info->mode);
      j["uid"] = file.info->uid;
      j["gid"] = file.info->gid;
      j["world_readable"] = (file.info->mode & 04) != 0;
      if (group_ok_) {
        if (const GroupEntry* g = db_.FindGroupById(file.info->gid)) j["group"] = g->name;
      }
    }
    if (!file.readable) return j;
    j["entries"] = parsed.entries.size();
    j["duplicates"] = ShowableNames(idx.duplicates);
    std::set<std::string> orphans;
    for (const auto& e : parsed.entries) {
      if (known(e.name)) continue;
      if (LooksLikeAccountName(e.name)) {
        orphans.insert(e.name);
      } else {
        errors_.Add(path, e.line,
                    std::string("entry without a matching ") +
                        (path == kShadowPath ? "passwd user" : "group") +
                        "; its name is not shown because it does not look like a name");
      }
    }
    j[orphans_key] = json(std::vector<std::string>(orphans.begin(), orphans.end()));
    json lines = json::array();
    for (const auto& s : parsed.skipped) lines.push_back(s.line);
    j["malformed_lines"] = std::move(lines);
    return j;
  }

  json ShadowSummary() {
    return SecretSummary(kShadowPath, shadow_file_, shadow_, shadow_idx_, "without_passwd_user",
                         [this](std::string_view n) { return db_.FindUser(n) != nullptr; });
  }

  json GshadowSummary() {
    return SecretSummary(kGshadowPath, gshadow_file_, gshadow_, gshadow_idx_, "without_group",
                         [this](std::string_view n) { return db_.FindGroup(n) != nullptr; });
  }

  json ShellsSummary() {
    json j = {{"file", kShellsPath},
              {"present", shells_file_.present},
              {"readable", shells_file_.readable},
              {"entries", nullptr}};
    if (shells_file_.readable) {
      json entries = json::array();
      for (const auto& s : shells_) {
        entries.push_back({{"path", s.path}, {"source", Source(kShellsPath, s.line)}});
      }
      j["entries"] = std::move(entries);
    }
    return j;
  }

  // Users whose primary gid is `gid` (passwd order), then members listed by groups with `gid`.
  std::vector<std::string> MembersOfGid(uint32_t gid) {
    std::vector<std::string> names;
    for (const auto& u : db_.users) {
      if (u.gid == gid && !Contains(names, u.name)) names.push_back(u.name);
    }
    for (const auto& g : db_.groups) {
      if (g.gid != gid) continue;
      for (const auto& m : g.members) {
        if (!Contains(names, m)) names.push_back(m);
      }
    }
    return names;
  }

  void Derived() {
    std::vector<std::string> uid0;
    std::vector<std::string> gid0;
    std::map<uint32_t, std::vector<std::string>> by_uid;
    std::map<std::string, int> user_names;
    std::vector<std::string> dup_users;
    for (const auto& u : db_.users) {
      const std::string name = HostName(u.name);
      if (u.uid == 0 && !Contains(uid0, name)) uid0.push_back(name);
      if (u.gid == 0 && !Contains(gid0, name)) gid0.push_back(name);
      by_uid[u.uid].push_back(name);
      if (++user_names[name] == 2) dup_users.push_back(name);
    }
    std::map<uint32_t, std::vector<std::string>> by_gid;
    std::map<std::string, int> group_names;
    std::vector<std::string> dup_groups;
    for (const auto& g : db_.groups) {
      const std::string name = HostName(g.name);
      by_gid[g.gid].push_back(name);
      if (++group_names[name] == 2) dup_groups.push_back(name);
    }
    json dup_uids = json::array();
    for (const auto& [uid, names] : by_uid) {
      if (names.size() > 1) dup_uids.push_back({{"uid", uid}, {"users", names}});
    }
    json dup_gids = json::array();
    for (const auto& [gid, names] : by_gid) {
      if (names.size() > 1) dup_gids.push_back({{"gid", gid}, {"groups", names}});
    }
    out_.data["uid0"] = passwd_ok_ ? json(uid0) : json(nullptr);
    out_.data["gid0_users"] = passwd_ok_ ? json(gid0) : json(nullptr);
    out_.data["duplicates"] = {{"uids", passwd_ok_ ? dup_uids : json(nullptr)},
                               {"gids", group_ok_ ? dup_gids : json(nullptr)},
                               {"user_names", passwd_ok_ ? json(dup_users) : json(nullptr)},
                               {"group_names", group_ok_ ? json(dup_groups) : json(nullptr)}};

    json missing = nullptr;
    if (passwd_ok_ && group_ok_) {
      missing = json::array();
      for (const auto& u : db_.users) {
        if (db_.FindGroupById(u.gid) == nullptr) {
          missing.push_back({{"id", "missing_primary_group:" + HostName(u.name)},
                             {"user", HostName(u.name)},
                             {"gid", u.gid}});
        }
      }
    }
    out_.data["missing_primary_groups"] = std::move(missing);

    const auto& privileged = ctx_.options().privileged_groups;
    out_.data["privileged_groups"] = privileged;
    json members = nullptr;
    if (passwd_ok_ && group_ok_) {
      members = json::array();
      for (const auto& name : privileged) {
        const GroupEntry* g = db_.FindGroup(name);
        if (g == nullptr) continue;
        std::vector<std::pair<std::string, std::string>> found;  // user, via
        for (const auto& u : db_.users) {
          if (u.gid == g->gid && std::none_of(found.begin(), found.end(),
                                              [&](const auto& f) { return f.first == u.name; })) {
            found.emplace_back(u.name, "primary");
          }
        }
        for (const auto& m : g->members) {
          auto it =
              std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.first == m; });
          if (it == found.end()) {
            found.emplace_back(m, "member");
          } else if (it->second == "primary") {
            it->second = "both";
          }
        }
        for (const auto& [user, via] : found) {
          members.push_back({{"id", "privileged:" + HostName(g->name) + ":" + HostName(user)},
                             {"group", HostName(g->name)},
                             {"gid", g->gid},
                             {"user", HostName(user)},
                             {"via", via},
                             {"user_known", db_.FindUser(user) != nullptr}});
        }
      }
    }
    out_.data["privileged_members"] = std::move(members);

    bool passwords_known = passwd_ok_ && (!shadow_file_.present || shadow_file_.readable);
    out_.data["empty_passwords"] = passwords_known ? json(empty_passwords_) : json(nullptr);

    // Who can read the hashes through the group owning /etc/shadow.
    json shadow_members = nullptr;
    if (!shadow_file_.present) {
      shadow_members = json::array();
    } else if (shadow_file_.info && passwd_ok_ && group_ok_) {
      shadow_members = (shadow_file_.info->mode & 040) != 0
                           ? json(HostNames(MembersOfGid(shadow_file_.info->gid)))
                           : json::array();
    }
    out_.data["shadow_group_members"] = std::move(shadow_members);
  }

  json Nss() {
    OptionalFile file = ReadOptional(fs_, kNsswitchPath, errors_);
    json j = {{"file", kNsswitchPath}, {"present", file.present}, {"readable", file.readable}};
    std::optional<NssConfig> config;
    if (!file.present) {
      config = DefaultNsswitch();
    } else if (file.readable) {
      std::vector<SectionError> errs;
      config = ParseNsswitch(file.data, kNsswitchPath, errs);
      errors_.AddAll(errs);
    }
    json raw = json::object();
    json lines = json::object();
    json defaulted = json::object();
    std::vector<std::string> not_enumerated;
    std::vector<std::string> dbs(std::begin(kNssAccountDatabases), std::end(kNssAccountDatabases));
    dbs.push_back("initgroups");
    for (const auto& name : dbs) {
      if (!config) {
        j[name] = nullptr;
        continue;
      }
      auto it = config->databases.find(name);
      if (it == config->databases.end()) {
        j[name] = nullptr;  // only initgroups: not configured, glibc uses group
        continue;
      }
      const NssDatabase& d = it->second;
      j[name] = d.services;
      raw[name] = d.raw;
      lines[name] = d.line ? json(*d.line) : json(nullptr);
      if (!d.defaulted_from.empty()) defaulted[name] = d.defaulted_from;
      for (const auto& s : d.services) {
        if (s != "files" && !Contains(not_enumerated, s)) not_enumerated.push_back(s);
      }
    }
    j["raw"] = config ? raw : json(nullptr);
    j["lines"] = config ? lines : json(nullptr);
    j["defaulted"] = config ? defaulted : json(nullptr);
    j["not_enumerated"] = config ? json(not_enumerated) : json(nullptr);
    return j;
  }

  json CompatLines() {
    json out = json::array();
    auto add = [&](const std::vector<SectionError>& lines) {
      for (const auto& c : lines) {
        int64_t line = c.line.value_or(0);
        out.push_back({{"id", "compat:" + c.path + ":" + std::to_string(line)},
                       {"file", c.path},
                       {"line", line},
                       {"kind", c.message}});
      }
    };
    add(db_.compat_lines);
    add(shadow_.compat_lines);
    add(gshadow_.compat_lines);
    return out;
  }

  CollectContext& ctx_;
  const Fs& fs_;
  const AccountDb& db_;
  Section& out_;
  ErrorSink errors_;
  bool passwd_ok_ = false;
  bool group_ok_ = false;
  OptionalFile shells_file_;
  std::vector<ShellEntry> shells_;
  OptionalFile shadow_file_;
  ShadowFile shadow_;
  SecretIndex shadow_idx_;
  OptionalFile gshadow_file_;
  GshadowFile gshadow_;
  SecretIndex gshadow_idx_;
  std::vector<std::string> empty_passwords_;
};

}  // namespace

void AccountsReader::Collect(CollectContext& ctx, Section& out) {
  {
    Builder builder(ctx, out);
    builder.Run();
  }  // the builder's error sink adds its counts when it goes
  EscapeErrorNames(out);
}

}  // namespace tidemark::agent
