// The sudoers grammar: sudo 1.9.13's plugins/sudoers/gram.y as a recursive-descent parser over
// the EBNF of sudoers(5) ("User specification", "Runas_Spec", "Option_Spec", "Tag_Spec"), with
// gram.y's error recovery (a syntax error skips to the end of the entry). The tokens come from
// sudoers_lexer.cpp; ParseSudoersText() and AddBoundedError() are the entry points.
#include "agent/parsers/sudoers.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "agent/parsers/sudoers_internal.h"
#include "agent/parsers/sudoers_regex.h"

namespace tidemark::agent::sudoers {
namespace internal {
namespace {

// At most this many errors are reported per file (binary garbage would yield one per line).
constexpr int kMaxErrorsPerFile = 50;

uint64_t ListCost(const std::optional<std::vector<Member>>& list) {
  uint64_t cost = 0;
  if (list) {
    for (const auto& m : *list) cost += MemberCost(m);
  }
  return cost;
}

}  // namespace

// What a parsed member costs against kMaxParsedBytes.
uint64_t MemberCost(const Member& m) {
  uint64_t cost = sizeof(Member) + m.name.size() + m.args.size();
  for (const auto& d : m.digests) cost += sizeof(Digest) + d.algorithm.size() + d.value.size();
  return cost;
}

uint64_t StringCost(const std::optional<std::string>& s) { return s ? s->size() : 0; }

void Parser::Run() {
  size_t nul = t_.find('\0');
  if (nul != std::string_view::npos) {
    Error(LineAt(nul), "NUL byte in sudoers file (binary data?)");
  }
  while (!policy_.parse_stopped) {
    SkipSpace();
    if (pos_ >= t_.size()) break;
    if (!ParseEntry()) RecoverToEol();
  }
}

// ---- errors ----------------------------------------------------------------------------

int64_t Parser::LineAt(size_t offset) const {
  return 1 + std::count(t_.begin(), t_.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
}

void Parser::Error(int64_t line, std::string message) {
  ++errors_;
  if (errors_ < kMaxErrorsPerFile) {
    AddBoundedError(policy_.errors, {std::string(path_), line, std::move(message)});
  } else if (errors_ == kMaxErrorsPerFile) {
    AddBoundedError(policy_.errors, {std::string(path_), line,
                                     "too many errors in this file; further errors not reported"});
  }
}

// Charges `bytes` of parsed structure against kMaxParsedBytes; once it is exceeded, parsing
// stops (this file and every later one) with one error here.
bool Parser::Charge(uint64_t bytes) {
  if (policy_.parse_stopped) return false;
  policy_.parsed_bytes += bytes;
  if (policy_.parsed_bytes <= kMaxParsedBytes) return true;
  policy_.parse_stopped = true;
  AddBoundedError(policy_.errors, {std::string(path_), line_,
                                   "sudoers too large: its parsed entries exceed " +
                                       std::to_string(kMaxParsedBytes >> 20) +
                                       " MiB; this entry and everything after it are not read"});
  return false;
}

bool Parser::SyntaxError(const Tok& tok) {
  if (tok.type == T::kError) {
    Error(tok.line, tok.text);
  } else {
    Error(tok.line, "syntax error");
  }
  return false;
}

// ---- expected tokens, error recovery ---------------------------------------------------

bool Parser::Expect(char c) {
  Tok tok = Lex();
  if (IsChar(tok, c)) return true;
  return SyntaxError(tok);
}

// Consumes the end of an entry: optional comment, then the newline (or end of input).
bool Parser::ExpectEol() {
  SkipSpace();
  if (pos_ >= t_.size()) return true;
  if (IsCommentAt(pos_)) {
    while (pos_ < t_.size() && t_[pos_] != '\n') ++pos_;
  }
  if (pos_ >= t_.size()) return true;
  if (t_[pos_] == '\r' && pos_ + 1 < t_.size() && t_[pos_ + 1] == '\n') ++pos_;
  if (t_[pos_] == '\n') {
    ++pos_;
    ++line_;
    return true;
  }
  Tok tok = Lex();
  return SyntaxError(tok);
}

// gram.y "error '\n'": discards the rest of the entry (its continuation lines included).
void Parser::RecoverToEol() {
  while (pos_ < t_.size()) {
    if (size_t n = ContinuationLen(pos_)) {
      pos_ += n;
      ++line_;
      continue;
    }
    char c = t_[pos_];
    if (c == '\n') {
      ++pos_;
      ++line_;
      return;
    }
    if (c == '#' && IsCommentAt(pos_)) {
      while (pos_ < t_.size() && t_[pos_] != '\n') ++pos_;
      continue;
    }
    ++pos_;
  }
}

// ---- members ---------------------------------------------------------------------------

// gram.y opuser/ophost/opgroup: '!'? (ALIAS | ALL | NETGROUP | USERGROUP | NTWKADDR | WORD),
// restricted by the list kind.
bool Parser::ParseMember(ListKind kind, Member& m) {
  Tok tok = Lex();
  if (IsChar(tok, '!')) {
    m.negated = true;
    tok = Lex();
  }
  switch (tok.type) {
    case T::kWord:
      m.kind = MemberKind::kWord;
      m.name = std::move(tok.text);
      return true;
    case T::kAlias:
      m.kind = MemberKind::kAlias;
      m.name = std::move(tok.text);
      return true;
    case T::kAll:
      m.kind = MemberKind::kAll;
      return true;
    case T::kUserGroup:
      if (kind != ListKind::kUser && kind != ListKind::kRunasUser) break;
      m.kind = MemberKind::kUserGroup;
      m.name = std::move(tok.text);
      return true;
    case T::kNetgroup:
      if (kind == ListKind::kRunasGroup) break;
      m.kind = MemberKind::kNetgroup;
      m.name = std::move(tok.text);
      return true;
    case T::kNtwkAddr:
      if (kind != ListKind::kHost) break;
      m.kind = MemberKind::kNetworkAddr;
      m.name = std::move(tok.text);
      return true;
    default:
      break;
  }
  return SyntaxError(tok);
}

bool Parser::ParseList(ListKind kind, std::vector<Member>& out) {
  while (true) {
    Member m;
    if (!ParseMember(kind, m)) return false;
    if (!Charge(MemberCost(m))) return false;
    out.push_back(std::move(m));
    if (!IsChar(Peek(), ',')) return true;
    Lex();
  }
}

// ---- commands (sudoers(5) "Cmnd", toke.l GOTCMND / GOTREGEX) ---------------------------

void Parser::AppendArg(Member& m, std::string_view s, bool& sawspace) {
  if (m.has_args && sawspace) m.args.push_back(' ');
  m.args.append(s);
  m.has_args = true;
  sawspace = false;
}

// A command's regular expression, as sudo checks it while parsing (sudoers_regex.h): an invalid
// one is a syntax error of the entry; one too costly to compile is reported and kept, since
// sudo may take it.
bool Parser::CheckRegex(std::string_view re, int64_t line) {
  RegexCheck check = CheckCommandRegex(re, kMaxRegexCopiesTotal - policy_.regex_copies);
  policy_.regex_copies += check.copies;
  switch (check.result) {
    case RegexCheck::Result::kValid:
      return true;
    case RegexCheck::Result::kNotChecked:
      Error(line, std::move(check.message));
      return true;
    case RegexCheck::Result::kInvalid:
      break;
  }
  Error(line, std::move(check.message));
  return false;
}

// A regular expression argument (toke.l GOTREGEX), at pos_ on '^'. sudo does not compile it
// while parsing (visudo -c and cvtsudoers take "^a[$"), only when matching a command line.
bool Parser::ReadRegexArg(Member& m) {
  std::string re;
  bool continued = false;
  while (true) {
    if (pos_ >= t_.size()) {
      Error(line_, "unterminated regular expression");
      return false;
    }
    if (size_t n = ContinuationLen(pos_)) {
      pos_ += n;
      ++line_;
      continued = true;
      continue;
    }
    char c = t_[pos_];
    if (c == '\\' && pos_ + 1 < t_.size() && t_[pos_ + 1] != '\r' && t_[pos_ + 1] != '\n') {
      re.append(t_.substr(pos_, 2));
      pos_ += 2;
      continue;
    }
    // A backslash that neither continues the line nor quotes a character (at the end of the
    // text, or before a lone \r) ends the line like #, \r or \n do (the chunk below could
    // not take it: the parser would stop making progress, as a fuzzer found).
    if (c == '\\' || c == '#' || c == '\r' || c == '\n' || c == '\0') {
      Error(line_, "unterminated regular expression");
      return false;
    }
    if (c == '$') {
      re.push_back('$');
      ++pos_;
      break;
    }
    size_t j = pos_;
    while (j < t_.size() && !In(t_[j], std::string_view("#\\\r\n$\0", 6))) ++j;
    std::string_view chunk = t_.substr(pos_, j - pos_);
    if (continued) {
      while (!chunk.empty() && IsBlank(chunk.front())) chunk.remove_prefix(1);
      continued = false;
    }
    re.append(chunk);
    pos_ = j;
  }
  m.args = std::move(re);
  m.has_args = true;
  return true;
}

// Command line arguments (toke.l GOTCMND), from pos_ just after the command name.
bool Parser::ReadArgs(Member& m) {
  bool sawspace = false;
  while (pos_ < t_.size()) {
    char c = t_[pos_];
    if (IsBlank(c)) {
      ++pos_;
      sawspace = true;
      continue;
    }
    if (c == '\\') {
      if (size_t n = ContinuationLen(pos_)) {
        pos_ += n;
        ++line_;
        sawspace = true;
        continue;
      }
      char next = pos_ + 1 < t_.size() ? t_[pos_ + 1] : '\0';
      if (next != '\0' && In(next, "*?[]!^")) {  // quoted fnmatch glob char, kept verbatim
        AppendArg(m, t_.substr(pos_, 2), sawspace);
        pos_ += 2;
        continue;
      }
      if (next != '\0' && In(next, ":\\,= \t#")) {  // quoted sudoers special char
        AppendArg(m, t_.substr(pos_ + 1, 1), sawspace);
        pos_ += 2;
        continue;
      }
      Error(line_, "syntax error");
      return false;
    }
    if (In(c, "#:,=\r\n") || c == '\0') break;
    size_t j = pos_;
    while (j < t_.size() && !In(t_[j], std::string_view("#\\:, \t\r\n\0", 9))) ++j;
    std::string_view chunk = t_.substr(pos_, j - pos_);
    if (!m.has_args && chunk[0] == '^') return ReadRegexArg(m);
    AppendArg(m, chunk, sawspace);
    pos_ = j;
  }
  return true;
}

// Builds a command member from a kPath / kRegex / kSudoedit token; reads its arguments when
// `with_args` (a Cmnd_List), not for a Defaults! binding.
bool Parser::FinishCommand(const Tok& tok, Member& m, bool with_args) {
  m.kind = MemberKind::kCommand;
  if (tok.type == T::kSudoedit) {
    m.name = "sudoedit";
  } else {
    m.name = UnescapeCommand(t_.substr(tok.start, tok.end - tok.start));
    if (tok.type == T::kRegex && !CheckRegex(m.name, tok.line)) return false;
    if (tok.type == T::kPath) {
      size_t slash = m.name.rfind('/');
      if (m.name.substr(slash + 1) == "sudoedit") {
        Error(tok.line, "sudoedit should not be specified with a path");
        m.name = "sudoedit";
      }
      if (m.name.back() == '/') return true;  // a directory takes no arguments
    }
  }
  if (!with_args) return true;
  return ReadArgs(m);
}

// sudoers(5): Cmnd ::= Digest_List? '!'* command | '!'* directory | '!'* Edit_Spec |
//                      '!'* List_Spec | '!'* Cmnd_Alias
bool Parser::ParseCmnd(Member& m, bool with_args) {
  while (Peek().type == T::kDigestAlg) {
    Tok alg = Lex();
    if (!Expect(':')) return false;
    SkipSpace();
    // toke.l WANTDIGEST: hex or base64 of exactly the digest's length.
    size_t j = pos_;
    bool hex = true;
    while (j < t_.size() && (std::isalnum(static_cast<unsigned char>(t_[j])) || In(t_[j], "+/="))) {
      if (!IsHex(t_[j])) hex = false;
      ++j;
    }
    size_t len = j - pos_;
    size_t dlen = DigestLen(alg.text);
    bool ok = (hex && len == dlen * 2) || (len > 0 && t_[j - 1] == '=' ? len == 4 * ((dlen + 2) / 3)
                                                                       : len == (4 * dlen + 2) / 3);
    if (!ok) return SyntaxError(Lex());
    m.digests.push_back({alg.text, std::string(t_.substr(pos_, len))});
    pos_ = j;
    if (IsChar(Peek(), ',')) {
      Lex();
      if (Peek().type != T::kDigestAlg) return SyntaxError(Lex());
    }
  }
  Tok tok = Lex();
  if (IsChar(tok, '!')) {
    m.negated = true;
    tok = Lex();
  }
  bool ok = true;
  switch (tok.type) {
    case T::kAll:
      m.kind = MemberKind::kAll;
      break;
    case T::kAlias:
      m.kind = MemberKind::kAlias;
      m.name = tok.text;
      break;
    case T::kPath:
    case T::kRegex:
    case T::kSudoedit:
      ok = FinishCommand(tok, m, with_args);
      break;
    case T::kWord:
      if (tok.text == "list") {  // the "list" built-in takes no arguments
        m.kind = MemberKind::kCommand;
        m.name = "list";
        break;
      }
      Error(tok.line, "expected a fully-qualified path name");
      return false;
    default:
      return SyntaxError(tok);
  }
  if (!ok) return false;
  if (!m.digests.empty() && m.kind != MemberKind::kCommand && m.kind != MemberKind::kAll) {
    Error(tok.line, "a digest requires a path name");
    return false;
  }
  return true;
}

bool Parser::ParseCmndList(std::vector<Member>& out) {
  while (true) {
    Member m;
    if (!ParseCmnd(m, true)) return false;
    if (!Charge(MemberCost(m))) return false;
    out.push_back(std::move(m));
    if (!IsChar(Peek(), ',')) return true;
    Lex();
  }
}

// ---- user specifications ---------------------------------------------------------------

// sudoers(5) Runas_Spec ::= '(' Runas_List? (':' Runas_List)? ')' ; '(' already consumed.
// An empty user list ("()" or "(:)") is MYSELF (gram.y runaslist).
bool Parser::ParseRunas(CmndSpec& cs) {
  std::vector<Member> users;
  std::vector<Member> groups;
  bool have_users = false;
  bool have_groups = false;
  Tok tok = Peek();
  if (IsChar(tok, ')')) {
    Lex();
    users.push_back(Myself());
    have_users = true;
  } else if (IsChar(tok, ':')) {
    Lex();
    if (IsChar(Peek(), ')')) {
      Lex();
      users.push_back(Myself());
      have_users = true;
    } else {
      if (!ParseList(ListKind::kRunasGroup, groups)) return false;
      have_groups = true;
      if (!Expect(')')) return false;
    }
  } else {
    if (!ParseList(ListKind::kRunasUser, users)) return false;
    have_users = true;
    Tok next = Lex();
    if (IsChar(next, ':')) {
      if (!ParseList(ListKind::kRunasGroup, groups)) return false;
      have_groups = true;
      if (!Expect(')')) return false;
    } else if (!IsChar(next, ')')) {
      return SyntaxError(next);
    }
  }
  if (have_users) cs.runas_users = std::move(users);
  if (have_groups) cs.runas_groups = std::move(groups);
  return true;
}

Member Parser::Myself() {
  Member m;
  m.kind = MemberKind::kMyself;
  return m;
}

void Parser::SetTag(Tags& tags, std::string_view name) {
  bool on = name.rfind("NO", 0) != 0;
  std::string_view base = on ? name : name.substr(2);
  TagState v = on ? TagState::kOn : TagState::kOff;
  if (base == "PASSWD") {
    tags.nopasswd = on ? TagState::kOff : TagState::kOn;  // PASSWD clears nopasswd
  } else if (base == "EXEC") {
    tags.noexec = on ? TagState::kOff : TagState::kOn;
  } else if (base == "SETENV") {
    tags.setenv = v;
  } else if (base == "LOG_INPUT") {
    tags.log_input = v;
  } else if (base == "LOG_OUTPUT") {
    tags.log_output = v;
  } else if (base == "MAIL") {
    tags.mail = v;
  } else if (base == "FOLLOW") {
    tags.follow = v;
  } else if (base == "INTERCEPT") {
    tags.intercept = v;
  }
}

// Value of an Option_Spec after '=' (toke.l: CWD/CHROOT read {PATH}|{WORD}, others a WORD).
bool Parser::ParseOptionValue(const std::string& option, std::string& value) {
  SkipSpace();
  if (option == "CWD" || option == "CHROOT") {
    size_t n = std::max(PathLen(pos_), WordLen(pos_));
    if (n == 0) return SyntaxError(Lex());
    value = Unescape(t_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  Tok tok = Lex();
  if (tok.type != T::kWord) return SyntaxError(tok);
  value = std::move(tok.text);
  return true;
}

// sudoers(5) Cmnd_Spec ::= Runas_Spec? Option_Spec* (Tag_Spec ':')* Cmnd
bool Parser::ParseCmndSpec(CmndSpec& cs) {
  if (IsChar(Peek(), '(')) {
    Lex();
    if (!ParseRunas(cs)) return false;
  }
  while (Peek().type == T::kOption) {
    Tok opt = Lex();
    if (!Expect('=')) return false;
    std::string value;
    if (!ParseOptionValue(opt.text, value)) return false;
    if (opt.text == "CWD") {
      cs.cwd = value;
    } else if (opt.text == "CHROOT") {
      cs.chroot = value;
    } else if (opt.text == "ROLE") {
      cs.role = value;
    } else if (opt.text == "TYPE") {
      cs.type = value;
    } else if (opt.text == "TIMEOUT") {
      auto secs = ParseTimeout(value);
      if (!secs) {
        Error(opt.line, "invalid timeout value");
        return false;
      }
      cs.timeout = *secs;
    } else {
      auto when = NormalizeGentime(value);
      if (!when) {
        Error(opt.line,
              opt.text == "NOTBEFORE" ? "invalid notbefore value" : "invalid notafter value");
        return false;
      }
      (opt.text == "NOTBEFORE" ? cs.notbefore : cs.notafter) = *when;
    }
  }
  while (Peek().type == T::kTag) SetTag(cs.tags, Lex().text);
  cs.line = Peek().line;
  if (!ParseCmnd(cs.command, true)) return false;
  // gram.y: sudo "ALL" implies the SETENV tag.
  if (cs.command.kind == MemberKind::kAll && !cs.command.negated &&
      cs.tags.setenv == TagState::kUnset) {
    cs.tags.setenv = TagState::kImplied;
  }
  return true;
}

// gram.y cmndspeclist: what a Cmnd_Spec inherits from the one before it.
void Parser::CarryOver(const CmndSpec& prev, CmndSpec& cs) {
  if (!cs.role && !cs.type) {
    cs.role = prev.role;
    cs.type = prev.type;
  }
  if (!cs.notbefore) cs.notbefore = prev.notbefore;
  if (!cs.notafter) cs.notafter = prev.notafter;
  if (!cs.timeout) cs.timeout = prev.timeout;
  if (!cs.cwd) cs.cwd = prev.cwd;
  if (!cs.chroot) cs.chroot = prev.chroot;
  auto inherit = [](TagState& t, TagState p) {
    if (t == TagState::kUnset) t = p;
  };
  inherit(cs.tags.nopasswd, prev.tags.nopasswd);
  inherit(cs.tags.noexec, prev.tags.noexec);
  if (prev.tags.setenv != TagState::kImplied) inherit(cs.tags.setenv, prev.tags.setenv);
  inherit(cs.tags.log_input, prev.tags.log_input);
  inherit(cs.tags.log_output, prev.tags.log_output);
  inherit(cs.tags.mail, prev.tags.mail);
  inherit(cs.tags.follow, prev.tags.follow);
  inherit(cs.tags.intercept, prev.tags.intercept);
  if (!cs.runas_users && !cs.runas_groups && (prev.runas_users || prev.runas_groups)) {
    cs.runas_users = prev.runas_users;
    cs.runas_groups = prev.runas_groups;
  }
}

// sudoers(5) User_Spec ::= User_List Host_List '=' Cmnd_Spec_List
//                          (':' Host_List '=' Cmnd_Spec_List)*
bool Parser::ParseUserSpec(int64_t line) {
  UserSpec us;
  us.source = {std::string(path_), line};
  if (!ParseList(ListKind::kUser, us.users)) return false;
  while (true) {
    Privilege priv;
    if (!ParseList(ListKind::kHost, priv.hosts)) return false;
    if (!Expect('=')) return false;
    while (true) {
      CmndSpec cs;
      if (!ParseCmndSpec(cs)) return false;
      if (!priv.cmnds.empty()) CarryOver(priv.cmnds.back(), cs);
      // What the spec holds, inherited parts included (they are copies).
      if (!Charge(sizeof(CmndSpec) + MemberCost(cs.command) + ListCost(cs.runas_users) +
                  ListCost(cs.runas_groups) + StringCost(cs.cwd) + StringCost(cs.chroot) +
                  StringCost(cs.role) + StringCost(cs.type))) {
        return false;
      }
      priv.cmnds.push_back(std::move(cs));
      if (!IsChar(Peek(), ',')) break;
      Lex();
    }
    us.privileges.push_back(std::move(priv));
    if (!IsChar(Peek(), ':')) break;
    Lex();
  }
  if (!ExpectEol()) return false;
  policy_.userspecs.push_back(std::move(us));
  return true;
}

// ---- entries ---------------------------------------------------------------------------

bool Parser::ParseEntry() {
  int64_t line = line_;
  if (AtNewline(pos_)) return ExpectEol();
  bool bol = pos_ == 0 || t_[pos_ - 1] == '\n';
  if (t_[pos_] == '#') {
    if (bol && StartsWith("#includedir") && pos_ + 11 < t_.size() && IsBlank(t_[pos_ + 11])) {
      pos_ += 11;
      return ParseInclude(true, line);
    }
    if (bol && StartsWith("#include") && pos_ + 8 < t_.size() && IsBlank(t_[pos_ + 8])) {
      pos_ += 8;
      return ParseInclude(false, line);
    }
    if (IsCommentAt(pos_)) return ExpectEol();
  }
  if (StartsWith("@includedir")) {
    pos_ += 11;
    return ParseInclude(true, line);
  }
  if (StartsWith("@include")) {
    pos_ += 8;
    return ParseInclude(false, line);
  }
  size_t wl = WordLen(pos_);
  if (StartsWith("Defaults")) {
    size_t after = pos_ + 8;
    bool binding = after < t_.size() && In(t_[after], ":@>!");
    if (binding || wl == 8) {
      pos_ = after;
      return ParseDefaults(line);
    }
  }
  static constexpr std::array<std::pair<std::string_view, AliasType>, 5> kAliasWords = {{
      {"User_Alias", AliasType::kUser},
      {"Runas_Alias", AliasType::kRunas},
      {"Host_Alias", AliasType::kHost},
      {"Cmnd_Alias", AliasType::kCmnd},
      {"Cmd_Alias", AliasType::kCmnd},
  }};
  for (const auto& [word, type] : kAliasWords) {
    if (StartsWith(word) && wl == word.size()) {
      pos_ += word.size();
      return ParseAliases(type);
    }
  }
  return ParseUserSpec(line);
}

}  // namespace internal

void ParseSudoersText(std::string_view text, std::string_view path, std::string_view short_host,
                      Policy& policy,
                      const std::function<void(const IncludeRequest&)>& on_include) {
  internal::Parser(text, path, short_host, policy, on_include).Run();
}

void AddBoundedError(std::vector<SectionError>& errors, SectionError error) {
  if (errors.size() + 1 < kMaxErrors) {
    errors.push_back(std::move(error));
  } else if (errors.size() + 1 == kMaxErrors) {
    error.message = "more than " + std::to_string(kMaxErrors) +
                    " errors in the sudoers files; further errors not reported";
    errors.push_back(std::move(error));
  }
}

}  // namespace tidemark::agent::sudoers
