// Parsers for /etc/shadow (shadow(5)) and /etc/gshadow (gshadow(5)) that keep only what an audit
// may show. A password field is classified (status and hash scheme, crypt(5)) the moment it is
// read and then dropped: no hash, salt or part of one is ever copied into these structures, into
// an error message or into any other string. Names of skipped lines are kept only when they equal
// a name the caller already knows (from passwd or group), so a malformed line never leaks.
// Plain values; the functions are pure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent {

inline constexpr std::string_view kShadowPath = "/etc/shadow";
inline constexpr std::string_view kGshadowPath = "/etc/gshadow";

// Lines longer than this are skipped with an error (glibc has no limit; we bound memory).
inline constexpr size_t kMaxAccountLineBytes = 64 * 1024;

// What a password field allows, per shadow(5) and crypt(5).
enum class PasswordStatus {
  kHashed,   // a crypt(3) hash: password login possible
  kLocked,   // starts with "!": locked (usermod -L / passwd -l); the rest may still be a hash
  kNoLogin,  // starts with "*" ("*", "*LK*", "*NP*"): can never match any password
  kEmpty,    // empty field: no password at all (login without a password where PAM allows nullok)
};

// The hashing method of a crypt(5) hash, told by its prefix only.
enum class HashScheme {
  kNone,  // no hash present (empty, "*...", bare "!")
  kYescrypt,
  kGostYescrypt,
  kScrypt,
  kBcrypt,
  kSha512,
  kSha256,
  kSha1,
  kSunMd5,
  kMd5,
  kBsdi,
  kDes,
  kUnknown,  // something else (not a hash any crypt(5) method produces)
};

// Returns "hashed", "locked", "no_login", "empty".
std::string_view PasswordStatusName(PasswordStatus status);
// Returns the scheme name ("yescrypt", "gost-yescrypt", "scrypt", "bcrypt", "sha512", "sha256",
// "sha1", "sunmd5", "md5", "bsdi", "des", "unknown"), or nullopt for kNone. The names are
// constants: nothing of the classified field is ever part of them.
std::optional<std::string_view> HashSchemeName(HashScheme scheme);

struct PasswordClass {
  PasswordStatus status = PasswordStatus::kEmpty;
  HashScheme scheme = HashScheme::kNone;
  bool operator==(const PasswordClass&) const = default;
};

// Classifies a shadow (or legacy passwd) password field.
PasswordClass ClassifyPassword(std::string_view field);
// Returns the scheme of a hash by its prefix (crypt(5)); kNone for "".
HashScheme ClassifyHash(std::string_view hash);

// The password field of a gshadow entry, by class only.
enum class GroupPasswordClass {
  kNone,    // empty: only members may use the group (gshadow(5))
  kLocked,  // starts with "!" or "*": no password can match
  kSet,     // anything else: a group password is set (newgrp(1) asks for it)
};
// Returns "none", "locked", "set".
std::string_view GroupPasswordClassName(GroupPasswordClass c);
GroupPasswordClass ClassifyGroupPassword(std::string_view field);

struct ShadowEntry {
  std::string name;
  PasswordClass password;
  // Days since 1970-01-01 / day counts; nullopt when the field is empty (shadow(5)).
  std::optional<int64_t> last_change;
  std::optional<int64_t> min_days;
  std::optional<int64_t> max_days;
  std::optional<int64_t> warn_days;
  std::optional<int64_t> inactive_days;
  std::optional<int64_t> expire;
  int64_t line = 0;
};

struct GshadowEntry {
  std::string name;
  GroupPasswordClass password = GroupPasswordClass::kNone;
  std::vector<std::string> administrators;
  std::vector<std::string> members;
  int64_t line = 0;
};

// A line that could not be used. `known_name` is the line's first field only when that field
// equals a name accepted by the caller's filter (a passwd user, a group); otherwise empty.
struct SkippedLine {
  int64_t line = 0;
  std::string known_name;
};

// Returns true for names the caller already knows and may therefore appear in output.
using KnownName = std::function<bool(std::string_view)>;

template <typename Entry>
struct SecretFile {
  std::vector<Entry> entries;              // well-formed entries in file order (duplicates kept)
  std::vector<SkippedLine> skipped;        // malformed lines (never their content)
  std::vector<SectionError> errors;        // one per skipped line: path, line, reason only
  std::vector<SectionError> compat_lines;  // NIS "+"/"-" lines (path and line only)
};
using ShadowFile = SecretFile<ShadowEntry>;
using GshadowFile = SecretFile<GshadowEntry>;

// Parses shadow text. Accepts the 9-field form and the old 5-field form (both accepted by
// glibc's sgetspent_r and shadow-utils' sgetspent); numeric fields must be empty or a
// non-negative decimal number (shadow-utils; glibc also takes "-1" as "unset").
ShadowFile ParseShadow(std::string_view text, std::string_view path, const KnownName& known);
// Parses gshadow text: exactly 4 fields name:password:administrators:members (gshadow(5)).
GshadowFile ParseGshadow(std::string_view text, std::string_view path, const KnownName& known);

// Returns true when `name` may be shown as an account name taken from a secret file: 1-256
// printable ASCII characters without ':' ',' or blanks, not starting with '$', '!' or '*', and
// '$' only as the last character (Samba machine accounts). Hash-like text never passes.
bool LooksLikeAccountName(std::string_view name);

}  // namespace tidemark::agent
