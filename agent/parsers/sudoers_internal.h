// Internal to the sudoers parser files (agent/parsers/sudoers*.cpp), not for sections: the
// declarations they share. The public interface is agent/parsers/sudoers.h.
// The files follow sudo 1.9.13's plugins/sudoers: sudoers_lexer.cpp (toke.l, toke_util.c),
// sudoers.cpp (gram.y), sudoers_include.cpp (toke.l's @include/@includedir), sudoers_alias.cpp
// (alias.c), sudoers_defaults.cpp (defaults.c), sudoers_time.cpp (timeout.c, gentime.c).
#pragma once

#include <cctype>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/parsers/sudoers.h"

namespace tidemark::agent::sudoers::internal {

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
inline bool IsSpaceClass(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline bool In(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

// What a parsed member costs against kMaxParsedBytes.
uint64_t MemberCost(const Member& m);
uint64_t StringCost(const std::optional<std::string>& s);

// toke_util.c fill_txt() and fill_cmnd() (sudoers_lexer.cpp).
std::string Unescape(std::string_view src);
std::string UnescapeCommand(std::string_view src);

// Bytes of a digest algorithm's hash ("sha224" ... "sha512"), 0 for another word.
size_t DigestLen(std::string_view alg);

enum class T {
  kEol,        // newline, comment or end of input (not consumed)
  kChar,       // one of ( ) , = : !
  kWord,       // WORD or ID (unescaped in text)
  kString,     // a double-quoted string that is a WORD
  kAlias,      // [A-Z][A-Z0-9_]*
  kAll,        // ALL
  kUserGroup,  // %...
  kNetgroup,   // +...
  kNtwkAddr,   // address or network
  kPath,       // a command path (start..end in the text)
  kRegex,      // a command regex
  kSudoedit,   // sudoedit
  kDigestAlg,  // sha224 ... sha512
  kTag,        // NOPASSWD: etc. (colon consumed)
  kOption,     // CWD, CHROOT, ...
  kError,      // a lexical error (message in text)
};

struct Tok {
  T type = T::kEol;
  char ch = 0;
  std::string text;
  int64_t line = 0;
  size_t start = 0;
  size_t end = 0;
};

enum class ListKind { kUser, kRunasUser, kRunasGroup, kHost };

// The tokenizer (toke.l, sudoers_lexer.cpp): the text, the read position and the line. The
// grammar derives from it and, where sudoers(5) changes what a token is (toke.l's start
// conditions GOTDEFS, GOTCMND, GOTREGEX, WANTDIGEST, GOTINC), reads the text at pos_ itself.
class Lexer {
 protected:
  explicit Lexer(std::string_view text) : t_(text) {}

  // ---- character level -------------------------------------------------------------------

  size_t ContinuationLen(size_t i) const;
  bool SkipSpace();

  bool AtNewline(size_t i) const {
    return i >= t_.size() || t_[i] == '\n' ||
           (t_[i] == '\r' && i + 1 < t_.size() && t_[i + 1] == '\n');
  }

  size_t IdLen(size_t i) const;

  // A '#' at i starts a comment unless it is an ID ("#123", "#-1").
  bool IsCommentAt(size_t i) const { return i < t_.size() && t_[i] == '#' && IdLen(i) == 0; }

  size_t WordLen(size_t i) const;
  size_t PathLen(size_t i) const;
  size_t RegexLen(size_t i) const;
  size_t OctetLen(size_t i) const;
  size_t Ipv4Len(size_t i) const;
  size_t AddrLen(size_t i, bool* ipv6) const;
  size_t UpperRunLen(size_t i) const;
  size_t EnvarLen(size_t i) const;

  bool StartsWith(std::string_view word) const { return t_.substr(pos_, word.size()) == word; }

  // ---- tokens ----------------------------------------------------------------------------

  Tok LexString();
  static Tok ClassifyString(Tok tok);
  Tok Lex();
  Tok Peek();

  bool IsChar(const Tok& tok, char c) const { return tok.type == T::kChar && tok.ch == c; }

  std::string_view t_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

// The grammar (gram.y, sudoers.cpp; include directives in sudoers_include.cpp, aliases in
// sudoers_alias.cpp, Defaults in sudoers_defaults.cpp): parses one file's text into a Policy, one
// entry at a time.
class Parser : private Lexer {
 public:
  Parser(std::string_view text, std::string_view path, std::string_view short_host, Policy& policy,
         const std::function<void(const IncludeRequest&)>& on_include)
      : Lexer(text),
        path_(path),
        short_host_(short_host),
        policy_(policy),
        on_include_(on_include) {}

  void Run();

 private:
  // ---- errors ----------------------------------------------------------------------------

  int64_t LineAt(size_t offset) const;
  void Error(int64_t line, std::string message);
  bool Charge(uint64_t bytes);
  bool SyntaxError(const Tok& tok);

  // ---- expected tokens, error recovery ---------------------------------------------------

  bool Expect(char c);
  bool ExpectEol();
  void RecoverToEol();

  // ---- members ---------------------------------------------------------------------------

  bool ParseMember(ListKind kind, Member& m);
  bool ParseList(ListKind kind, std::vector<Member>& out);

  // ---- commands (sudoers(5) "Cmnd", toke.l GOTCMND / GOTREGEX) ---------------------------

  void AppendArg(Member& m, std::string_view s, bool& sawspace);
  bool CheckRegex(std::string_view re, int64_t line);
  bool ReadRegexArg(Member& m);
  bool ReadArgs(Member& m);
  bool FinishCommand(const Tok& tok, Member& m, bool with_args);
  bool ParseCmnd(Member& m, bool with_args);
  bool ParseCmndList(std::vector<Member>& out);

  // ---- user specifications ---------------------------------------------------------------

  bool ParseRunas(CmndSpec& cs);
  static Member Myself();
  static void SetTag(Tags& tags, std::string_view name);
  bool ParseOptionValue(const std::string& option, std::string& value);
  bool ParseCmndSpec(CmndSpec& cs);
  static void CarryOver(const CmndSpec& prev, CmndSpec& cs);
  bool ParseUserSpec(int64_t line);

  // ---- aliases (sudoers_alias.cpp) -------------------------------------------------------

  bool ParseAliases(AliasType type);

  // ---- Defaults (sudoers_defaults.cpp) ---------------------------------------------------

  bool ParseBinding(DefaultsType type, std::vector<Member>& out);
  bool ParseDefaults(int64_t line);

  // ---- includes (sudoers_include.cpp) ----------------------------------------------------

  bool ParseInclude(bool is_dir, int64_t line);

  // ---- entries ---------------------------------------------------------------------------

  bool ParseEntry();

  std::string_view path_;
  std::string_view short_host_;
  Policy& policy_;
  const std::function<void(const IncludeRequest&)>& on_include_;
  int errors_ = 0;
};

}  // namespace tidemark::agent::sudoers::internal
