#include "agent/parsers/account_db.h"

#include <algorithm>

#include "agent/parsers/lines.h"

namespace tidemark::agent {
namespace {

bool IsCompatLine(std::string_view line) {
  return !line.empty() && (line.front() == '+' || line.front() == '-');
}

// Applies the line rules shared by passwd and group (glibc __nss_readline, plus our length
// bound). Returns false when the line is to be ignored (blank, comment) or was reported.
bool PrepareLine(std::string_view& line, std::string_view path, int64_t number,
                 std::vector<SectionError>& errors) {
  if (!AcceptLine(line, path, number, kMaxAccountLineBytes, errors)) return false;
  while (!line.empty() && IsAsciiSpace(line.front())) line.remove_prefix(1);
  return !line.empty() && line.front() != '#';
}

void AddLineError(std::vector<SectionError>& errors, std::string_view path, int64_t line,
                  std::string message) {
  errors.push_back({std::string(path), line, std::move(message)});
}

// Calls fn(fields, line_number) for each data line of a colon-separated file (passwd(5),
// group(5)) that has exactly `expected` fields; reports other lines and records NIS compat
// lines. fn returns true to go on.
template <typename Fn>
void ForEachRecord(std::string_view text, std::string_view path, size_t expected,
                   std::vector<SectionError>& errors, std::vector<SectionError>* compat_lines,
                   Fn&& fn) {
  ForEachLine(text, [&](std::string_view line, int64_t number) {
    if (!PrepareLine(line, path, number, errors)) return true;
    if (IsCompatLine(line)) {
      if (compat_lines) compat_lines->push_back({std::string(path), number, CompatKind(line)});
      return true;
    }
    auto f = SplitFields(line, ':');
    if (f.size() != expected) {
      AddLineError(errors, path, number,
                   "expected " + std::to_string(expected) + " colon-separated fields, found " +
                       std::to_string(f.size()) + "; line skipped");
      return true;
    }
    return fn(f, number);
  });
}

}  // namespace

std::string CompatKind(std::string_view line) {
  std::string sign = line.front() == '+' ? "include_" : "exclude_";
  std::string_view rest = line.substr(
      1, line.find(':') == std::string_view::npos ? std::string_view::npos : line.find(':') - 1);
  if (rest.empty()) return sign + "all";
  if (rest.front() == '@') return sign + "netgroup";
  return sign + "name";
}

std::vector<std::string_view> SplitFields(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  for (;;) {
    size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, next - pos));
    pos = next + 1;
  }
}

std::optional<uint32_t> ParseId(std::string_view s) {
  // glibc's nss_files reads an id with strtoul (files-parse.c INT_FIELD, strtou32): blanks
  // before it, a sign, leading zeros; nothing after it; refused over 0xffffffff.
  size_t i = 0;
  while (i < s.size() && IsAsciiSpace(s[i])) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  const size_t first_digit = i;
  uint64_t v = 0;
  bool overflow = false;  // strtoul then returns ULONG_MAX: over 0xffffffff
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    auto digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - digit) / 10) overflow = true;
    v = v * 10 + digit;
  }
  if (i == first_digit || i != s.size() || overflow) return std::nullopt;
  if (negative) v = ~v + 1;  // strtoul negates in unsigned arithmetic: "-0" is 0, "-5" huge
  if (v > 0xffffffffull) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::vector<PasswdEntry> ParsePasswd(std::string_view text, std::string_view path,
                                     std::vector<SectionError>& errors,
                                     std::vector<SectionError>* compat_lines) {
  std::vector<PasswdEntry> users;
  ForEachRecord(text, path, 7, errors, compat_lines, [&](const auto& f, int64_t number) {
    auto uid = ParseId(f[2]);
    auto gid = ParseId(f[3]);
    if (f[0].empty() || !uid || !gid) {
      AddLineError(
          errors, path, number,
          f[0].empty() ? "empty user name; line skipped" : "invalid uid or gid; line skipped");
      return true;
    }
    PasswdEntry e;
    e.name = std::string(f[0]);
    e.password_shadowed = f[1] == "x";
    e.password_field_empty = f[1].empty();
    e.passwd_field_class = ClassifyPassword(f[1]);
    e.uid = *uid;
    e.gid = *gid;
    e.gecos = std::string(f[4]);
    e.home = std::string(f[5]);
    e.shell = std::string(f[6]);
    e.line = number;
    users.push_back(std::move(e));
    return true;
  });
  return users;
}

std::vector<GroupEntry> ParseGroup(std::string_view text, std::string_view path,
                                   std::vector<SectionError>& errors,
                                   std::vector<SectionError>* compat_lines) {
  std::vector<GroupEntry> groups;
  ForEachRecord(text, path, 4, errors, compat_lines, [&](const auto& f, int64_t number) {
    auto gid = ParseId(f[2]);
    if (f[0].empty() || !gid) {
      AddLineError(errors, path, number,
                   f[0].empty() ? "empty group name; line skipped" : "invalid gid; line skipped");
      return true;
    }
    GroupEntry g;
    g.name = std::string(f[0]);
    g.gid = *gid;
    if (!f[3].empty()) {
      // As glibc's parse_list reads the list (files-parse.c): blanks before each name are
      // skipped (`sudo:x:27:alice, vendor` makes vendor a member), blanks after it kept, empty
      // names dropped.
      for (auto m : SplitFields(f[3], ',')) {
        while (!m.empty() && IsAsciiSpace(m.front())) m.remove_prefix(1);
        if (!m.empty()) g.members.emplace_back(m);
      }
    }
    g.line = number;
    groups.push_back(std::move(g));
    return true;
  });
  return groups;
}

const AccountDb::Index& AccountDb::index() const {
  if (index_) return *index_;
  auto index = std::make_shared<Index>();
  index->user_by_name.reserve(users.size());
  index->user_by_uid.reserve(users.size());
  index->group_by_name.reserve(groups.size());
  index->group_by_gid.reserve(groups.size());
  // emplace keeps the first entry for a key: the C library's lookups return the first match.
  for (size_t i = 0; i < users.size(); ++i) {
    index->user_by_name.emplace(users[i].name, i);
    index->user_by_uid.emplace(users[i].uid, i);
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    index->group_by_name.emplace(groups[i].name, i);
    index->group_by_gid.emplace(groups[i].gid, i);
    for (const auto& member : groups[i].members) {
      auto& listed = index->groups_by_member[member];
      if (listed.empty() || listed.back() != i) listed.push_back(i);
    }
  }
  index_ = std::move(index);
  return *index_;
}

const PasswdEntry* AccountDb::FindUser(std::string_view name) const {
  const auto& by_name = index().user_by_name;
  auto it = by_name.find(std::string(name));
  return it == by_name.end() ? nullptr : &users[it->second];
}

const PasswdEntry* AccountDb::FindUserById(uint32_t uid) const {
  const auto& by_uid = index().user_by_uid;
  auto it = by_uid.find(uid);
  return it == by_uid.end() ? nullptr : &users[it->second];
}

const GroupEntry* AccountDb::FindGroup(std::string_view name) const {
  const auto& by_name = index().group_by_name;
  auto it = by_name.find(std::string(name));
  return it == by_name.end() ? nullptr : &groups[it->second];
}

const GroupEntry* AccountDb::FindGroupById(uint32_t gid) const {
  const auto& by_gid = index().group_by_gid;
  auto it = by_gid.find(gid);
  return it == by_gid.end() ? nullptr : &groups[it->second];
}

std::vector<const GroupEntry*> AccountDb::GroupsListing(std::string_view user_name) const {
  std::vector<const GroupEntry*> out;
  const auto& by_member = index().groups_by_member;
  auto it = by_member.find(std::string(user_name));
  if (it == by_member.end()) return out;
  for (size_t i : it->second) out.push_back(&groups[i]);
  return out;
}

std::vector<uint32_t> AccountDb::GroupIdsOf(const PasswdEntry& user) const {
  std::vector<uint32_t> gids = {user.gid};
  for (const GroupEntry* g : GroupsListing(user.name)) {
    if (std::find(gids.begin(), gids.end(), g->gid) == gids.end()) gids.push_back(g->gid);
  }
  return gids;
}

AccountDb LoadAccountDb(const Fs& fs) {
  AccountDb db;
  auto passwd = fs.ReadFile(kPasswdPath);
  db.passwd_status = passwd.status();
  if (passwd.ok()) {
    db.users = ParsePasswd(passwd->data, kPasswdPath, db.errors, &db.compat_lines);
  } else {
    db.errors.push_back({std::string(kPasswdPath), std::nullopt, passwd.status().message()});
  }
  auto group = fs.ReadFile(kGroupPath);
  db.group_status = group.status();
  if (group.ok()) {
    db.groups = ParseGroup(group->data, kGroupPath, db.errors, &db.compat_lines);
  } else {
    db.errors.push_back({std::string(kGroupPath), std::nullopt, group.status().message()});
  }
  return db;
}

}  // namespace tidemark::agent
