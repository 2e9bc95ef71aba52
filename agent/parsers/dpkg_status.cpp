#include "agent/parsers/dpkg_status.h"

#include <array>

#include "agent/parsers/lines.h"
#include "common/text.h"

namespace tidemark::agent::dpkg {
namespace {

template <size_t N>
char Abbrev(std::string_view word, const std::array<std::pair<std::string_view, char>, N>& table) {
  for (const auto& [w, c] : table) {
    if (w == word) return c;
  }
  return 0;
}

// dpkg lib/dpkg/dbmodify.c / pkg-db: the status words and dpkg-query's abbreviations.
constexpr std::array<std::pair<std::string_view, char>, 5> kWant = {
    {{"unknown", 'u'}, {"install", 'i'}, {"hold", 'h'}, {"deinstall", 'r'}, {"purge", 'p'}}};
constexpr std::array<std::pair<std::string_view, char>, 2> kEflag = {
    {{"ok", ' '}, {"reinstreq", 'R'}}};
constexpr std::array<std::pair<std::string_view, char>, 8> kStatus = {{{"not-installed", 'n'},
                                                                       {"config-files", 'c'},
                                                                       {"half-installed", 'H'},
                                                                       {"unpacked", 'U'},
                                                                       {"half-configured", 'F'},
                                                                       {"triggers-awaited", 'W'},
                                                                       {"triggers-pending", 't'},
                                                                       {"installed", 'i'}}};

struct Stanza {
  int64_t start = 0;
  bool any = false;
  bool broken = false;
  Package pkg;
  bool has_status = false;
  std::string status_raw;
};

// The stanza ended: its package goes to `fn`, or the reason it is skipped to `errors`.
void FinishStanza(Stanza& st, std::string_view path, const std::function<void(Package&&)>& fn,
                  std::vector<SectionError>& errors) {
  if (!st.any) return;
  std::string where = "stanza at line " + std::to_string(st.start);
  if (st.broken) {
    // The line error is already recorded.
  } else if (st.pkg.name.empty()) {
    errors.push_back({std::string(path), st.start, where + " has no Package field; skipped"});
  } else if (!st.has_status) {
    errors.push_back({std::string(path), st.start,
                      where + " (" + st.pkg.name + ") has no Status field; skipped"});
  } else {
    // Status: want eflag status (three words).
    std::vector<std::string> words;
    std::string_view s = st.status_raw;
    while (!s.empty()) {
      while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
      size_t n = 0;
      while (n < s.size() && !IsBlank(s[n])) ++n;
      if (n) words.emplace_back(s.substr(0, n));
      s.remove_prefix(n);
    }
    if (words.size() != 3 || !Abbrev(words[0], kWant) || !Abbrev(words[1], kEflag) ||
        !Abbrev(words[2], kStatus)) {
      errors.push_back({std::string(path), st.start,
                        where + " (" + st.pkg.name + ") has a malformed Status; skipped"});
    } else {
      st.pkg.want = words[0];
      st.pkg.eflag = words[1];
      st.pkg.status = words[2];
      st.pkg.line = st.start;
      fn(std::move(st.pkg));
    }
  }
}

// Keeps the fields the section reports (the others, e.g. Description, are not kept).
void SetField(std::string_view field, std::string value, Stanza& st) {
  if (EqualsNoCase(field, "Package")) {
    st.pkg.name = value;
  } else if (EqualsNoCase(field, "Version")) {
    st.pkg.version = value;
  } else if (EqualsNoCase(field, "Architecture")) {
    st.pkg.architecture = value;
  } else if (EqualsNoCase(field, "Status")) {
    st.has_status = true;
    st.status_raw = value;
  } else if (EqualsNoCase(field, "Source")) {
    // "Source: name" or "Source: name (version)".
    size_t paren = value.find('(');
    if (paren == std::string::npos) {
      st.pkg.source = value;
    } else {
      st.pkg.source = std::string(TrimBlank(std::string_view(value).substr(0, paren)));
      size_t close = value.find(')', paren);
      st.pkg.source_version = value.substr(
          paren + 1, close == std::string::npos ? std::string::npos : close - paren - 1);
    }
  }
}

}  // namespace

std::string StatusAbbrev(const Package& p) {
  char w = Abbrev(p.want, kWant), e = Abbrev(p.eflag, kEflag), s = Abbrev(p.status, kStatus);
  if (!w || !e || !s) return "";
  return std::string{w, s, e};
}

void ParseStatus(std::string_view text, std::string_view path,
                 const std::function<void(Package&&)>& fn, std::vector<SectionError>& errors,
                 size_t max_line) {
  Stanza st;
  bool have_field = false;
  auto finish = [&]() {
    FinishStanza(st, path, fn, errors);
    st = Stanza();
    have_field = false;
  };
  ErrorCap cap(errors, std::string(path));
  ForEachLine(text, [&](std::string_view raw, int64_t number) {
    cap.Trim();
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (TrimBlank(raw).empty()) {
      finish();
      return true;
    }
    if (!st.any) {
      st.any = true;
      st.start = number;
    }
    if (!AcceptLine(raw, path, number, max_line, errors)) {
      st.broken = true;
      return true;
    }
    if (raw.front() == ' ' || raw.front() == '\t') {
      if (!have_field && !st.broken) {
        errors.push_back(
            {std::string(path), number, "continuation line before any field; stanza skipped"});
        st.broken = true;
      }
      return true;  // continuation of a field we do not keep whole (Description, Conffiles...)
    }
    if (raw.front() == '#') return true;
    size_t colon = raw.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      if (!st.broken)
        errors.push_back(
            {std::string(path), number, "line is not \"Field: value\"; stanza skipped"});
      st.broken = true;
      return true;
    }
    std::string_view field = raw.substr(0, colon);
    std::string value(TrimBlank(raw.substr(colon + 1)));
    have_field = true;
    SetField(field, std::move(value), st);
    return true;
  });
  finish();
  cap.Finish();
}

}  // namespace tidemark::agent::dpkg
