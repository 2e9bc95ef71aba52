// Algorithm lists for the sshd_config files (sshd_algorithms.h). Source of truth: OpenSSH 9.2p1
// kex.c kex_assemble_names(), kex_names_valid(); match.c match_filter_allowlist(),
// match_filter_denylist(); cipher.c ciphers_valid(); mac.c mac_valid(); sshkey.c
// sshkey_names_valid2().
#include "agent/parsers/sshd_algorithms.h"

#include <algorithm>

#include "agent/parsers/sshd_match.h"

namespace tidemark::agent::sshd::internal {

namespace {

// The comma-separated names of `s` as views into it ("" is one empty name), as SplitComma.
std::vector<std::string_view> CommaViews(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t c = std::min(s.find(',', pos), s.size());
    out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

std::string JoinNames(const std::vector<std::string_view>& v) {
  std::string out;
  for (const auto& x : v) {
    if (!out.empty()) out += ',';
    out += x;
  }
  return out;
}

}  // namespace

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view n : CommaViews(s)) out.emplace_back(n);
  return out;
}

std::string FilterList(std::string_view proposal, std::string_view filter, bool allow) {
  std::vector<std::string_view> kept;
  if (filter.find_first_of("*?!") == std::string_view::npos) {
    // No wildcard and no negation: MatchPatternList is 1 exactly for an element of the filter
    // (and 0 for every name when an element is 1,023 bytes or longer). Every assembled list
    // filters its defaults by all known names this way: a tenth of a short collection's time
    // went to matching each name against each element.
    // Split as MatchPatternList does: "" has no element, a trailing comma adds none.
    std::vector<std::string_view> elements;
    bool too_long = false;
    for (size_t pos = 0; pos < filter.size();) {
      size_t c = std::min(filter.find(',', pos), filter.size());
      elements.push_back(filter.substr(pos, c - pos));
      too_long = too_long || c - pos >= 1023;
      pos = c + 1;
    }
    if (too_long) elements.clear();
    for (std::string_view name : CommaViews(proposal)) {
      bool match = std::find(elements.begin(), elements.end(), name) != elements.end();
      if (match == allow) kept.push_back(name);
    }
    return JoinNames(kept);
  }
  for (std::string_view name : CommaViews(proposal)) {
    if ((MatchPatternList(name, filter, false) == 1) == allow) kept.push_back(name);
  }
  return JoinNames(kept);
}

std::optional<std::string> AssembleNames(const std::optional<std::string>& list,
                                         const std::string& def, const std::string& all) {
  if (!list || list->empty()) return def;
  std::string_view l = *list;
  // kex_assemble_names() puts the defaults before ("+") or after ("^") the names, or filters
  // them ("-"). It drops repeated names there; the loop below keeps each match once anyway.
  std::vector<std::string_view> names;
  auto append = [&names](std::string_view text) {
    for (std::string_view n : CommaViews(text)) names.push_back(n);
  };
  if (l[0] == '+') {
    append(def);
    append(l.substr(1));
  } else if (l[0] == '-') {
    return FilterList(def, l.substr(1), false);
  } else if (l[0] == '^') {
    append(l.substr(1));
    append(def);
  } else {
    append(l);
  }
  // Then each name in turn: the supported names it matches, in the build's order, each once.
  std::vector<std::string_view> known = CommaViews(all);
  std::vector<std::string_view> ret;
  for (std::string_view cp : names) {
    if (!cp.empty() && cp[0] == '!') return std::nullopt;
    bool pattern = cp.find_first_of("*?!") != std::string_view::npos;
    for (std::string_view name : known) {
      if (name.empty()) continue;
      // FilterList(all, cp, true): an element of 1,023 bytes or more matches nothing.
      bool match = pattern ? MatchPatternList(name, cp, false) == 1
                           : !cp.empty() && cp.size() < 1023 && name == cp;
      if (match && std::find(ret.begin(), ret.end(), name) == ret.end()) ret.push_back(name);
    }
  }
  if (ret.empty()) return std::nullopt;
  return JoinNames(ret);
}

// ciphers_valid(), mac_valid(), kex_names_valid(), sshkey_names_valid2(): every name known, no
// patterns (key algorithms: patterns that match a known name). Each stops at the first empty
// name (`p && *p != '\0'` in their strsep loops): "aes128-ctr," and "aes128-ctr,,junk" pass.
bool NamesValid(std::string_view names, const std::string& all, bool wildcards) {
  if (names.empty()) return false;
  std::vector<std::string_view> known = CommaViews(all);
  for (std::string_view n : CommaViews(names)) {
    if (n.empty()) return true;
    if (wildcards && n.find_first_of("*?") != std::string::npos) {
      bool any = false;
      for (auto& k : known) any = any || MatchPatternList(k, n, false) != 0;
      if (!any) return false;
      continue;
    }
    if (std::find(known.begin(), known.end(), n) == known.end()) return false;
  }
  return true;
}

}  // namespace tidemark::agent::sshd::internal
