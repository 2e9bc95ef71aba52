// sshd's argument splitting (sshd_argv.h), as OpenSSH 9.2p1 misc.c argv_split().
#include "common/sshd_argv.h"

namespace tidemark {

bool SshdArgvSplit(std::string_view s, std::vector<std::string>* out) {
  out->clear();
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == '\t') {
      ++i;
      continue;
    }
    if (s[i] == '#') break;
    char quote = 0;
    std::string arg;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c == '\\' && i + 1 < s.size() &&
          (s[i + 1] == '\'' || s[i + 1] == '"' || s[i + 1] == '\\' ||
           (quote == 0 && s[i + 1] == ' '))) {
        arg += s[++i];
      } else if (quote == 0 && (c == ' ' || c == '\t')) {
        break;
      } else if (quote == 0 && (c == '"' || c == '\'')) {
        quote = c;
      } else if (quote != 0 && c == quote) {
        quote = 0;
      } else {
        arg += c;
      }
    }
    if (i >= s.size() && quote != 0) return false;
    out->push_back(std::move(arg));
  }
  return true;
}

}  // namespace tidemark
