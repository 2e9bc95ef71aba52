#include "agent/parsers/crontab.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "agent/parsers/lines.h"
#include "common/text.h"

namespace tidemark::agent::cron {
namespace {

constexpr std::string_view kMask = "***";
constexpr size_t kMaxEntriesPerFile = 10000;
constexpr std::array<std::string_view, 7> kWords = {"pass", "pwd",        "token", "secret",
                                                    "key",  "credential", "auth"};

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Returns the end of a shell-ish word value starting at `pos`: quotes are consumed whole; it
// stops at unquoted whitespace or one of `stops`.
size_t ValueEnd(std::string_view s, size_t pos, std::string_view stops) {
  while (pos < s.size()) {
    char c = s[pos];
    if (c == '\'' || c == '"') {
      size_t close = s.find(c, pos + 1);
      pos = close == std::string_view::npos ? s.size() : close + 1;
      continue;
    }
    if (c == '\\' && pos + 1 < s.size()) {
      pos += 2;
      continue;
    }
    if (IsSpace(c) || stops.find(c) != std::string_view::npos) break;
    ++pos;
  }
  return pos;
}

// Replaces [begin, end) spans of `s` by the mask; spans must not overlap and are sorted.
std::string ApplySpans(std::string_view s, std::vector<std::pair<size_t, size_t>> spans) {
  std::sort(spans.begin(), spans.end());
  std::string out;
  size_t pos = 0;
  for (auto [b, e] : spans) {
    if (b < pos) {  // overlapping spans merge into the one already masked
      pos = std::max(pos, e);
      continue;
    }
    out.append(s.substr(pos, b - pos));
    out.append(kMask);
    pos = e;
  }
  out.append(s.substr(pos));
  return out;
}

// Rule 1: scheme://user:password@ -- the text between the first ":" after "://" and the last
// "@" before the next whitespace.
void UrlSpans(std::string_view s, std::vector<std::pair<size_t, size_t>>& spans) {
  size_t pos = 0;
  while ((pos = s.find("://", pos)) != std::string_view::npos) {
    size_t begin = pos + 3;
    size_t end = begin;
    while (end < s.size() && !IsSpace(s[end]) && s[end] != '\'' && s[end] != '"') ++end;
    std::string_view auth = s.substr(begin, end - begin);
    size_t at = auth.rfind('@');
    if (at != std::string_view::npos) {
      size_t colon = auth.find(':');
      if (colon != std::string_view::npos && colon < at && colon + 1 < at)
        spans.push_back({begin + colon + 1, begin + at});
    }
    pos = end;
  }
}

// Rule 2: NAME=VALUE anywhere (env assignments, --name=value, query strings).
void AssignmentSpans(std::string_view s, std::vector<std::pair<size_t, size_t>>& spans) {
  for (size_t eq = s.find('='); eq != std::string_view::npos; eq = s.find('=', eq + 1)) {
    size_t b = eq;
    while (b > 0 && IsNameChar(s[b - 1])) --b;
    std::string_view name = s.substr(b, eq - b);
    if (!IsSecretName(name)) continue;
    size_t end = ValueEnd(s, eq + 1, "&;|");
    if (end > eq + 1) spans.push_back({eq + 1, end});
  }
}

// Rule 4: "NAME: VALUE" and "\"NAME\": \"VALUE\"" (HTTP headers such as
// "Authorization: Bearer T", JSON bodies) where NAME holds a secret word: a double-quoted value
// is masked to its closing quote; otherwise the value runs to the end of the enclosing quotes,
// or of the word when unquoted.
void ColonSpans(std::string_view s, std::vector<std::pair<size_t, size_t>>& spans) {
  // The quote character enclosing each position (0: none), as a shell would see it.
  std::vector<char> quote(s.size(), 0);
  char q = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (q == 0 && c == '\\' && i + 1 < s.size()) {
      ++i;
      continue;
    }
    if (q == 0 && (c == '\'' || c == '"')) {
      q = c;
    } else if (q != 0 && c == q) {
      q = 0;
    } else {
      quote[i] = q;
    }
  }
  for (size_t colon = s.find(':'); colon != std::string_view::npos;
       colon = s.find(':', colon + 1)) {
    size_t end_name = colon;
    if (end_name > 0 && s[end_name - 1] == '"') --end_name;  // JSON: "name":
    size_t b = end_name;
    while (b > 0 && IsNameChar(s[b - 1])) --b;
    if (b == end_name || !IsSecretName(s.substr(b, end_name - b))) continue;
    size_t v = colon + 1;
    while (v < s.size() && (s[v] == ' ' || s[v] == '\t')) ++v;
    if (v >= s.size()) continue;
    if (v == colon + 1 && end_name == colon && quote[colon] == 0) continue;  // "name:x" bare
    size_t end;
    if (s[v] == '"' && end_name != colon) {  // JSON string value
      end = v + 1;
      while (end < s.size() && s[end] != '"') end += s[end] == '\\' ? 2 : 1;
      end = std::min(end, s.size());
      if (end > v + 1) spans.push_back({v + 1, end});
      continue;
    }
    char enclosing = quote[colon];
    end = v;
    if (enclosing != 0) {
      while (end < s.size() && !(s[end] == enclosing && quote[end] == 0)) ++end;
    } else {
      end = ValueEnd(s, v, ",;&|");
    }
    if (end > v) spans.push_back({v, end});
  }
}

// Rule 3: "--name VALUE" / "-name VALUE" (a separate word after an option whose name holds a
// secret word) and "--user NAME:PASSWORD".
void OptionSpans(std::string_view s, std::vector<std::pair<size_t, size_t>>& spans) {
  std::vector<std::pair<size_t, size_t>> words;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && IsSpace(s[pos])) ++pos;
    if (pos >= s.size()) break;
    size_t end = ValueEnd(s, pos, "");
    if (end == pos) end = pos + 1;
    words.push_back({pos, end});
    pos = end;
  }
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    std::string_view w = s.substr(words[i].first, words[i].second - words[i].first);
    if (w.size() < 2 || w[0] != '-' || w.find('=') != std::string_view::npos) continue;
    std::string_view name = w.substr(w[1] == '-' ? 2 : 1);
    auto next = words[i + 1];
    bool user_option = w == "-u" || AsciiLower(name) == "user";
    if (name.size() < 2 && !user_option) continue;
    if (IsSecretName(name)) {
      spans.push_back(next);
      ++i;
    } else if (user_option) {
      std::string_view v = s.substr(next.first, next.second - next.first);
      size_t colon = v.find(':');
      if (colon != std::string_view::npos && colon + 1 < v.size())
        spans.push_back({next.first + colon + 1, next.second});
    }
  }
}

// Rule 5: short password options of well-known programs, which rule 3 cannot see because the
// option name holds no secret word. The program is the basename of a word; its options apply to
// the following words up to a shell separator (; & |). Forms, from each program's manual:
//   attached "-pSECRET": mysql, mysqldump, mysqladmin, mysqlcheck, mysqlimport, mysqlshow,
//     mysqlpump, mariadb, mariadb-dump, mariadb-admin, mariadb-check (mysql(1): "-p[password]",
//     the value must follow without a space; "-p" alone prompts)
//   "-p SECRET" or "-pSECRET": sshpass, mongo, mongosh, mongodump, mongorestore, mongoexport,
//     mongoimport
//   "-a SECRET" or "-aSECRET": redis-cli (redis-cli(1) -a <password>)
//   "-w SECRET" or "-wSECRET": ldapsearch, ldapadd, ldapmodify, ldapdelete, ldapmodrdn,
//     ldappasswd, ldapwhoami, ldapcompare (ldap(1) -w passwd)
//   "-U user%SECRET": smbclient, rpcclient, smbcacls, smbget (after the '%')
//   "-u user,SECRET": lftp (after the first ',')
struct ShortRule {
  char option;
  bool separate;  // the value may also be the next word
  char after;     // 0: the whole value; else only what follows this character
};

const ShortRule* FindShortRule(std::string_view program, char option) {
  static const ShortRule kMysql = {'p', false, 0};
  static const ShortRule kSeparateP = {'p', true, 0};
  static const ShortRule kRedis = {'a', true, 0};
  static const ShortRule kLdap = {'w', true, 0};
  static const ShortRule kSmb = {'U', true, '%'};
  static const ShortRule kLftp = {'u', true, ','};
  static const std::array<std::pair<std::string_view, const ShortRule*>, 30> kPrograms = {{
      {"mysql", &kMysql},           {"mysqldump", &kMysql},
      {"mysqladmin", &kMysql},      {"mysqlcheck", &kMysql},
      {"mysqlimport", &kMysql},     {"mysqlshow", &kMysql},
      {"mysqlpump", &kMysql},       {"mariadb", &kMysql},
      {"mariadb-dump", &kMysql},    {"mariadb-admin", &kMysql},
      {"mariadb-check", &kMysql},   {"sshpass", &kSeparateP},
      {"mongo", &kSeparateP},       {"mongosh", &kSeparateP},
      {"mongodump", &kSeparateP},   {"mongorestore", &kSeparateP},
      {"mongoexport", &kSeparateP}, {"mongoimport", &kSeparateP},
      {"redis-cli", &kRedis},       {"ldapsearch", &kLdap},
      {"ldapadd", &kLdap},          {"ldapmodify", &kLdap},
      {"ldapdelete", &kLdap},       {"ldapmodrdn", &kLdap},
      {"ldappasswd", &kLdap},       {"ldapwhoami", &kLdap},
      {"ldapcompare", &kLdap},      {"smbclient", &kSmb},
      {"rpcclient", &kSmb},         {"lftp", &kLftp},
  }};
  for (const auto& [name, rule] : kPrograms) {
    if (name == program && rule->option == option) return rule;
  }
  if ((program == "smbcacls" || program == "smbget") && option == 'U') return &kSmb;
  return nullptr;
}

void ShortOptionSpans(std::string_view s, std::vector<std::pair<size_t, size_t>>& spans) {
  std::string_view program;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && IsSpace(s[pos])) ++pos;
    if (pos >= s.size()) break;
    if (s[pos] == ';' || s[pos] == '&' || s[pos] == '|') {  // a separator ends the command
      program = {};
      ++pos;
      continue;
    }
    size_t end = ValueEnd(s, pos, ";&|");
    if (end == pos) end = pos + 1;
    std::string_view w = s.substr(pos, end - pos);
    pos = end;
    if (w.size() >= 2 && w[0] == '-' && w[1] != '-' && !program.empty()) {
      const ShortRule* rule = FindShortRule(program, w[1]);
      if (rule == nullptr) continue;
      size_t vb = static_cast<size_t>(w.data() - s.data()) + 2, ve = pos;
      if (w.size() == 2) {  // "-p VALUE" (mysql: "-p" alone prompts, the next word is not it)
        if (!rule->separate) continue;
        size_t next = pos;
        while (next < s.size() && IsSpace(s[next])) ++next;
        if (next >= s.size() || s[next] == ';' || s[next] == '&' || s[next] == '|') continue;
        vb = next;
        ve = ValueEnd(s, next, ";&|");
        pos = ve;
      }
      if (rule->after != 0) {
        size_t sep = s.substr(vb, ve - vb).find(rule->after);
        if (sep == std::string_view::npos) continue;
        vb += sep + 1;
      }
      if (ve > vb) spans.push_back({vb, ve});
      continue;
    }
    if (w[0] != '-' && w.find('=') == std::string_view::npos) {
      size_t slash = w.rfind('/');
      std::string_view base = slash == std::string_view::npos ? w : w.substr(slash + 1);
      // Only a known program replaces the current one: "mysql -u root -p$(cat f) db" keeps
      // "mysql" while its arguments are read.
      bool known = false;
      for (char o : {'p', 'a', 'w', 'U', 'u'}) known = known || FindShortRule(base, o) != nullptr;
      if (known || program.empty()) program = known ? base : std::string_view{};
    }
  }
}

}  // namespace

bool IsSecretName(std::string_view name) {
  std::string lower = AsciiLower(name);
  for (std::string_view w : kWords) {
    if (lower.find(w) != std::string::npos) return true;
  }
  return false;
}

std::string MaskSecrets(std::string_view text, bool* masked) {
  std::vector<std::pair<size_t, size_t>> spans;
  UrlSpans(text, spans);
  AssignmentSpans(text, spans);
  OptionSpans(text, spans);
  ColonSpans(text, spans);
  ShortOptionSpans(text, spans);
  if (masked) *masked = !spans.empty();
  if (spans.empty()) return std::string(text);
  return ApplySpans(text, std::move(spans));
}

namespace {

// crontab(5): an environment setting is "name = value"; cron's load_env() reads a name
// (optionally quoted) up to "=" or blank, then expects "=". nullopt: `p` is not one.
std::optional<CronEntry> ParseVariable(std::string_view p, int64_t number) {
  size_t i = 0;
  std::string name;
  if (p[0] == '"' || p[0] == '\'') {
    size_t close = p.find(p[0], 1);
    if (close != std::string_view::npos) {
      name = std::string(p.substr(1, close - 1));
      i = close + 1;
    }
  } else {
    while (i < p.size() && p[i] != '=' && !IsBlank(p[i])) ++i;
    name = std::string(p.substr(0, i));
  }
  size_t j = i;
  while (j < p.size() && IsBlank(p[j])) ++j;
  if (name.empty() || j >= p.size() || p[j] != '=') return std::nullopt;
  std::string_view value = TrimBlank(p.substr(j + 1));
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  CronEntry e;
  e.line = number;
  e.is_variable = true;
  e.name = name;
  if (IsSecretName(name)) {
    e.value = std::string(kMask);
    e.masked = true;
  } else {
    e.value = MaskSecrets(value, &e.masked);
  }
  return e;
}

// Returns the next blank-separated field of `s` and removes it (and the blanks before it).
std::string_view NextField(std::string_view& s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  size_t n = 0;
  while (n < s.size() && !IsBlank(s[n])) ++n;
  std::string_view f = s.substr(0, n);
  s.remove_prefix(n);
  return f;
}

// An entry: five time fields or one @keyword, [user,] command. nullopt (with the reason in
// `errors`): the line is ignored, as cron ignores it.
std::optional<CronEntry> ParseEntry(std::string_view p, int64_t number, std::string_view path,
                                    bool system, std::vector<SectionError>& errors) {
  auto ignored = [&](std::string why) {
    errors.push_back({std::string(path), number, std::move(why)});
    return std::nullopt;
  };
  CronEntry e;
  e.line = number;
  std::string_view rest = p;
  if (p.front() == '@') {
    std::string_view kw = NextField(rest);
    static const std::array<std::string_view, 8> kKeywords = {
        "@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"};
    if (std::find(kKeywords.begin(), kKeywords.end(), kw) == kKeywords.end()) {
      return ignored("unknown @ schedule keyword; line ignored");
    }
    e.schedule = std::string(kw);
  } else {
    for (int k = 0; k < 5; ++k) {
      std::string_view f = NextField(rest);
      bool ok = !f.empty() && std::all_of(f.begin(), f.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '*' || c == '/' || c == ',' ||
               c == '-' || c == '~';
      });
      if (!ok) {
        return ignored("malformed schedule (field " + std::to_string(k + 1) + "); line ignored");
      }
      if (!e.schedule.empty()) e.schedule += ' ';
      e.schedule += f;
    }
  }
  if (system) {
    std::string_view user = NextField(rest);
    if (user.empty()) return ignored("entry without a user field; line ignored");
    e.user = std::string(user);
  }
  while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
  if (rest.empty()) return ignored("entry without a command; line ignored");
  e.command = MaskSecrets(rest, &e.masked);
  return e;
}

}  // namespace

std::vector<CronEntry> ParseCrontab(std::string_view text, std::string_view path, bool system,
                                    std::vector<SectionError>& errors, size_t max_line) {
  std::vector<CronEntry> out;
  ErrorCap cap(errors, std::string(path));
  ForEachLine(text, [&](std::string_view raw, int64_t number) {
    cap.Trim();
    if (out.size() >= kMaxEntriesPerFile) {
      cap.Stop({std::string(path), number,
                "more than " + std::to_string(kMaxEntriesPerFile) +
                    " entries and variables; the rest of the file is not read"});
      return false;
    }
    if (!AcceptLine(raw, path, number, max_line, errors)) return true;
    std::string_view p = raw;
    while (!p.empty() && IsBlank(p.front())) p.remove_prefix(1);
    if (p.empty() || p.front() == '#') return true;
    if (auto var = ParseVariable(p, number)) {
      out.push_back(std::move(*var));
      return true;
    }
    if (auto entry = ParseEntry(p, number, path, system, errors)) out.push_back(std::move(*entry));
    return true;
  });
  cap.Finish();
  return out;
}

}  // namespace tidemark::agent::cron
