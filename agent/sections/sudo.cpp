#include "agent/sections/sudo.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/parsers/sudoers.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using sudoers::AliasExpander;
using sudoers::AliasType;
using sudoers::CmndSpec;
using sudoers::DefaultsEntry;
using sudoers::DefaultsType;
using sudoers::Member;
using sudoers::MemberKind;
using sudoers::Policy;
using sudoers::SourceRef;
using sudoers::TagState;

// Caps on what the section lists (docs/sections/sudo.md, "Bounds"): users x hosts x commands
// of a hostile sudoers would otherwise outgrow any snapshot. The work behind them is bounded by
// sudoers::kExpansionBudget. A cut list is recorded with Section::NoteTruncated.
constexpr size_t kMaxGrants = 20000;
constexpr size_t kMaxGrantBytes = 16u << 20;  // of grant JSON text
constexpr size_t kMaxDefaults = 10000;
constexpr size_t kMaxAliases = 10000;
constexpr size_t kMaxListBytes = 4u << 20;  // of Defaults, and of aliases (approximate)

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Neg(const Member& m, std::string s) { return m.negated ? "!" + s : s; }

// A user-list or runas-user member: "user:NAME", "uid:N", "group:NAME", "gid:N",
// "nonunixgroup:NAME", "nonunixgid:N", "netgroup:NAME" or "ALL" (sudoers(5) User, Runas_Member).
std::string UserPrincipal(const Member& m) {
  std::string s;
  switch (m.kind) {
    case MemberKind::kAll:
      s = "ALL";
      break;
    case MemberKind::kWord:
      s = m.name.size() > 1 && m.name[0] == '#' && AllDigits(m.name.substr(1))
              ? "uid:" + m.name.substr(1)
              : "user:" + m.name;
      break;
    case MemberKind::kUserGroup: {
      std::string g = m.name.substr(1);
      bool nonunix = !g.empty() && g[0] == ':';
      if (nonunix) g.erase(0, 1);
      bool id = g.size() > 1 && g[0] == '#' && AllDigits(g.substr(1));
      if (id) g.erase(0, 1);
      s = (nonunix ? (id ? "nonunixgid:" : "nonunixgroup:") : (id ? "gid:" : "group:")) + g;
      break;
    }
    case MemberKind::kNetgroup:
      s = "netgroup:" + m.name.substr(1);
      break;
    default:
      s = m.name;
      break;
  }
  return Neg(m, s);
}

// A runas-group member: "group:NAME", "gid:N" or "ALL".
std::string GroupPrincipal(const Member& m) {
  if (m.kind == MemberKind::kWord) {
    return Neg(m, m.name.size() > 1 && m.name[0] == '#' && AllDigits(m.name.substr(1))
                      ? "gid:" + m.name.substr(1)
                      : "group:" + m.name);
  }
  return UserPrincipal(m);
}

// A host member as written: name, address, network, "+netgroup" or "ALL".
std::string HostString(const Member& m) {
  return Neg(m, m.kind == MemberKind::kAll ? "ALL" : m.name);
}

// A command as cvtsudoers prints it: path and arguments, "ALL", "sudoedit ...", "list".
std::string CommandString(const Member& m) {
  if (m.kind == MemberKind::kAll) return Neg(m, "ALL");
  return Neg(m, m.has_args ? m.name + " " + m.args : m.name);
}

json Source(const SourceRef& s) { return {{"file", s.file}, {"line", s.line}}; }

enum class Cover { kNo, kPartial, kFull };

// Which users a principal stands for, from the root's passwd/group (for Defaults:USER folding).
class Membership {
 public:
  explicit Membership(const AccountDb& db) : db_(db) {}

  // Is user `name` in group `group` (by name) - primary group or member list?
  bool UserInGroup(const std::string& name, const std::string& group) const {
    const PasswdEntry* u = db_.FindUser(name);
    const GroupEntry* g = db_.FindGroup(group);
    if (g == nullptr) return false;
    if (u != nullptr && u->gid == g->gid) return true;
    return std::find(g->members.begin(), g->members.end(), name) != g->members.end();
  }
  bool UserHasUid(const std::string& name, const std::string& uid) const {
    const PasswdEntry* u = db_.FindUser(name);
    return u != nullptr && std::to_string(u->uid) == uid;
  }

 private:
  const AccountDb& db_;
};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Does binding member `m`, whose positive form is the principal `b`, match all, part or none of
// principal `p`?
Cover MatchUser(const Member& m, std::string_view b, std::string_view p, const Membership& mem) {
  if (m.kind == MemberKind::kAll) return Cover::kFull;
  if (b == p) return Cover::kFull;
  if (StartsWith(p, "user:")) {
    std::string name(p.substr(5));
    if (StartsWith(b, "group:"))
      return mem.UserInGroup(name, std::string(b.substr(6))) ? Cover::kFull : Cover::kNo;
    if (StartsWith(b, "uid:")) {
      return mem.UserHasUid(name, std::string(b.substr(4))) ? Cover::kFull : Cover::kNo;
    }
    if (StartsWith(b, "user:")) return Cover::kNo;
    return Cover::kPartial;  // netgroups, non-Unix groups, gids: not decidable offline
  }
  if (StartsWith(p, "group:") && StartsWith(b, "user:")) {
    return mem.UserInGroup(std::string(b.substr(5)), std::string(p.substr(6))) ? Cover::kPartial
                                                                               : Cover::kNo;
  }
  if (StartsWith(p, "uid:") && StartsWith(b, "user:")) {
    return mem.UserHasUid(std::string(b.substr(5)), std::string(p.substr(4))) ? Cover::kFull
                                                                              : Cover::kNo;
  }
  // A set principal (group, netgroup, ALL...) against another member: may overlap.
  return Cover::kPartial;
}

// A Defaults binding list with each member's positive principal computed once.
struct UserBinding {
  std::vector<Member> members;
  std::vector<std::string> principals;  // UserPrincipal of each member without its negation
};

UserBinding MakeUserBinding(std::vector<Member> members) {
  UserBinding b;
  for (const Member& m : members) {
    Member pos = m;
    pos.negated = false;
    b.principals.push_back(UserPrincipal(pos));
  }
  b.members = std::move(members);
  return b;
}

// sudo's list matching: the last member that matches decides; a negated one denies.
Cover CoverList(const UserBinding& binding, std::string_view p, const Membership& mem) {
  for (size_t i = binding.members.size(); i-- > 0;) {
    const Member& m = binding.members[i];
    Cover c = MatchUser(m, binding.principals[i], p, mem);
    if (c == Cover::kFull) return m.negated ? Cover::kNo : Cover::kFull;
    if (c == Cover::kPartial) return Cover::kPartial;
  }
  return Cover::kNo;
}

bool HasGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

struct Grant {
  std::string principal;
  std::string host;
  std::vector<std::string> runas_users;
  std::vector<std::string> runas_groups;
  bool runas_default = false;
  const Member* command = nullptr;
  const CmndSpec* spec = nullptr;
  SourceRef source;
};

class GrantBuilder {
 public:
  GrantBuilder(const Policy& policy, CollectContext& ctx, Section& out)
      : policy_(policy), out_(out), mem_(ctx.accounts()), expander_(policy, out.errors) {
    host_full_ = ctx.hostname();
    host_short_ = host_full_.substr(0, host_full_.find('.'));
    for (const auto& d : policy.defaults) {
      if (d.name != "authenticate") continue;
      AuthDefault a{&d, {}, {}};
      AliasType t = d.type == DefaultsType::kHost      ? AliasType::kHost
                    : d.type == DefaultsType::kRunas   ? AliasType::kRunas
                    : d.type == DefaultsType::kCommand ? AliasType::kCmnd
                                                       : AliasType::kUser;
      expander_.Expand(d.binding, t, a.binding, d.source);
      if (t == AliasType::kUser || t == AliasType::kRunas) a.users = MakeUserBinding(a.binding);
      auth_.push_back(std::move(a));
    }
    // sudoers(5) Defaults: global, host, user and runas Defaults apply first, then command
    // Defaults; within a kind the last match wins.
    std::stable_sort(auth_.begin(), auth_.end(), [](const AuthDefault& a, const AuthDefault& b) {
      return Rank(a.def->type) < Rank(b.def->type);
    });
    for (size_t i = 0; i < auth_.size(); ++i) {
      DefaultsType t = auth_[i].def->type;
      if (t != DefaultsType::kUser && t != DefaultsType::kRunas) always_.push_back(i);
    }
  }

  // Returns the grants, at most kMaxGrants and kMaxGrantBytes of them; records a cut with
  // NoteTruncated (the total is exact unless the expansion budget ran out).
  ItemArray Build() {
    ItemArray grants;
    size_t total = 0;
    bool full = false;
    for (const auto& us : policy_.userspecs) {
      if (expander_.exhausted()) break;
      std::vector<Member> users;
      expander_.Expand(us.users, AliasType::kUser, users, us.source);
      for (const auto& priv : us.privileges) {
        std::vector<Member> hosts;
        expander_.Expand(priv.hosts, AliasType::kHost, hosts, us.source);
        for (const auto& cs : priv.cmnds) {
          Grant g;
          g.spec = &cs;
          g.source = {us.source.file, cs.line};
          if (!cs.runas_users && !cs.runas_groups) {
            g.runas_users = {"user:root"};  // runas_default (root unless changed by Defaults)
            g.runas_default = true;
          }
          if (cs.runas_users) {
            std::vector<Member> ru;
            expander_.Expand(*cs.runas_users, AliasType::kRunas, ru, g.source);
            for (const auto& m : ru) {
              if (m.kind != MemberKind::kMyself) g.runas_users.push_back(UserPrincipal(m));
            }
          }
          if (cs.runas_groups) {
            std::vector<Member> rg;
            expander_.Expand(*cs.runas_groups, AliasType::kRunas, rg, g.source);
            for (const auto& m : rg) g.runas_groups.push_back(GroupPrincipal(m));
          }
          std::vector<Member> cmnds;
          expander_.Expand({cs.command}, AliasType::kCmnd, cmnds, g.source);
          // Each factor is at most sudoers::kMaxExpandedMembers: no overflow.
          total += users.size() * hosts.size() * cmnds.size();
          for (size_t ui = 0; ui < users.size() && !full; ++ui) {
            g.principal = UserPrincipal(users[ui]);
            for (size_t hi = 0; hi < hosts.size() && !full; ++hi) {
              g.host = HostString(hosts[hi]);
              for (size_t ci = 0; ci < cmnds.size() && !full; ++ci) {
                if (grants.size() >= kMaxGrants || grants.text().size() >= kMaxGrantBytes ||
                    !expander_.Spend(1 + g.runas_users.size() + g.runas_groups.size(), g.source)) {
                  full = true;
                  break;
                }
                g.command = &cmnds[ci];
                grants.push_back(ToJson(g));
              }
            }
          }
        }
      }
    }
    if (grants.size() < total) {
      out_.NoteTruncated("grants", grants.size() >= kMaxGrants ? kMaxGrants : grants.size(), total);
    }
    return grants;
  }

  AliasExpander& expander() { return expander_; }

 private:
  struct AuthDefault {
    const DefaultsEntry* def;
    std::vector<Member> binding;  // aliases expanded
    UserBinding users;            // for user and runas Defaults
  };

  // Returns, for each Defaults in auth_, how it covers principal `p` when it is a user or runas
  // Defaults (kNo for the others). Memoized per principal: a large host has thousands of grants
  // but far fewer distinct principals.
  const std::vector<Cover>& PrincipalCovers(const std::string& p) {
    return PrincipalEntry(p).covers;
  }

  struct PrincipalCoverage {
    std::vector<Cover> covers;       // per auth_ index; kNo for non-user/runas Defaults
    std::vector<size_t> user_hits;   // user Defaults that cover p at least partly
    std::vector<size_t> runas_hits;  // runas Defaults that cover p at least partly
  };

  const PrincipalCoverage& PrincipalEntry(const std::string& p) {
    auto [it, inserted] = cover_cache_.try_emplace(p);
    if (inserted) {
      PrincipalCoverage& pc = it->second;
      pc.covers.resize(auth_.size(), Cover::kNo);
      for (size_t k = 0; k < auth_.size(); ++k) {
        DefaultsType t = auth_[k].def->type;
        if (t != DefaultsType::kUser && t != DefaultsType::kRunas) continue;
        if (!expander_.Spend(1 + auth_[k].users.members.size(), auth_[k].def->source)) break;
        pc.covers[k] = CoverList(auth_[k].users, p, mem_);
        if (pc.covers[k] != Cover::kNo) {
          (t == DefaultsType::kUser ? pc.user_hits : pc.runas_hits).push_back(k);
        }
      }
    }
    return it->second;
  }

  // Returns the auth_ indices that may apply to `g`, ascending: global, host and command
  // Defaults always; user and runas Defaults only where they cover its principal or a runas
  // user (the others answer kNo, so skipping them changes nothing).
  std::vector<size_t> Candidates(const Grant& g) {
    std::vector<size_t> out = always_;
    if (!g.principal.empty() && g.principal[0] != '!') {
      const auto& hits = PrincipalEntry(g.principal).user_hits;
      out.insert(out.end(), hits.begin(), hits.end());
    }
    for (const auto& r : g.runas_users) {
      if (r[0] == '!') continue;
      const auto& hits = PrincipalEntry(r).runas_hits;
      out.insert(out.end(), hits.begin(), hits.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  static int Rank(DefaultsType t) {
    switch (t) {
      case DefaultsType::kGlobal:
        return 0;
      case DefaultsType::kHost:
        return 1;
      case DefaultsType::kUser:
        return 2;
      case DefaultsType::kRunas:
        return 3;
      case DefaultsType::kCommand:
        return 4;
    }
    return 5;
  }

  Cover HostCover(const std::vector<Member>& binding) const {
    for (auto it = binding.rbegin(); it != binding.rend(); ++it) {
      Cover c = Cover::kNo;
      if (it->kind == MemberKind::kAll) {
        c = Cover::kFull;
      } else if (it->kind == MemberKind::kWord) {
        bool match = fnmatch(it->name.c_str(), host_full_.c_str(), FNM_CASEFOLD) == 0 ||
                     fnmatch(it->name.c_str(), host_short_.c_str(), FNM_CASEFOLD) == 0;
        c = match ? Cover::kFull : Cover::kNo;
      } else {
        c = Cover::kPartial;  // addresses and netgroups: not decidable offline
      }
      if (c == Cover::kFull) return it->negated ? Cover::kNo : Cover::kFull;
      if (c == Cover::kPartial) return Cover::kPartial;
    }
    return Cover::kNo;
  }

  static Cover CommandCover(const std::vector<Member>& binding, const Member& cmd) {
    for (auto it = binding.rbegin(); it != binding.rend(); ++it) {
      const Member& b = *it;
      Cover c = Cover::kNo;
      if (b.kind == MemberKind::kAll) {
        c = Cover::kFull;
      } else if (cmd.kind == MemberKind::kAll) {
        c = Cover::kPartial;
      } else if (b.kind == MemberKind::kCommand && cmd.kind == MemberKind::kCommand) {
        bool dir = !b.name.empty() && b.name.back() == '/';
        if (b.name == cmd.name ||
            (dir && StartsWith(cmd.name, b.name) &&
             cmd.name.find('/', b.name.size()) == std::string::npos) ||
            (HasGlob(b.name) && fnmatch(b.name.c_str(), cmd.name.c_str(), FNM_PATHNAME) == 0)) {
          c = Cover::kFull;
        } else if (HasGlob(cmd.name) || cmd.name.back() == '/' || cmd.name[0] == '^' ||
                   b.name[0] == '^') {
          c = Cover::kPartial;
        }
      }
      if (c == Cover::kFull) return b.negated ? Cover::kNo : Cover::kFull;
      if (c == Cover::kPartial) return Cover::kPartial;
    }
    return Cover::kNo;
  }

  // `principal_covers` is PrincipalCovers(g.principal); `runas_covers` the same per runas user.
  Cover Applies(size_t i, const Grant& g, const std::vector<Cover>* principal_covers,
                const std::vector<const std::vector<Cover>*>& runas_covers) {
    const AuthDefault& a = auth_[i];
    if (a.def->type == DefaultsType::kHost || a.def->type == DefaultsType::kCommand) {
      expander_.Spend(1 + a.binding.size(), a.def->source);
    }
    switch (a.def->type) {
      case DefaultsType::kGlobal:
        return Cover::kFull;
      case DefaultsType::kHost:
        return HostCover(a.binding);
      case DefaultsType::kUser:
        if (g.principal.empty() || g.principal[0] == '!') return Cover::kNo;
        return (*principal_covers)[i];
      case DefaultsType::kRunas: {
        size_t full = 0;
        size_t any = 0;
        size_t n = 0;
        for (const std::vector<Cover>* covers : runas_covers) {
          ++n;
          Cover c = (*covers)[i];
          if (c == Cover::kFull) ++full;
          if (c != Cover::kNo) ++any;
        }
        if (n > 0 && full == n) return Cover::kFull;
        return any > 0 ? Cover::kPartial : Cover::kNo;
      }
      case DefaultsType::kCommand:
        return CommandCover(a.binding, *g.command);
    }
    return Cover::kNo;
  }

  static void PutTag(json& tags, const char* name, TagState s) {
    if (s == TagState::kUnset) return;
    tags[name] = s != TagState::kOff;
  }

  json ToJson(const Grant& g) {
    const CmndSpec& cs = *g.spec;
    std::string command = CommandString(*g.command);
    std::string runas = "(";
    for (size_t i = 0; i < g.runas_users.size(); ++i) runas += (i ? "," : "") + g.runas_users[i];
    if (!g.runas_groups.empty()) {
      runas += " : ";
      for (size_t i = 0; i < g.runas_groups.size(); ++i)
        runas += (i ? "," : "") + g.runas_groups[i];
    }
    runas += ")";
    std::string id = "sudo:" + g.principal + "@" + g.host + "=" + runas + command;
    if (int n = ++id_count_[id]; n > 1) id += "#" + std::to_string(n);

    json tags = json::object();
    PutTag(tags, "nopasswd", cs.tags.nopasswd);
    PutTag(tags, "noexec", cs.tags.noexec);
    PutTag(tags, "setenv", cs.tags.setenv);
    PutTag(tags, "log_input", cs.tags.log_input);
    PutTag(tags, "log_output", cs.tags.log_output);
    PutTag(tags, "mail", cs.tags.mail);
    PutTag(tags, "follow", cs.tags.follow);
    PutTag(tags, "intercept", cs.tags.intercept);

    // sudoers(5) "PASSWD and NOPASSWD" / "authenticate": an explicit tag overrides Defaults.
    bool authenticate = true;
    const DefaultsEntry* decided = nullptr;
    std::vector<const DefaultsEntry*> partial;
    const std::vector<Cover>* principal_covers = nullptr;
    if (!g.principal.empty() && g.principal[0] != '!') {
      principal_covers = &PrincipalCovers(g.principal);
    }
    std::vector<const std::vector<Cover>*> runas_covers;
    for (const auto& r : g.runas_users) {
      if (r[0] != '!') runas_covers.push_back(&PrincipalCovers(r));
    }
    for (size_t i : Candidates(g)) {
      const AuthDefault& a = auth_[i];
      Cover c = Applies(i, g, principal_covers, runas_covers);
      if (c == Cover::kFull) {
        authenticate = !a.def->negated;
        decided = a.def;
      } else if (c == Cover::kPartial) {
        partial.push_back(a.def);
      }
    }
    json j = {{"id", id},
              {"principal", g.principal},
              {"host", g.host},
              {"runas_users", g.runas_users},
              {"runas_groups", g.runas_groups},
              {"runas_default", g.runas_default},
              {"command", command}};
    if (!g.command->digests.empty()) {
      json d = json::array();
      for (const auto& dg : g.command->digests)
        d.push_back({{"algorithm", dg.algorithm}, {"value", dg.value}});
      j["digests"] = std::move(d);
    }
    if (cs.tags.nopasswd != TagState::kUnset) {
      j["nopasswd"] = cs.tags.nopasswd == TagState::kOn;
      j["nopasswd_reason"] = "tag";
    } else {
      j["nopasswd"] = !authenticate;
      j["nopasswd_reason"] = decided ? "defaults" : "default";
      if (decided) j["nopasswd_source"] = Source(decided->source);
      json cond = json::array();
      for (const auto* d : partial) {
        if (d->negated == authenticate) cond.push_back(Source(d->source));  // would flip it
      }
      if (!cond.empty()) j["nopasswd_conditional"] = std::move(cond);
    }
    j["tags"] = std::move(tags);
    json options = json::object();
    if (cs.cwd) options["cwd"] = *cs.cwd;
    if (cs.chroot) options["chroot"] = *cs.chroot;
    if (cs.role) options["role"] = *cs.role;
    if (cs.type) options["type"] = *cs.type;
    if (cs.timeout) options["timeout"] = *cs.timeout;
    if (cs.notbefore) options["notbefore"] = *cs.notbefore;
    if (cs.notafter) options["notafter"] = *cs.notafter;
    if (!options.empty()) j["options"] = std::move(options);
    j["source"] = Source(g.source);
    return j;
  }

  const Policy& policy_;
  Section& out_;
  Membership mem_;
  AliasExpander expander_;
  std::string host_full_;
  std::string host_short_;
  std::vector<AuthDefault> auth_;
  std::unordered_map<std::string, PrincipalCoverage> cover_cache_;
  std::vector<size_t> always_;  // auth_ indices of global, host and command Defaults
  std::map<std::string, int> id_count_;
};

std::string MemberString(const Member& m, AliasType type) {
  if (m.kind == MemberKind::kAlias) return Neg(m, m.name);
  switch (type) {
    case AliasType::kUser:
    case AliasType::kRunas:
      return m.kind == MemberKind::kMyself ? "" : UserPrincipal(m);
    case AliasType::kHost:
      return HostString(m);
    case AliasType::kCmnd:
      return CommandString(m);
  }
  return m.name;
}

AliasType BindingType(DefaultsType t) {
  switch (t) {
    case DefaultsType::kHost:
      return AliasType::kHost;
    case DefaultsType::kRunas:
      return AliasType::kRunas;
    case DefaultsType::kCommand:
      return AliasType::kCmnd;
    default:
      return AliasType::kUser;
  }
}

json FilesJson(const Policy& policy, const AccountDb& db) {
  json files = json::array();
  for (const auto& f : policy.files) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", f.info.mode & 07777);
    const PasswdEntry* owner = db.FindUserById(f.info.uid);
    const GroupEntry* group = db.FindGroupById(f.info.gid);
    // sudo_secure_file(): owned by root, not world-writable, group-writable only if gid 0.
    bool secure = f.info.uid == 0 && (f.info.mode & 002) == 0 &&
                  ((f.info.mode & 020) == 0 || f.info.gid == 0);
    json j = {{"id", "sudoers-file:" + f.path},
              {"path", f.path},
              {"mode", mode},
              {"uid", f.info.uid},
              {"gid", f.info.gid},
              {"owner", owner ? json(owner->name) : json(nullptr)},
              {"group", group ? json(group->name) : json(nullptr)},
              {"size", f.info.size},
              {"secure", secure},
              {"via", f.via.empty() ? json(nullptr) : json(f.via)},
              {"included_from", f.included_from ? Source(*f.included_from) : json(nullptr)}};
    files.push_back(std::move(j));
  }
  return files;
}

}  // namespace

void SudoReader::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  std::string short_host = ctx.hostname().substr(0, ctx.hostname().find('.'));
  Status main_status;
  Policy policy = sudoers::LoadSudoers(fs, sudoers::kSudoersPath, short_host, &main_status);
  out.data["main_file"] = sudoers::kSudoersPath;
  if (!main_status.ok()) {
    if (main_status.code() == StatusCode::kNotFound) {
      // No /etc/sudoers: sudo is not configured here (it may or may not be installed).
      bool installed = fs.Stat("/usr/bin/sudo", true).ok();
      out.data["configured"] = false;
      out.data["sudo_installed"] = installed;
      out.status = SectionStatus::kNotApplicable;
      return;
    }
    out.data["configured"] = true;
    out.AddError(std::string(sudoers::kSudoersPath), std::nullopt,
                 "cannot read: " + main_status.message());
    out.status = SectionStatus::kError;
    return;
  }
  out.data["configured"] = true;
  for (auto& e : policy.errors) out.errors.push_back(std::move(e));
  policy.errors.clear();

  GrantBuilder builder(policy, ctx, out);
  out.items["grants"] = builder.Build();

  json defaults = json::array();
  std::map<std::string, int> seen;
  size_t defaults_bytes = 0;
  for (const auto& d : policy.defaults) {
    if (defaults.size() >= kMaxDefaults || defaults_bytes >= kMaxListBytes ||
        builder.expander().exhausted()) {
      out.NoteTruncated("defaults", defaults.size(), policy.defaults.size());
      break;
    }
    std::vector<Member> binding;
    builder.expander().Expand(d.binding, BindingType(d.type), binding, d.source);
    json b = json::array();
    std::string bs;
    for (const auto& m : binding) {
      b.push_back(MemberString(m, BindingType(d.type)));
      bs += (bs.empty() ? "" : ",") + b.back().get<std::string>();
    }
    std::string id = "sudo-defaults:" + std::string(sudoers::DefaultsTypeName(d.type)) +
                     (bs.empty() ? "" : "[" + bs + "]") + ":" + d.name;
    if (int n = ++seen[id]; n > 1) id += "#" + std::to_string(n);
    defaults_bytes += 2 * id.size() + d.name.size() + (d.value ? d.value->size() : 0) + 200;
    defaults.push_back({{"id", id},
                        {"type", sudoers::DefaultsTypeName(d.type)},
                        {"binding", std::move(b)},
                        {"name", d.name},
                        {"value", d.value ? json(*d.value) : json(nullptr)},
                        {"operator", d.op.empty() ? json(nullptr) : json(d.op)},
                        {"negated", d.negated},
                        {"source", Source(d.source)}});
  }
  out.data["defaults"] = std::move(defaults);

  json aliases = json::array();
  size_t alias_bytes = 0;
  for (const auto& [key, a] : policy.aliases) {
    if (aliases.size() >= kMaxAliases || alias_bytes >= kMaxListBytes) {
      out.NoteTruncated("aliases", aliases.size(), policy.aliases.size());
      break;
    }
    json members = json::array();
    for (const auto& m : a.members) {
      members.push_back(MemberString(m, a.type));
      alias_bytes += members.back().get_ref<const std::string&>().size() + 4;
    }
    alias_bytes += 2 * a.name.size() + 100;
    aliases.push_back(
        {{"id", "sudo-alias:" + std::string(sudoers::AliasTypeName(a.type)) + ":" + a.name},
         {"type", sudoers::AliasTypeName(a.type)},
         {"name", a.name},
         {"members", std::move(members)},
         {"source", Source(a.source)}});
  }
  out.data["aliases"] = std::move(aliases);

  out.data["files"] = FilesJson(policy, ctx.accounts());
  json dirs = json::array();
  for (const auto& d : policy.includedirs) {
    dirs.push_back({{"id", "sudoers-includedir:" + d.path},
                    {"path", d.path},
                    {"status", d.status},
                    {"files", d.files},
                    {"skipped", d.skipped},
                    {"included_from", Source(d.included_from)}});
  }
  out.data["includedirs"] = std::move(dirs);
  if (policy.skipped_total > policy.skipped_listed) {
    out.NoteTruncated("includedirs.skipped", sudoers::kMaxFiles, policy.skipped_total);
  }
}

}  // namespace tidemark::agent
