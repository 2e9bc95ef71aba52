#include "agent/parsers/pam_module_conf.h"

#include <array>
#include <climits>
#include <cstring>

namespace tidemark::agent::pam {
namespace {

// isspace() in the C locale; both modules pass a plain char, so bytes >= 0x80 are not blanks.
bool IsCSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// strtoul's reading of a decimal number at the start of `s` (sscanf "%u"/"%hu" use it): an
// optional sign, then at least one digit; the rest is not looked at. Returns nullopt without
// digits; the value wraps like strtoul's (a '-' negates modulo 2^64, overflow saturates).
std::optional<uint64_t> ScanUnsigned(std::string_view s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i >= s.size() || !IsDigit(s[i])) return std::nullopt;
  uint64_t v = 0;
  bool overflow = false;
  for (; i < s.size() && IsDigit(s[i]); ++i) {
    auto d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) overflow = true;
    v = overflow ? UINT64_MAX : v * 10 + d;
  }
  if (overflow) return UINT64_MAX;
  return negative ? uint64_t{0} - v : v;
}

// settings.c set_name_value, PWQ_TYPE_INT: strtol(value, &end, 10) must read the whole
// non-empty value, without ERANGE, strictly between INT_MIN and INT_MAX.
bool PwqualityInt(std::string_view s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i >= s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
    if (v > static_cast<int64_t>(INT_MAX) + 1) return false;  // out of int's range anyway
  }
  if (negative) v = -v;
  return v < INT_MAX && v > INT_MIN;
}

// pam_faillock.c set_conf_opt (Linux-PAM 1.5.2): returns "" when the module takes the value,
// else why it logs and ignores it (the earlier value stays). Names compare with strcmp.
std::string FaillockProblem(const std::string& key, std::string_view value) {
  constexpr uint64_t kMaxTimeInterval = 604800;  // MAX_TIME_INTERVAL, 7 days
  if (key == "dir") return !value.empty() && value[0] == '/' ? "" : "dir is not an absolute path";
  if (key == "deny") return ScanUnsigned(value) ? "" : "bad number for deny";  // "%hu"
  if (key == "fail_interval" || key == "unlock_time" || key == "root_unlock_time") {
    if (key != "fail_interval" && value == "never") return "";
    auto v = ScanUnsigned(value);  // "%u" into an unsigned int, at most MAX_TIME_INTERVAL
    if (!v || (*v & 0xffffffffu) > kMaxTimeInterval) return "bad number for " + key;
    return "";
  }
  if (key == "admin_group") return "";
  for (const char* flag :
       {"even_deny_root", "audit", "silent", "no_log_info", "local_users_only"}) {
    if (key == flag) return "";  // the value, if any, is not looked at
  }
  return "unknown option";
}

enum class PwqType { kInt, kStr, kSet };

struct PwqKey {
  const char* name;
  PwqType type;
};

// settings.c s_map (libpwquality 1.4.5).
constexpr std::array<PwqKey, 19> kPwqKeys = {{
    {"difok", PwqType::kInt},
    {"minlen", PwqType::kInt},
    {"dcredit", PwqType::kInt},
    {"ucredit", PwqType::kInt},
    {"lcredit", PwqType::kInt},
    {"ocredit", PwqType::kInt},
    {"minclass", PwqType::kInt},
    {"maxrepeat", PwqType::kInt},
    {"maxclassrepeat", PwqType::kInt},
    {"maxsequence", PwqType::kInt},
    {"gecoscheck", PwqType::kInt},
    {"dictcheck", PwqType::kInt},
    {"usercheck", PwqType::kInt},
    {"enforcing", PwqType::kInt},
    {"badwords", PwqType::kStr},
    {"dictpath", PwqType::kStr},
    {"retry", PwqType::kInt},
    {"enforce_for_root", PwqType::kSet},
    {"local_users_only", PwqType::kSet},
}};

// settings.c set_name_value: "" when libpwquality takes the value, else the error that makes
// read_config_file stop (PWQ_ERROR_UNKNOWN_SETTING, PWQ_ERROR_INTEGER).
std::string PwqualityProblem(const std::string& lower_key, std::string_view value) {
  for (const PwqKey& k : kPwqKeys) {
    if (lower_key != k.name) continue;
    if (k.type == PwqType::kInt && !PwqualityInt(value)) return "bad integer for " + lower_key;
    return "";
  }
  return "unknown setting";
}

}  // namespace

std::string_view ConfModuleName(ConfModule module) {
  return module == ConfModule::kFaillock ? "faillock" : "pwquality";
}

ModuleConf ParseModuleConf(std::string_view text, ConfModule module) {
  ModuleConf out;
  // Both modules: while (fgets(linebuf, 1024, f)). A read ends after a newline, after 1023
  // bytes, or at the end of the file (only then is feof set).
  constexpr size_t kChunk = kMaxModuleConfLine + 1;
  size_t pos = 0;
  int64_t line = 1;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    end = std::min(end, pos + kChunk);
    std::string_view chunk = text.substr(pos, end - pos);
    bool eof = chunk.back() != '\n' && end == text.size() && chunk.size() < kChunk;
    int64_t number = line;
    pos = end;
    if (chunk.back() == '\n') ++line;
    // len = strlen(linebuf): a NUL ends the line as the module sees it.
    std::string_view s = chunk.substr(0, std::min(chunk.find('\0'), chunk.size()));
    // "if (len && linebuf[len - 1] != '\n' && !feof(f))": a line longer than the buffer, or a
    // NUL inside a line that is not the last, is a malformed file. faillock returns
    // PAM_SERVICE_ERR (1.5.2; later versions skip the line); libpwquality
    // PWQ_ERROR_CFGFILE_MALFORMED.
    if (!s.empty() && s.back() != '\n' && !eof) {
      std::string why =
          s.size() < chunk.size()
              ? "NUL byte in a line"
              : "line longer than " + std::to_string(kMaxModuleConfLine) + " characters";
      out.stop = ModuleConfProblem{number, why};
      if (module == ConfModule::kFaillock) {
        out.settings.clear();
        out.ignored.clear();
      }
      return out;
    }
    // '#' anywhere starts a comment; trailing and leading blanks (isspace) are dropped.
    s = s.substr(0, std::min(s.find('#'), s.size()));
    while (!s.empty() && IsCSpace(s.back())) s.remove_suffix(1);
    while (!s.empty() && IsCSpace(s.front())) s.remove_prefix(1);
    if (s.empty()) continue;
    // The key runs to the first blank or '='. Then blanks and at most one '=' are skipped
    // (none more when the key ended at '='): "deny=3", "deny = 3" and "deny 3" are the same;
    // the value is the rest, inner blanks kept.
    size_t k = 0;
    while (k < s.size() && !IsCSpace(s[k]) && s[k] != '=') ++k;
    std::string key(s.substr(0, k));
    bool eq = k < s.size() && s[k] == '=';
    size_t v = k < s.size() ? k + 1 : k;
    while (v < s.size()) {
      if (s[v] != '=' || eq) {
        if (!IsCSpace(s[v])) break;
      } else {
        eq = true;
      }
      ++v;
    }
    std::string_view value = s.substr(v);
    // libpwquality compares names case-insensitively (strcasecmp); faillock exactly.
    if (module == ConfModule::kPwquality) {
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    // Keys are named in messages, cut short: a hostile line must not fill the error list.
    std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
    if (module == ConfModule::kFaillock) {
      std::string problem = FaillockProblem(key, value);
      if (!problem.empty()) {
        out.ignored.push_back({number, problem + " '" + shown + "'; pam_faillock ignores it"});
        continue;
      }
    } else if (std::string problem = PwqualityProblem(key, value); !problem.empty()) {
      out.stop = ModuleConfProblem{number, problem + " '" + shown + "'"};
      return out;
    }
    ModuleSetting setting{key, std::nullopt, number};
    if (!value.empty()) setting.value = std::string(value);
    out.settings.push_back(std::move(setting));
  }
  return out;
}

bool IsPwqualityDropin(std::string_view name) {
  size_t p = name.find(".conf");
  return p != std::string_view::npos && p + 5 == name.size();
}

}  // namespace tidemark::agent::pam
