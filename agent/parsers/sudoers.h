// The sudoers policy parser: sudoers(5) text -> entries (Defaults, aliases, user specifications),
// plus the include resolver that follows @include / @includedir through an Fs.
//
// It reproduces sudo 1.9.13's lexer (plugins/sudoers/toke.l) and grammar (gram.y) with a small
// hand-written tokenizer and a recursive-descent parser over the EBNF of sudoers(5). A syntax
// error is reported as path:line (like visudo) and the parser skips to the end of that entry, so
// every other entry is still collected. Alias expansion is separate (ExpandAliases) and memoized.
// Plain values; a Parse/Load call has no shared state.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/snapshot.h"

namespace tidemark::agent::sudoers {

inline constexpr std::string_view kSudoersPath = "/etc/sudoers";

// sudo's MAX_SUDOERS_DEPTH is 128 but the check in push_include() only runs when its include
// stack (grown 16 entries at a time) is full, so sudo 1.9.13 really fails at nesting depth 144
// (verified with visudo -c on a chain of includes). A file at this depth may not include more.
inline constexpr int kMaxIncludeDepth = 144;

// Bounds on the work and memory a hostile sudoers tree can cause (docs/sections/sudo.md,
// "Bounds"). sudo itself never expands aliases, so these are ours; each is far above what a
// real configuration uses, and what is cut is reported as an error naming the file and line.
// Files read, re-reads included (an include tree where each file includes the next twice is
// 2^depth reads).
inline constexpr size_t kMaxFiles = 1000;
// Bytes of sudoers text read in all, and per file.
inline constexpr uint64_t kMaxTotalBytes = 32ull << 20;
// Parsed structure, in bytes (members, Cmnd_Specs, values, and what a Cmnd_Spec inherits from
// the one before it, which a list of N commands after a Runas_Spec of M users copies N times).
inline constexpr uint64_t kMaxParsedBytes = 64ull << 20;
// Errors reported for the whole tree.
inline constexpr size_t kMaxErrors = 1000;
// Alias references followed inside one another.
inline constexpr int kMaxAliasDepth = 1000;
// Members of one expanded list (an alias, a User_List, ...): the rest are left out.
inline constexpr size_t kMaxExpandedMembers = 10000;
// Work units for alias expansion and everything built on it (a unit is one member copied, per
// 32 bytes of its text, or one membership test): bounds time and memory of the whole section.
inline constexpr uint64_t kExpansionBudget = 4000000;

// What a list member is (gram.y's member types).
enum class MemberKind {
  kWord,         // user name, #uid, host name, group name in a runas group list
  kUserGroup,    // "%group", "%#gid", "%:nonunix", "%:#gid" (name keeps the '%')
  kNetgroup,     // "+netgroup" (name keeps the '+')
  kNetworkAddr,  // IPv4/IPv6 address or network
  kAll,          // the ALL reserved word
  kAlias,        // an alias name, expanded later
  kMyself,       // empty runas user list: "()" or "(:)"
  kCommand,      // a command path (or regex, directory, "sudoedit", "list") with args
};

struct Digest {
  std::string algorithm;  // "sha224", "sha256", "sha384", "sha512"
  std::string value;      // hex or base64, as written
};

struct Member {
  MemberKind kind = MemberKind::kWord;
  bool negated = false;
  std::string name;  // unescaped text; for commands the path; empty for ALL and MYSELF
  std::string args;  // commands only: arguments as sudo stores them (escapes removed)
  bool has_args = false;
  std::vector<Digest> digests;  // commands (and ALL in a command list) only
};

enum class AliasType { kUser, kRunas, kHost, kCmnd };
std::string_view AliasTypeName(AliasType type);  // "User_Alias", ...

struct SourceRef {
  std::string file;
  int64_t line = 0;
};

struct Alias {
  AliasType type = AliasType::kUser;
  std::string name;
  std::vector<Member> members;
  SourceRef source;
};

enum class DefaultsType { kGlobal, kUser, kHost, kRunas, kCommand };
std::string_view DefaultsTypeName(DefaultsType type);  // "global", "user", ...

struct DefaultsEntry {
  DefaultsType type = DefaultsType::kGlobal;
  std::vector<Member> binding;  // empty for global Defaults
  std::string name;
  std::optional<std::string> value;  // absent for a plain flag
  std::string op;                    // "", "=", "+=", "-="
  bool negated = false;              // "!name"
  SourceRef source;
};

// A tag's state; kImplied is SETENV implied by the command ALL (gram.y: IMPLIED).
enum class TagState : int8_t { kUnset, kOff, kOn, kImplied };

struct Tags {
  TagState nopasswd = TagState::kUnset;
  TagState noexec = TagState::kUnset;
  TagState setenv = TagState::kUnset;
  TagState log_input = TagState::kUnset;
  TagState log_output = TagState::kUnset;
  TagState mail = TagState::kUnset;
  TagState follow = TagState::kUnset;
  TagState intercept = TagState::kUnset;
};

struct CmndSpec {
  // Runas_Spec (after carry-over). Both absent: no Runas_Spec (runs as runas_default).
  std::optional<std::vector<Member>> runas_users;
  std::optional<std::vector<Member>> runas_groups;
  Tags tags;  // after carry-over from earlier Cmnd_Specs of the same list
  std::optional<std::string> cwd, chroot, role, type;
  std::optional<int64_t> timeout;                  // seconds
  std::optional<std::string> notbefore, notafter;  // normalized "YYYYMMDDHHMMSSZ" (UTC)
  Member command;
  int64_t line = 0;  // line of the command token
};

struct Privilege {
  std::vector<Member> hosts;
  std::vector<CmndSpec> cmnds;
};

struct UserSpec {
  std::vector<Member> users;
  std::vector<Privilege> privileges;
  SourceRef source;  // where the entry starts
};

struct FileRecord {
  std::string path;
  FileInfo info;
  std::optional<SourceRef> included_from;  // absent for /etc/sudoers itself
  std::string via;                         // "", "include", "includedir"
};

struct IncludeDirRecord {
  std::string path;
  SourceRef included_from;
  std::string status;                // "read", "missing", "error"
  std::vector<std::string> files;    // in-root paths parsed, in order
  std::vector<std::string> skipped;  // names skipped (contain '.', end in '~', not a regular file)
};

struct Policy {
  std::vector<UserSpec> userspecs;
  std::vector<DefaultsEntry> defaults;
  std::map<std::pair<AliasType, std::string>, Alias> aliases;
  std::vector<FileRecord> files;
  std::vector<IncludeDirRecord> includedirs;
  std::vector<SectionError> errors;
  uint64_t parsed_bytes = 0;   // charged against kMaxParsedBytes
  bool parse_stopped = false;  // kMaxParsedBytes reached: later text was not parsed
  size_t files_read = 0;       // charged against kMaxFiles
  uint64_t bytes_read = 0;     // charged against kMaxTotalBytes
  size_t skipped_listed = 0;   // names in includedirs[].skipped (at most kMaxFiles)
  size_t skipped_total = 0;    // names include directories skipped
  uint64_t regex_copies = 0;   // charged against kMaxRegexCopiesTotal (sudoers_regex.h)
};

// Appends `error` to `errors` unless kMaxErrors are already there (the last one kept says so).
void AddBoundedError(std::vector<SectionError>& errors, SectionError error);

// How the parser asks its caller to follow an include directive (already resolved to an
// absolute in-root path: relative paths against the including file's folder, %h expanded).
struct IncludeRequest {
  std::string path;
  bool is_dir = false;
  int64_t line = 0;
};

// Parses the text of one sudoers file into `policy` (appending). `on_include` is called at each
// include directive, in order, so that included entries land where sudo would read them.
// `short_host` replaces %h in include paths.
void ParseSudoersText(std::string_view text, std::string_view path, std::string_view short_host,
                      Policy& policy, const std::function<void(const IncludeRequest&)>& on_include);

// Reads `main_path` (normally /etc/sudoers) and every file it includes through `fs`.
// `main_status` receives how reading the main file went (kNotFound when absent).
Policy LoadSudoers(const Fs& fs, std::string_view main_path, std::string_view short_host,
                   Status* main_status);

// Expands aliases (memoized) into flat member lists. A negated alias reference negates each of
// its members (cvtsudoers -e semantics: "!A" with A = x, !y gives !x, y). Undefined aliases and
// alias cycles are reported once each into `errors` and expand to nothing.
// Bounded: an expanded list keeps at most kMaxExpandedMembers, alias references nest at most
// kMaxAliasDepth deep, and all work (Spend) shares kExpansionBudget; each cut is reported.
class AliasExpander {
 public:
  AliasExpander(const Policy& policy, std::vector<SectionError>& errors)
      : policy_(policy), errors_(errors) {}
  // Appends the expansion of `list` (whose aliases are of `type`) to `out`, at most
  // kMaxExpandedMembers of it. Appends nothing once the budget is exhausted.
  void Expand(const std::vector<Member>& list, AliasType type, std::vector<Member>& out,
              const SourceRef& where);
  // Charges `units` of work; returns false (and reports it once, at `where`) when the budget
  // is exhausted.
  bool Spend(uint64_t units, const SourceRef& where);
  // Returns true once the budget is exhausted: later results are incomplete.
  bool exhausted() const { return exhausted_; }

 private:
  const std::vector<Member>* ExpandAlias(AliasType type, const std::string& name,
                                         const SourceRef& where, bool& tainted, int depth);
  // Appends `m` (negated when `negate`) to `out` unless `out` is full or the budget is gone;
  // returns false when it was not appended.
  bool Append(std::vector<Member>& out, const Member& m, bool negate, const SourceRef& where);

  const Policy& policy_;
  std::vector<SectionError>& errors_;
  uint64_t budget_ = kExpansionBudget;
  bool exhausted_ = false;
  std::map<std::pair<AliasType, std::string>, std::vector<Member>> memo_;
  std::map<std::pair<AliasType, std::string>, bool> visiting_;
  std::map<std::pair<AliasType, std::string>, bool> reported_;
  std::deque<std::vector<Member>> scratch_;  // results inside alias cycles (not memoized)
};

// Parses a sudoers(5) Timeout_Spec ("7d8h30m10s", "600") into seconds; nullopt if invalid.
std::optional<int64_t> ParseTimeout(std::string_view s);
// Parses a Date_Spec (RFC 4517 generalized time, minutes/seconds optional, "Z" or +-HHMM, local
// time treated as UTC) into "YYYYMMDDHHMMSSZ"; nullopt if invalid.
std::optional<std::string> NormalizeGentime(std::string_view s);

}  // namespace tidemark::agent::sudoers
