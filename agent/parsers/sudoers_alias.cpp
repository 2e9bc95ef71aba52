// Aliases: sudo 1.9.13's plugins/sudoers/gram.y alias rules (User_Alias, Runas_Alias, Host_Alias,
// Cmnd_Alias) and alias.c (alias_add()'s "already defined", alias_type_to_string()); sudoers(5),
// "Aliases". AliasExpander expands them as cvtsudoers -e does; sudo itself never expands
// aliases, so the bounds on expansion are ours.
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "agent/parsers/sudoers.h"
#include "agent/parsers/sudoers_internal.h"

namespace tidemark::agent::sudoers {
namespace internal {

// sudoers(5) Alias ::= 'User_Alias' User_Alias_Spec (':' User_Alias_Spec)* | ...
bool Parser::ParseAliases(AliasType type) {
  while (true) {
    Tok name = Lex();
    if (name.type != T::kAlias) return SyntaxError(name);
    if (!Expect('=')) return false;
    Alias alias;
    alias.type = type;
    alias.name = name.text;
    alias.source = {std::string(path_), name.line};
    bool ok = false;
    switch (type) {
      case AliasType::kUser:
        ok = ParseList(ListKind::kUser, alias.members);
        break;
      case AliasType::kRunas:
        ok = ParseList(ListKind::kRunasUser, alias.members);
        break;
      case AliasType::kHost:
        ok = ParseList(ListKind::kHost, alias.members);
        break;
      case AliasType::kCmnd:
        ok = ParseCmndList(alias.members);
        break;
    }
    if (!ok) return false;
    auto key = std::make_pair(type, alias.name);
    if (policy_.aliases.count(key) != 0) {
      Error(name.line, "Alias \"" + alias.name + "\" already defined");
      return false;
    }
    policy_.aliases.emplace(key, std::move(alias));
    if (!IsChar(Peek(), ':')) break;
    Lex();
  }
  return ExpectEol();
}

}  // namespace internal

std::string_view AliasTypeName(AliasType type) {
  switch (type) {
    case AliasType::kUser:
      return "User_Alias";
    case AliasType::kRunas:
      return "Runas_Alias";
    case AliasType::kHost:
      return "Host_Alias";
    case AliasType::kCmnd:
      return "Cmnd_Alias";
  }
  return "";
}

bool AliasExpander::Spend(uint64_t units, const SourceRef& where) {
  if (exhausted_) return false;
  if (units <= budget_) {
    budget_ -= units;
    return true;
  }
  budget_ = 0;
  exhausted_ = true;
  AddBoundedError(errors_, {where.file, where.line,
                            "sudoers too complex: alias expansion stopped after " +
                                std::to_string(kExpansionBudget) +
                                " steps; grants and Defaults from here on are incomplete"});
  return false;
}

bool AliasExpander::Append(std::vector<Member>& out, const Member& m, bool negate,
                           const SourceRef& where) {
  if (out.size() >= kMaxExpandedMembers) return false;
  if (!Spend(1 + (m.name.size() + m.args.size()) / 32, where)) return false;
  out.push_back(m);
  if (negate) out.back().negated = !m.negated;
  return true;
}

void AliasExpander::Expand(const std::vector<Member>& list, AliasType type,
                           std::vector<Member>& out, const SourceRef& where) {
  std::vector<Member> mine;  // this list's expansion, bounded on its own
  for (const auto& m : list) {
    if (exhausted_) break;
    if (m.kind != MemberKind::kAlias) {
      if (!Append(mine, m, false, where)) break;
      continue;
    }
    bool tainted = false;
    const std::vector<Member>* members = ExpandAlias(type, m.name, where, tainted, 1);
    if (members == nullptr) continue;
    for (const auto& e : *members) {
      if (!Append(mine, e, m.negated, where)) break;
    }
    if (mine.size() >= kMaxExpandedMembers) break;
  }
  if (mine.size() >= kMaxExpandedMembers && !exhausted_) {
    AddBoundedError(errors_, {where.file, where.line,
                              "list expands to more than " + std::to_string(kMaxExpandedMembers) +
                                  " members; the rest are left out"});
  }
  out.insert(out.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
}

const std::vector<Member>* AliasExpander::ExpandAlias(AliasType type, const std::string& name,
                                                      const SourceRef& where, bool& tainted,
                                                      int depth) {
  auto key = std::make_pair(type, name);
  if (auto it = memo_.find(key); it != memo_.end()) return &it->second;
  auto alias = policy_.aliases.find(key);
  if (alias == policy_.aliases.end()) {
    if (!reported_[key]) {
      reported_[key] = true;
      AddBoundedError(errors_, {where.file, where.line,
                                std::string(AliasTypeName(type)) + " \"" + name +
                                    "\" referenced but not defined"});
    }
    memo_[key];  // expands to nothing
    return nullptr;
  }
  if (visiting_[key]) {
    if (!reported_[key]) {
      reported_[key] = true;
      AddBoundedError(errors_,
                      {alias->second.source.file, alias->second.source.line,
                       "cycle in " + std::string(AliasTypeName(type)) + " \"" + name + "\""});
    }
    tainted = true;
    return nullptr;
  }
  if (depth > kMaxAliasDepth) {
    // Not memoized: a shallower reference to the same alias may still expand it.
    AddBoundedError(errors_,
                    {alias->second.source.file, alias->second.source.line,
                     std::string(AliasTypeName(type)) + " \"" + name + "\" nested more than " +
                         std::to_string(kMaxAliasDepth) + " aliases deep; left out"});
    tainted = true;
    return nullptr;
  }
  visiting_[key] = true;
  std::vector<Member> result;
  bool my_taint = false;
  const SourceRef& here = alias->second.source;
  for (const auto& m : alias->second.members) {
    if (exhausted_ || result.size() >= kMaxExpandedMembers) break;
    if (m.kind != MemberKind::kAlias) {
      Append(result, m, false, here);
      continue;
    }
    const std::vector<Member>* sub = ExpandAlias(type, m.name, here, my_taint, depth + 1);
    if (sub == nullptr) continue;
    for (const auto& e : *sub) {
      if (!Append(result, e, m.negated, here)) break;
    }
  }
  visiting_[key] = false;
  if (result.size() >= kMaxExpandedMembers && !exhausted_) {
    AddBoundedError(errors_,
                    {here.file, here.line,
                     std::string(AliasTypeName(type)) + " \"" + name + "\" expands to more than " +
                         std::to_string(kMaxExpandedMembers) + " members; the rest are left out"});
  }
  if (my_taint || exhausted_) {
    // Part of a cycle (the result depends on where the walk entered it), too deep, or cut by
    // the budget: not memoized (cvtsudoers -e stops at the alias already being expanded, as
    // this walk does).
    tainted = true;
    scratch_.push_back(std::move(result));
    return &scratch_.back();
  }
  return &(memo_[key] = std::move(result));
}

}  // namespace tidemark::agent::sudoers
