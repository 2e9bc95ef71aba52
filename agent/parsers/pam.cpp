#include "agent/parsers/pam.h"

#include <algorithm>
#include <set>

#include "agent/parsers/lines.h"
#include "common/text.h"

namespace tidemark::agent::pam {
namespace {

constexpr size_t kMaxLine = 64 * 1024;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// _pam_StrTokenizer: whitespace separates; "[...]" (with "\]" inside) stays one token.
std::vector<std::string> Tokens(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    while (i < s.size() && !IsSpace(s[i])) {
      if (s[i] == '[') {
        ++i;
        while (i < s.size() && s[i] != ']') {
          if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == ']') ++i;
          ++i;
        }
        if (i < s.size()) ++i;
        continue;
      }
      ++i;
    }
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

// _pam_mkargv: an argument "[a b\]c]" becomes "a b]c".
std::string Unbracket(const std::string& arg) {
  if (arg.size() < 2 || arg.front() != '[' || arg.back() != ']') return arg;
  std::string out;
  for (size_t i = 1; i + 1 < arg.size(); ++i) {
    if (arg[i] == '\\' && i + 1 < arg.size() - 1 && arg[i + 1] == ']') {
      out += ']';
      ++i;
    } else {
      out += arg[i];
    }
  }
  return out;
}

}  // namespace

std::vector<Line> ParseFile(std::string_view text, std::string_view path,
                            std::vector<SectionError>& errors, bool service_field) {
  std::vector<Line> out;
  std::string logical;
  int64_t first = 0;
  bool continuing = false;
  auto finish = [&]() {
    std::vector<std::string> tok = Tokens(logical);
    logical.clear();
    continuing = false;
    if (tok.empty()) return;
    Line l;
    l.line = first;
    if (service_field) {
      // pam.conf(5): the first field names the service (compared case-insensitively).
      l.service = AsciiLower(tok[0]);
      tok.erase(tok.begin());
      if (tok.empty()) {
        l.error = "empty module type";
        out.push_back(std::move(l));
        return;
      }
    }
    if (AsciiLower(tok[0]) == "@include") {
      l.include_all = true;
      if (tok.size() < 2) {
        l.error = "@include without a file name";
      } else {
        l.module = tok[1];
      }
      out.push_back(std::move(l));
      return;
    }
    std::string type = tok[0];
    if (!type.empty() && type[0] == '-') {
      l.silent = true;
      type.erase(0, 1);
    }
    l.type = AsciiLower(type);
    if (l.type != "auth" && l.type != "account" && l.type != "password" && l.type != "session") {
      l.error = "illegal module type";
    } else if (tok.size() < 2) {
      l.error = "no control flag";
    } else if (tok.size() < 3) {
      l.error = "no module name supplied";
    }
    if (tok.size() >= 2) l.control = tok[1];
    if (tok.size() >= 3) l.module = tok[2];
    for (size_t i = 3; i < tok.size(); ++i) l.arguments.push_back(Unbracket(tok[i]));
    if (l.error.empty() && l.control.front() == '[') {
      std::string err;
      ParseControl(l.control, &err);
      if (!err.empty()) l.error = err;
    } else if (l.error.empty()) {
      static const std::set<std::string> kSimple = {"required", "requisite", "sufficient",
                                                    "optional", "include",   "substack"};
      if (!kSimple.count(AsciiLower(l.control))) l.error = "unknown control flag";
    }
    out.push_back(std::move(l));
  };
  ForEachLine(text, [&](std::string_view raw, int64_t number) {
    if (!AcceptLine(raw, path, number, kMaxLine, errors)) {
      logical.clear();
      continuing = false;
      return true;
    }
    if (!continuing) first = number;
    // Everything from '#' on is a comment, and it ends the logical line.
    size_t hash = raw.find('#');
    if (hash != std::string_view::npos) {
      logical.append(raw.substr(0, hash));
      finish();
      return true;
    }
    std::string_view body = raw;
    while (!body.empty() && IsSpace(body.back())) body.remove_suffix(1);
    if (!body.empty() && body.back() == '\\') {
      body.remove_suffix(1);
      logical.append(body);
      logical.push_back(' ');
      continuing = true;
      if (logical.size() > kMaxLine) {
        errors.push_back({std::string(path), first, "continued line too long; skipped"});
        logical.clear();
        continuing = false;
      }
      return true;
    }
    logical.append(body);
    finish();
    return true;
  });
  if (continuing) finish();
  return out;
}

std::map<std::string, std::string> ParseControl(std::string_view control, std::string* error) {
  std::map<std::string, std::string> actions;
  std::string_view body = control;
  if (!body.empty() && body.front() == '[') body.remove_prefix(1);
  if (!body.empty() && body.back() == ']') {
    body.remove_suffix(1);
  } else if (error) {
    *error = "unterminated bracketed control";
  }
  static const std::set<std::string> kValues = {"success",
                                                "open_err",
                                                "symbol_err",
                                                "service_err",
                                                "system_err",
                                                "buf_err",
                                                "perm_denied",
                                                "auth_err",
                                                "cred_insufficient",
                                                "authinfo_unavail",
                                                "user_unknown",
                                                "maxtries",
                                                "new_authtok_reqd",
                                                "acct_expired",
                                                "session_err",
                                                "cred_unavail",
                                                "cred_expired",
                                                "cred_err",
                                                "no_module_data",
                                                "conv_err",
                                                "authtok_err",
                                                "authtok_recover_err",
                                                "authtok_lock_busy",
                                                "authtok_disable_aging",
                                                "try_again",
                                                "ignore",
                                                "abort",
                                                "authtok_expired",
                                                "module_unknown",
                                                "bad_item",
                                                "conv_again",
                                                "incomplete",
                                                "default"};
  static const std::set<std::string> kActions = {"ignore", "ok", "done", "bad", "die", "reset"};
  for (const auto& word : Tokens(body)) {
    size_t eq = word.find('=');
    std::string value = AsciiLower(word.substr(0, eq));
    std::string action = eq == std::string::npos ? "" : AsciiLower(word.substr(eq + 1));
    bool jump =
        !action.empty() && std::all_of(action.begin(), action.end(), ::isdigit) && action != "0";
    if (eq == std::string::npos || !kValues.count(value) || (!kActions.count(action) && !jump)) {
      if (error && error->empty()) *error = "invalid word in bracketed control";
      continue;
    }
    actions[value] = action;
  }
  return actions;
}

std::string IncludePath(std::string_view name) {
  if (!name.empty() && name.front() == '/') return std::string(name);
  return "/etc/pam.d/" + std::string(name);
}

std::map<std::string, std::string> SecurityFlags(const std::vector<std::string>& arguments) {
  // Flags of pam_unix(8), pam_pwquality(8), pam_faillock(8), pam_pwhistory(8) that change
  // how strict authentication or password changes are.
  static const std::set<std::string> kBool = {"nullok",
                                              "nullok_secure",
                                              "try_first_pass",
                                              "use_first_pass",
                                              "use_authtok",
                                              "sha512",
                                              "sha256",
                                              "yescrypt",
                                              "gost_yescrypt",
                                              "blowfish",
                                              "md5",
                                              "bigcrypt",
                                              "shadow",
                                              "nis",
                                              "obscure",
                                              "audit",
                                              "debug",
                                              "nodelay",
                                              "enforce_for_root",
                                              "even_deny_root",
                                              "local_users_only",
                                              "preauth",
                                              "authfail",
                                              "authsucc",
                                              "no_log_info",
                                              "silent",
                                              "quiet",
                                              "try_authtok",
                                              "no_pass_expiry",
                                              "broken_shadow",
                                              "not_set_pass",
                                              "likeauth",
                                              "nousers"};
  static const std::set<std::string> kValued = {"remember",
                                                "rounds",
                                                "minlen",
                                                "retry",
                                                "deny",
                                                "unlock_time",
                                                "root_unlock_time",
                                                "fail_interval",
                                                "difok",
                                                "dcredit",
                                                "ucredit",
                                                "lcredit",
                                                "ocredit",
                                                "minclass",
                                                "maxrepeat",
                                                "maxsequence",
                                                "maxclassrepeat",
                                                "dictcheck",
                                                "usercheck",
                                                "enforcing",
                                                "dir",
                                                "conf",
                                                "authtok_type"};
  std::map<std::string, std::string> flags;
  for (const auto& a : arguments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos) {
      if (kBool.count(a)) flags[a] = "true";
    } else if (kValued.count(a.substr(0, eq))) {
      flags[a.substr(0, eq)] = a.substr(eq + 1);
    }
  }
  return flags;
}

}  // namespace tidemark::agent::pam
