#include "agent/parsers/shadow.h"

#include "agent/parsers/account_db.h"
#include "agent/parsers/lines.h"

namespace tidemark::agent {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// crypt(5): the "./0-9A-Za-z" alphabet of the traditional DES and BSDi hashes.
bool IsCryptChar(char c) {
  return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}

bool AllCryptChars(std::string_view s) {
  for (char c : s) {
    if (!IsCryptChar(c)) return false;
  }
  return true;
}

// Parses an optional day count as glibc's sgetspent does (INT_FIELD_MAYBE_NULL: the id
// fields' strtoul reading, then (long)(int)): "" -> nullopt; `+5`, ` 5` and `007` are 5 and
// 7; a value over 0xffffffff (negative ones included) or anything after the number sets *bad
// (glibc skips the line); 4294967295 is (int)-1, glibc's "not set" -> nullopt, and from
// 2147483648 on the value is negative. Checked against getent -s files shadow.
std::optional<int64_t> ParseDays(std::string_view s, bool* bad) {
  if (s.empty()) return std::nullopt;
  std::optional<uint32_t> v = ParseId(s);
  if (!v) {
    *bad = true;
    return std::nullopt;
  }
  auto days = static_cast<int32_t>(*v);
  if (days == -1) return std::nullopt;
  return days;
}

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (auto m : SplitFields(s, ',')) {
    if (!m.empty()) out.emplace_back(m);
  }
  return out;
}

// Walks the lines of a secret file the way glibc's nss_files reads them (__nss_readline: leading
// blanks removed, empty lines and lines starting with '#' skipped), handling the problems common
// to shadow and gshadow. Calls parse(line, number) for every other line; parse returns an error
// reason ("" when the line was used). No message ever contains any part of a line.
template <typename Entry, typename Parse>
SecretFile<Entry> ParseSecret(std::string_view text, std::string_view path, const KnownName& known,
                              Parse&& parse) {
  SecretFile<Entry> out;
  auto skip = [&](int64_t number, std::string_view line, std::string reason) {
    SkippedLine s;
    s.line = number;
    std::string_view first = line.substr(0, line.find_first_of(std::string_view(":\0", 2)));
    if (!first.empty() && first.size() <= 256 && known && known(first)) {
      s.known_name = std::string(first);
    }
    out.skipped.push_back(std::move(s));
    out.errors.push_back({std::string(path), number, std::move(reason)});
  };
  ForEachLine(text, [&](std::string_view line, int64_t number) {
    if (line.size() > kMaxAccountLineBytes) {
      skip(number, line,
           "line longer than " + std::to_string(kMaxAccountLineBytes) + " bytes; skipped");
      return true;
    }
    while (!line.empty() && IsAsciiSpace(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') return true;
    if (HasNul(line)) {
      skip(number, line, "line contains a NUL byte; skipped");
      return true;
    }
    if (line.front() == '+' || line.front() == '-') {
      out.compat_lines.push_back({std::string(path), number, CompatKind(line)});
      return true;
    }
    std::string reason = parse(line, number, out.entries);
    if (!reason.empty()) skip(number, line, std::move(reason));
    return true;
  });
  return out;
}

}  // namespace

std::string_view PasswordStatusName(PasswordStatus status) {
  switch (status) {
    case PasswordStatus::kHashed:
      return "hashed";
    case PasswordStatus::kLocked:
      return "locked";
    case PasswordStatus::kNoLogin:
      return "no_login";
    case PasswordStatus::kEmpty:
      return "empty";
  }
  return "unknown";
}

std::optional<std::string_view> HashSchemeName(HashScheme scheme) {
  switch (scheme) {
    case HashScheme::kNone:
      return std::nullopt;
    case HashScheme::kYescrypt:
      return "yescrypt";
    case HashScheme::kGostYescrypt:
      return "gost-yescrypt";
    case HashScheme::kScrypt:
      return "scrypt";
    case HashScheme::kBcrypt:
      return "bcrypt";
    case HashScheme::kSha512:
      return "sha512";
    case HashScheme::kSha256:
      return "sha256";
    case HashScheme::kSha1:
      return "sha1";
    case HashScheme::kSunMd5:
      return "sunmd5";
    case HashScheme::kMd5:
      return "md5";
    case HashScheme::kBsdi:
      return "bsdi";
    case HashScheme::kDes:
      return "des";
    case HashScheme::kUnknown:
      return "unknown";
  }
  return "unknown";
}

HashScheme ClassifyHash(std::string_view h) {
  // crypt(5) "Hashing methods": each method's hashes begin with its prefix.
  if (h.empty()) return HashScheme::kNone;
  if (StartsWith(h, "$y$")) return HashScheme::kYescrypt;
  if (StartsWith(h, "$gy$")) return HashScheme::kGostYescrypt;
  if (StartsWith(h, "$7$")) return HashScheme::kScrypt;
  if (StartsWith(h, "$2b$") || StartsWith(h, "$2a$") || StartsWith(h, "$2y$") ||
      StartsWith(h, "$2x$")) {
    return HashScheme::kBcrypt;
  }
  if (StartsWith(h, "$6$")) return HashScheme::kSha512;
  if (StartsWith(h, "$5$")) return HashScheme::kSha256;
  if (StartsWith(h, "$sha1$")) return HashScheme::kSha1;
  if (StartsWith(h, "$md5$") || StartsWith(h, "$md5,")) return HashScheme::kSunMd5;
  if (StartsWith(h, "$1$")) return HashScheme::kMd5;
  // bsdicrypt: "_" + 4 rounds + 4 salt + 11 hash characters.
  if (h.front() == '_' && h.size() == 20 && AllCryptChars(h.substr(1))) return HashScheme::kBsdi;
  // descrypt: 2 salt + 11 hash characters.
  if (h.size() == 13 && AllCryptChars(h)) return HashScheme::kDes;
  return HashScheme::kUnknown;
}

PasswordClass ClassifyPassword(std::string_view field) {
  // shadow(5): empty = no password; "!" prefix = locked (the rest is the old hash); a field that
  // is not a valid crypt result (e.g. "*") can never match a password.
  if (field.empty()) return {PasswordStatus::kEmpty, HashScheme::kNone};
  if (field.front() == '!') {
    std::string_view rest = field;
    while (!rest.empty() && rest.front() == '!') rest.remove_prefix(1);
    HashScheme scheme =
        rest.empty() || rest.front() == '*' ? HashScheme::kNone : ClassifyHash(rest);
    return {PasswordStatus::kLocked, scheme};
  }
  if (field.front() == '*') return {PasswordStatus::kNoLogin, HashScheme::kNone};
  return {PasswordStatus::kHashed, ClassifyHash(field)};
}

std::string_view GroupPasswordClassName(GroupPasswordClass c) {
  switch (c) {
    case GroupPasswordClass::kNone:
      return "none";
    case GroupPasswordClass::kLocked:
      return "locked";
    case GroupPasswordClass::kSet:
      return "set";
  }
  return "set";
}

GroupPasswordClass ClassifyGroupPassword(std::string_view field) {
  // gshadow(5): empty = only members may use the group; "!" or "*" = no password can match.
  if (field.empty()) return GroupPasswordClass::kNone;
  if (field.front() == '!' || field.front() == '*') return GroupPasswordClass::kLocked;
  return GroupPasswordClass::kSet;
}

bool LooksLikeAccountName(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  if (name.front() == '$' || name.front() == '!' || name.front() == '*') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c <= ' ' || c > '~' || c == ':' || c == ',') return false;
    if (c == '$' && i + 1 != name.size()) return false;
  }
  return true;
}

ShadowFile ParseShadow(std::string_view text, std::string_view path, const KnownName& known) {
  return ParseSecret<ShadowEntry>(
      text, path, known,
      [](std::string_view line, int64_t number, std::vector<ShadowEntry>& entries) -> std::string {
        auto f = SplitFields(line, ':');
        // shadow(5) has 9 fields; glibc and shadow-utils also accept the old 5-field form.
        if (f.size() != 9 && f.size() != 5) {
          return "expected 9 colon-separated fields, found " + std::to_string(f.size()) +
                 "; line skipped";
        }
        if (f[0].empty()) return "empty user name; line skipped";
        bool bad = false;
        ShadowEntry e;
        e.last_change = ParseDays(f[2], &bad);
        e.min_days = ParseDays(f[3], &bad);
        e.max_days = ParseDays(f[4], &bad);
        if (f.size() == 9) {
          e.warn_days = ParseDays(f[5], &bad);
          e.inactive_days = ParseDays(f[6], &bad);
          e.expire = ParseDays(f[7], &bad);
          // f[8] is reserved (shadow(5)); its content is ignored.
        }
        if (bad) return "a date or day-count field is not a non-negative number; line skipped";
        e.name = std::string(f[0]);
        e.password = ClassifyPassword(f[1]);
        e.line = number;
        entries.push_back(std::move(e));
        return {};
      });
}

GshadowFile ParseGshadow(std::string_view text, std::string_view path, const KnownName& known) {
  return ParseSecret<GshadowEntry>(
      text, path, known,
      [](std::string_view line, int64_t number, std::vector<GshadowEntry>& entries) -> std::string {
        auto f = SplitFields(line, ':');
        if (f.size() != 4) {
          return "expected 4 colon-separated fields, found " + std::to_string(f.size()) +
                 "; line skipped";
        }
        if (f[0].empty()) return "empty group name; line skipped";
        GshadowEntry e;
        e.name = std::string(f[0]);
        e.password = ClassifyGroupPassword(f[1]);
        e.administrators = SplitList(f[2]);
        e.members = SplitList(f[3]);
        e.line = number;
        entries.push_back(std::move(e));
        return {};
      });
}

}  // namespace tidemark::agent
