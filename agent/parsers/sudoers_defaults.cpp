// Defaults entries: sudo 1.9.13's plugins/sudoers/gram.y defaults rules (Defaults, Defaults:,
// Defaults@, Defaults>, Defaults!) with toke.l's GOTDEFS state; sudoers(5), "Defaults". Values
// are kept as written: what a parameter means (defaults.c) is the sudo section's.
#include <string>
#include <utility>
#include <vector>

#include "agent/parsers/sudoers.h"
#include "agent/parsers/sudoers_internal.h"

namespace tidemark::agent::sudoers {
namespace internal {

// A Defaults binding list (toke.l GOTDEFS): blanks end the list except around commas.
bool Parser::ParseBinding(DefaultsType type, std::vector<Member>& out) {
  while (true) {
    Member m;
    bool ok = false;
    if (type == DefaultsType::kCommand) {
      ok = ParseCmnd(m, false);
    } else {
      ok = ParseMember(type == DefaultsType::kHost   ? ListKind::kHost
                       : type == DefaultsType::kUser ? ListKind::kUser
                                                     : ListKind::kRunasUser,
                       m);
    }
    if (!ok) return false;
    if (!Charge(MemberCost(m))) return false;
    out.push_back(std::move(m));
    size_t j = pos_;
    while (j < t_.size() && IsBlank(t_[j])) ++j;
    if (j < t_.size() && t_[j] == ',') {
      pos_ = j + 1;
      continue;
    }
    return true;
  }
}

// sudoers(5) Default_Entry ::= Default_Type Parameter_List
bool Parser::ParseDefaults(int64_t line) {
  // pos_ is just after "Defaults".
  DefaultsType type = DefaultsType::kGlobal;
  std::vector<Member> binding;
  if (pos_ < t_.size() && In(t_[pos_], ":@>!")) {
    char c = t_[pos_++];
    type = c == ':'   ? DefaultsType::kUser
           : c == '@' ? DefaultsType::kHost
           : c == '>' ? DefaultsType::kRunas
                      : DefaultsType::kCommand;
    while (pos_ < t_.size() && IsBlank(t_[pos_])) ++pos_;
    if (!ParseBinding(type, binding)) return false;
  }
  // Parameter_List ::= Parameter | Parameter ',' Parameter_List
  std::vector<DefaultsEntry> entries;
  while (true) {
    SkipSpace();
    bool negated = false;
    while (pos_ < t_.size() && t_[pos_] == '!') {
      negated = !negated;
      ++pos_;
      SkipSpace();
    }
    size_t j = pos_;
    while (j < t_.size() && ((t_[j] >= 'a' && t_[j] <= 'z') || t_[j] == '_')) ++j;
    if (j == pos_) return SyntaxError(Lex());
    DefaultsEntry e;
    e.type = type;
    e.binding = binding;
    e.name = std::string(t_.substr(pos_, j - pos_));
    e.negated = negated;
    e.source = {std::string(path_), line};
    pos_ = j;
    SkipSpace();
    if (pos_ < t_.size() && t_[pos_] == '=') {
      e.op = "=";
      ++pos_;
    } else if (pos_ + 1 < t_.size() && (t_[pos_] == '+' || t_[pos_] == '-') &&
               t_[pos_ + 1] == '=') {
      e.op = t_[pos_] == '+' ? "+=" : "-=";
      pos_ += 2;
    }
    if (!e.op.empty()) {
      if (negated) {
        Error(line_, "syntax error");
        return false;
      }
      SkipSpace();
      if (pos_ < t_.size() && t_[pos_] == '"') {
        Tok s = LexString();
        if (s.type == T::kError) return SyntaxError(s);
        e.value = std::move(s.text);
      } else {
        size_t n = EnvarLen(pos_);
        if (n == 0) return SyntaxError(Lex());
        e.value = Unescape(t_.substr(pos_, n));
        pos_ += n;
      }
    }
    if (!Charge(sizeof(DefaultsEntry) + e.name.size() + StringCost(e.value))) return false;
    entries.push_back(std::move(e));
    SkipSpace();
    if (pos_ < t_.size() && t_[pos_] == ',') {
      ++pos_;
      continue;
    }
    break;
  }
  if (!ExpectEol()) return false;
  for (auto& e : entries) policy_.defaults.push_back(std::move(e));
  return true;
}

}  // namespace internal

std::string_view DefaultsTypeName(DefaultsType type) {
  switch (type) {
    case DefaultsType::kGlobal:
      return "global";
    case DefaultsType::kUser:
      return "user";
    case DefaultsType::kHost:
      return "host";
    case DefaultsType::kRunas:
      return "runas";
    case DefaultsType::kCommand:
      return "command";
  }
  return "";
}

}  // namespace tidemark::agent::sudoers
