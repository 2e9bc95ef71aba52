// The sudoers tokenizer: sudo 1.9.13's plugins/sudoers/toke.l (its INITIAL-state rules and the
// WORD, ID, PATH, REGEX, ENVAR, address and reserved-word patterns) and toke_util.c (fill_txt(),
// fill_cmnd(), ipv6_valid()), as a hand-written scanner over the text (sudoers(5), "Other
// special characters and reserved words", "Quoting"). The grammar (sudoers.cpp) drives it.
#include <algorithm>
#include <array>
#include <string>

#include "agent/parsers/sudoers_internal.h"

namespace tidemark::agent::sudoers::internal {
namespace {

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::array<std::string_view, 16> kTagNames = {
    "NOPASSWD",  "PASSWD",      "NOEXEC",     "EXEC",         "SETENV", "NOSETENV",
    "LOG_INPUT", "NOLOG_INPUT", "LOG_OUTPUT", "NOLOG_OUTPUT", "MAIL",   "NOMAIL",
    "FOLLOW",    "NOFOLLOW",    "INTERCEPT",  "NOINTERCEPT"};

// Option_Spec reserved words (toke.l; ROLE/TYPE because Debian builds sudo with SELinux,
// APPARMOR_PROFILE/PRIVS/LIMITPRIVS are plain alias names in that build).
constexpr std::array<std::string_view, 7> kOptionNames = {"TIMEOUT", "NOTBEFORE", "NOTAFTER", "CWD",
                                                          "CHROOT",  "ROLE",      "TYPE"};

}  // namespace

// toke_util.c fill_txt(): copies `src`, collapsing "\xHH" to a byte and "\c" to "c".
std::string Unescape(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\\' && i + 1 < src.size()) {
      if (src[i + 1] == 'x' && i + 3 < src.size() && HexVal(src[i + 2]) >= 0 &&
          HexVal(src[i + 3]) >= 0) {
        out.push_back(static_cast<char>(HexVal(src[i + 2]) * 16 + HexVal(src[i + 3])));
        i += 3;
      } else {
        out.push_back(src[i + 1]);
        ++i;
      }
    } else {
      out.push_back(src[i]);
    }
  }
  return out;
}

// toke_util.c fill_cmnd(): strips a backslash before one of sudo's special characters.
std::string UnescapeCommand(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\\' && i + 1 < src.size() && In(src[i + 1], ",:= \t#")) {
      out.push_back(src[++i]);
    } else {
      out.push_back(src[i]);
    }
  }
  return out;
}

size_t DigestLen(std::string_view alg) {
  if (alg == "sha224") return 28;
  if (alg == "sha256") return 32;
  if (alg == "sha384") return 48;
  if (alg == "sha512") return 64;
  return 0;
}

// ---- character level -------------------------------------------------------------------

// Length of "\\[ \t]*\r?\n" at i (a line continuation), or 0.
size_t Lexer::ContinuationLen(size_t i) const {
  if (i >= t_.size() || t_[i] != '\\') return 0;
  size_t j = i + 1;
  while (j < t_.size() && IsBlank(t_[j])) ++j;
  if (j < t_.size() && t_[j] == '\r') ++j;
  if (j < t_.size() && t_[j] == '\n') return j + 1 - i;
  return 0;
}

// toke.l: "<*>[[:blank:]]+" and "<*>\\[[:blank:]]*\r?\n" are thrown away.
bool Lexer::SkipSpace() {
  bool saw = false;
  while (pos_ < t_.size()) {
    if (IsBlank(t_[pos_])) {
      ++pos_;
      saw = true;
    } else if (size_t n = ContinuationLen(pos_)) {
      pos_ += n;
      ++line_;
      saw = true;
    } else {
      break;
    }
  }
  return saw;
}

// toke.l ID: #-?[0-9]+ ; returns its length at i or 0.
size_t Lexer::IdLen(size_t i) const {
  if (i >= t_.size() || t_[i] != '#') return 0;
  size_t j = i + 1;
  if (j < t_.size() && t_[j] == '-') ++j;
  size_t d = j;
  while (j < t_.size() && IsDigit(t_[j])) ++j;
  return j > d ? j - i : 0;
}

// toke.l WORD: ([^#>!=:,\(\) \t\r\n\\\"]|\\[^\t\n])+
size_t Lexer::WordLen(size_t i) const {
  size_t j = i;
  while (j < t_.size()) {
    char c = t_[j];
    if (c == '\\') {
      if (j + 1 < t_.size() && t_[j + 1] != '\t' && t_[j + 1] != '\n' && t_[j + 1] != '\0') {
        j += 2;
        continue;
      }
      break;
    }
    if (c == '\0' || In(c, "#>!=:,() \t\r\n\"")) break;
    ++j;
  }
  return j - i;
}

// toke.l PATH: \/(\\[\,:= \t#]|[^\,:=\\ \t\r\n#])+
size_t Lexer::PathLen(size_t i) const {
  if (i >= t_.size() || t_[i] != '/') return 0;
  size_t j = i + 1;
  while (j < t_.size()) {
    char c = t_[j];
    if (c == '\\') {
      if (j + 1 < t_.size() && In(t_[j + 1], ",:= \t#")) {
        j += 2;
        continue;
      }
      break;
    }
    if (c == '\0' || In(c, ",:= \t\r\n#")) break;
    ++j;
  }
  return j > i + 1 ? j - i : 0;
}

// toke.l REGEX: \^([^#\r\n\$]|\\[#\$])*\$
size_t Lexer::RegexLen(size_t i) const {
  if (i >= t_.size() || t_[i] != '^') return 0;
  size_t j = i + 1;
  while (j < t_.size()) {
    char c = t_[j];
    if (c == '\\' && j + 1 < t_.size() && (t_[j + 1] == '#' || t_[j + 1] == '$')) {
      j += 2;
      continue;
    }
    if (c == '$') return j + 1 - i;
    if (c == '#' || c == '\r' || c == '\n' || c == '\0') return 0;
    ++j;
  }
  return 0;
}

// toke.l OCTET; returns its length at i or 0 (greedy).
size_t Lexer::OctetLen(size_t i) const {
  size_t j = i;
  int v = 0;
  while (j < t_.size() && j - i < 3 && IsDigit(t_[j])) v = v * 10 + (t_[j++] - '0');
  size_t n = j - i;
  if (n == 0) return 0;
  if (n == 3 && (v > 255 || (t_[i] != '1' && t_[i] != '2'))) return 2;
  return n;
}

size_t Lexer::Ipv4Len(size_t i) const {
  size_t j = i;
  for (int k = 0; k < 4; ++k) {
    if (k > 0) {
      if (j >= t_.size() || t_[j] != '.') return 0;
      ++j;
    }
    size_t n = OctetLen(j);
    if (n == 0) return 0;
    j += n;
  }
  return j - i;
}

// {IPV4ADDR}(\/{IPV4ADDR}|\/[0-9]+)? and an approximation of {IPV6ADDR}(\/...)?: returns the
// length of the address at i, or 0. Sets *ipv6 when it is an IPv6 form.
size_t Lexer::AddrLen(size_t i, bool* ipv6) const {
  *ipv6 = false;
  if (size_t n = Ipv4Len(i)) {
    size_t j = i + n;
    if (j < t_.size() && t_[j] == '/') {
      if (size_t m = Ipv4Len(j + 1)) {
        j += 1 + m;
      } else {
        size_t k = j + 1;
        while (k < t_.size() && k - j <= 2 && IsDigit(t_[k])) ++k;
        if (k > j + 1) j = k;
      }
    }
    return j - i;
  }
  size_t j = i;
  int colons = 0;
  while (j < t_.size() && (IsHex(t_[j]) || t_[j] == ':' || t_[j] == '.')) {
    if (t_[j] == ':') ++colons;
    ++j;
  }
  if (colons < 2) return 0;
  *ipv6 = true;
  if (j < t_.size() && t_[j] == '/') {
    size_t k = j + 1;
    while (k < t_.size() && (IsHex(t_[k]) || t_[k] == ':')) ++k;
    if (k > j + 1) j = k;
  }
  return j - i;
}

// Length of [A-Z][A-Z0-9_]* at i.
size_t Lexer::UpperRunLen(size_t i) const {
  if (i >= t_.size() || !IsUpper(t_[i])) return 0;
  size_t j = i + 1;
  while (j < t_.size() && (IsUpper(t_[j]) || IsDigit(t_[j]) || t_[j] == '_')) ++j;
  return j - i;
}

// toke.l ENVAR: ([^#!=, \t\r\n\\\"]|\\[^\r\n])([^#=, \t\r\n\\\"]|\\[^\r\n])*
size_t Lexer::EnvarLen(size_t i) const {
  size_t j = i;
  while (j < t_.size()) {
    char c = t_[j];
    if (c == '\\') {
      if (j + 1 < t_.size() && t_[j + 1] != '\r' && t_[j + 1] != '\n') {
        j += 2;
        continue;
      }
      break;
    }
    if (c == '\0' || In(c, "#=, \t\r\n\"") || (j == i && c == '!')) break;
    ++j;
  }
  return j - i;
}
// ---- tokens ----------------------------------------------------------------------------

// Reads a double-quoted string at pos_ (toke.l INSTR): only \" is unescaped, a continuation
// inside is removed, a line break is an error.
Tok Lexer::LexString() {
  Tok tok;
  tok.line = line_;
  tok.start = pos_;
  size_t j = pos_ + 1;
  std::string s;
  while (true) {
    if (j >= t_.size() || AtNewline(j)) {
      pos_ = j;
      tok.type = T::kError;
      tok.text = "unexpected line break in string";
      return tok;
    }
    char c = t_[j];
    if (c == '"') {
      ++j;
      break;
    }
    if (c == '\\') {
      size_t k = j + 1;
      while (k < t_.size() && IsBlank(t_[k])) ++k;
      if (k < t_.size() && t_[k] == '\r') ++k;
      if (k < t_.size() && t_[k] == '\n') {
        ++line_;
        ++k;
        while (k < t_.size() && IsBlank(t_[k])) ++k;
        j = k;
        continue;
      }
      if (j + 1 < t_.size() && t_[j + 1] == '"') {
        s.push_back('"');
        j += 2;
        continue;
      }
    }
    s.push_back(c);
    ++j;
  }
  pos_ = j;
  tok.end = j;
  if (s.empty()) {
    tok.type = T::kError;
    tok.text = "empty string";
    return tok;
  }
  tok.text = std::move(s);
  tok.type = T::kString;
  return tok;
}

// Classifies a quoted string as sudo does in INITIAL/GOTDEFS state.
Tok Lexer::ClassifyString(Tok tok) {
  if (tok.type != T::kString) return tok;
  if (tok.text[0] == '%') {
    if (tok.text == "%" || tok.text == "%:") {
      tok.type = T::kError;
      tok.text = "empty group";
    } else {
      tok.type = T::kUserGroup;
    }
  } else if (tok.text[0] == '+') {
    if (tok.text == "+") {
      tok.type = T::kError;
      tok.text = "empty netgroup";
    } else {
      tok.type = T::kNetgroup;
    }
  } else {
    tok.type = T::kWord;
  }
  return tok;
}

// The INITIAL-state lexer (toke.l), returning one token and advancing past it.
// One long function on purpose: its tests are toke.l's INITIAL rules in the order that decides
// between them (longest match first, then the earlier rule), which one place keeps visible.
Tok Lexer::Lex() {
  while (true) {
    SkipSpace();
    Tok tok;
    tok.line = line_;
    tok.start = pos_;
    if (pos_ >= t_.size() || AtNewline(pos_)) {
      tok.type = T::kEol;
      return tok;
    }
    char c = t_[pos_];
    if (c == '#') {
      if (size_t n = IdLen(pos_)) {
        tok.type = T::kWord;
        tok.text = std::string(t_.substr(pos_, n));
        pos_ += n;
        tok.end = pos_;
        return tok;
      }
      tok.type = T::kEol;  // a comment
      return tok;
    }
    if (c == '"') return ClassifyString(LexString());
    if (c == '!') {
      size_t j = pos_;
      while (j < t_.size() && t_[j] == '!') ++j;
      size_t n = j - pos_;
      pos_ = j;
      if (n % 2 == 1) {  // "<*>!+": an odd number negates, an even number cancels out
        tok.type = T::kChar;
        tok.ch = '!';
        return tok;
      }
      continue;
    }
    if (In(c, "(),=:")) {
      ++pos_;
      tok.type = T::kChar;
      tok.ch = c;
      tok.end = pos_;
      return tok;
    }
    if (c == '+' || c == '%') {
      size_t j = pos_ + 1;
      if (c == '%' && j < t_.size() && t_[j] == ':') ++j;
      size_t n = c == '%' && IdLen(j) ? IdLen(j) : WordLen(j);
      if (n == 0) {
        ++pos_;
        tok.type = T::kError;
        tok.text = c == '+' ? "empty netgroup" : "empty group";
        return tok;
      }
      tok.type = c == '+' ? T::kNetgroup : T::kUserGroup;
      tok.text = Unescape(t_.substr(pos_, j + n - pos_));
      pos_ = j + n;
      tok.end = pos_;
      return tok;
    }
    size_t wl = WordLen(pos_);
    bool ipv6 = false;
    size_t al = AddrLen(pos_, &ipv6);
    if (al > 0 && al >= wl) {
      std::string addr(t_.substr(pos_, al));
      pos_ += al;
      tok.end = pos_;
      // toke_util.c ipv6_valid(): at most one "::" before the netmask.
      size_t slash = addr.find('/');
      std::string_view a = std::string_view(addr).substr(0, slash);
      if (ipv6 && a.find("::") != a.rfind("::")) {
        tok.type = T::kError;
        tok.text = "invalid IPv6 address";
        return tok;
      }
      tok.type = T::kNtwkAddr;
      tok.text = std::move(addr);
      return tok;
    }
    size_t ul = UpperRunLen(pos_);
    if (ul > 0) {
      std::string_view name = t_.substr(pos_, ul);
      if (std::find(kTagNames.begin(), kTagNames.end(), name) != kTagNames.end()) {
        size_t j = pos_ + ul;
        while (j < t_.size() && IsBlank(t_[j])) ++j;
        if (j < t_.size() && t_[j] == ':') {  // "NOPASSWD[[:blank:]]*:"
          tok.type = T::kTag;
          tok.text = std::string(name);
          pos_ = j + 1;
          tok.end = pos_;
          return tok;
        }
      }
    }
    if (size_t pl = PathLen(pos_); pl > 0 && pl >= wl) {
      tok.type = T::kPath;
      tok.end = pos_ + pl;
      pos_ += pl;
      return tok;
    }
    if (size_t rl = RegexLen(pos_); rl > 0 && rl >= wl) {
      tok.type = T::kRegex;
      tok.end = pos_ + rl;
      pos_ += rl;
      return tok;
    }
    if (wl == 0) {
      ++pos_;
      tok.type = T::kError;
      tok.text = "syntax error";
      return tok;
    }
    std::string_view raw = t_.substr(pos_, wl);
    pos_ += wl;
    tok.end = pos_;
    if (raw == "ALL") {
      tok.type = T::kAll;
    } else if (ul == wl &&
               std::find(kOptionNames.begin(), kOptionNames.end(), raw) != kOptionNames.end()) {
      tok.type = T::kOption;
      tok.text = std::string(raw);
    } else if (ul == wl) {
      tok.type = T::kAlias;
      tok.text = std::string(raw);
    } else if (raw == "sudoedit") {
      tok.type = T::kSudoedit;
      tok.text = "sudoedit";
    } else if (DigestLen(raw) != 0) {
      tok.type = T::kDigestAlg;
      tok.text = std::string(raw);
    } else {
      tok.type = T::kWord;
      tok.text = Unescape(raw);
    }
    return tok;
  }
}

Tok Lexer::Peek() {
  size_t p = pos_;
  int64_t l = line_;
  Tok tok = Lex();
  pos_ = p;
  line_ = l;
  return tok;
}
}  // namespace tidemark::agent::sudoers::internal
