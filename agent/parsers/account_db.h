// AccountDb: the root's local user and group databases (passwd(5), group(5)), parsed once and
// shared by the sections that need to know users and memberships (accounts, sudo, ssh_keys).
//
// Lines are read as glibc's nss_files reads them (__nss_readline: leading blanks removed, empty
// lines and lines starting with '#' skipped). Lines that cannot be parsed are skipped and reported
// by path and line; the message never quotes the line (a legacy passwd may still hold a password
// hash in its second field, which is only ever kept as a class, see shadow.h).
// Plain value; immutable after LoadAccountDb returns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/parsers/shadow.h"
#include "common/fs.h"
#include "common/snapshot.h"

namespace tidemark::agent {

inline constexpr std::string_view kPasswdPath = "/etc/passwd";
inline constexpr std::string_view kGroupPath = "/etc/group";

struct PasswdEntry {
  std::string name;
  bool password_shadowed = true;  // field 2 is "x" (never keep the field itself)
  bool password_field_empty = false;
  // Classification of field 2 (status and scheme only, never the field): what login would use
  // when the field is not "x" (pam_unix and login(1) take the passwd field unless it is "x").
  PasswordClass passwd_field_class;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string gecos;
  std::string home;
  std::string shell;
  int64_t line = 0;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
  int64_t line = 0;
};

// Lookups go through indexes built on first use, so they cost O(1) on a host with 10,000 users.
// REQUIRES: `users` and `groups` are not modified after the first lookup.
struct AccountDb {
  std::vector<PasswdEntry> users;    // in file order
  std::vector<GroupEntry> groups;    // in file order
  Status passwd_status;              // how reading /etc/passwd went
  Status group_status;               // how reading /etc/group went
  std::vector<SectionError> errors;  // unreadable files and malformed lines
  // NIS compat lines ("+", "-", "+name", "+@netgroup") seen, by file and line: they pull entries
  // from other sources that a files-only read cannot enumerate. `message` is the kind, see
  // CompatKind().
  std::vector<SectionError> compat_lines;

  // Returns the first user with this name (as the C library's getpwnam would), or nullptr.
  const PasswdEntry* FindUser(std::string_view name) const;
  // Returns the first user with this uid, or nullptr.
  const PasswdEntry* FindUserById(uint32_t uid) const;
  // Returns the first group with this name, or nullptr.
  const GroupEntry* FindGroup(std::string_view name) const;
  // Returns the first group with this gid, or nullptr.
  const GroupEntry* FindGroupById(uint32_t gid) const;
  // Returns the user's effective gids: the primary gid first, then the gids of every group that
  // lists the user as a member, in group-file order, without duplicates.
  std::vector<uint32_t> GroupIdsOf(const PasswdEntry& user) const;
  // Returns every group that lists `user_name` as a member, in group-file order.
  std::vector<const GroupEntry*> GroupsListing(std::string_view user_name) const;

 private:
  struct Index {
    std::unordered_map<std::string, size_t> user_by_name, group_by_name;
    std::unordered_map<uint32_t, size_t> user_by_uid, group_by_gid;
    std::unordered_map<std::string, std::vector<size_t>> groups_by_member;
  };
  const Index& index() const;
  mutable std::shared_ptr<const Index> index_;  // copies share it: the vectors are equal
};

// Reads /etc/passwd and /etc/group from `fs`.
AccountDb LoadAccountDb(const Fs& fs);

// Parses passwd text; malformed lines become errors naming `path` and the line.
std::vector<PasswdEntry> ParsePasswd(std::string_view text, std::string_view path,
                                     std::vector<SectionError>& errors,
                                     std::vector<SectionError>* compat_lines = nullptr);
// Parses group text; malformed lines become errors naming `path` and the line.
std::vector<GroupEntry> ParseGroup(std::string_view text, std::string_view path,
                                   std::vector<SectionError>& errors,
                                   std::vector<SectionError>* compat_lines = nullptr);

// Returns the kind of a NIS compat line (passwd(5)/group(5) under nsswitch "compat"):
// "include_all" ("+"), "exclude_all" ("-"), "include_netgroup" ("+@ng"), "exclude_netgroup"
// ("-@ng"), "include_name" ("+name"), "exclude_name" ("-name"). Never contains line content.
std::string CompatKind(std::string_view line);

// isspace(3) in the C locale.
inline bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Splits `s` at every `sep` (keeps empty fields).
std::vector<std::string_view> SplitFields(std::string_view s, char sep);
// Parses a uid or gid field as glibc's files source does (strtoul, base 10: blanks before it,
// a sign and leading zeros are taken, so `+0`, ` 0` and `-0` are 0; nothing after it; at
// most 0xffffffff); returns nullopt where glibc skips the line.
std::optional<uint32_t> ParseId(std::string_view s);

}  // namespace tidemark::agent
