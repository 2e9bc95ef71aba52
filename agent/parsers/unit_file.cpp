#include "agent/parsers/unit_file.h"

#include <algorithm>

#include "agent/parsers/lines.h"

namespace tidemark::agent::unit_file {
namespace {

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

constexpr std::string_view kTypes[] = {"service", "socket",    "target", "device",
                                       "mount",   "automount", "swap",   "timer",
                                       "path",    "slice",     "scope"};

}  // namespace

Parsed Parse(std::string_view text, std::string_view path, std::vector<SectionError>& errors) {
  Parsed out;
  std::string section;
  std::string pending;  // a continued line
  int64_t pending_line = 0;
  bool continuing = false;
  size_t nul_errors = 0;
  auto handle = [&](std::string_view line, int64_t number) {
    std::string_view t = Trim(line);
    if (t.empty()) return;
    if (t.front() == '[') {
      if (t.back() != ']') {
        errors.push_back({std::string(path), number, "invalid section header; ignored"});
        return;
      }
      section = std::string(t.substr(1, t.size() - 2));
      return;
    }
    size_t eq = t.find('=');
    if (eq == std::string_view::npos) {
      errors.push_back({std::string(path), number, "line without '='; ignored"});
      return;
    }
    if (section.empty()) {
      errors.push_back({std::string(path), number, "assignment outside of a section; ignored"});
      return;
    }
    out.assignments.push_back(
        {section, std::string(Trim(t.substr(0, eq))), std::string(Trim(t.substr(eq + 1))), number});
  };
  ForEachLine(text, [&](std::string_view line, int64_t number) {
    if (HasNul(line)) {
      if (nul_errors++ < 20) {
        errors.push_back({std::string(path), number, "line contains a NUL byte; skipped"});
      }
      return true;
    }
    std::string_view t = Trim(line);
    if (continuing && !t.empty() && (t.front() == '#' || t.front() == ';')) return true;
    if (!continuing && (t.empty() || t.front() == '#' || t.front() == ';')) return true;
    if (!continuing) pending_line = number;
    std::string_view piece = line;
    bool cont = !piece.empty() && piece.back() == '\\';
    if (cont) piece.remove_suffix(1);
    if (pending.size() + piece.size() > kMaxLine) {
      errors.push_back(
          {std::string(path), pending_line,
           "line longer than " + std::to_string(kMaxLine) + " bytes: systemd rejects this file"});
      out.fatal = true;
      return false;
    }
    pending.append(piece);
    if (cont) {
      pending.push_back(' ');
      continuing = true;
      return true;
    }
    continuing = false;
    handle(pending, pending_line);
    pending.clear();
    return true;
  });
  if (continuing && !out.fatal) handle(pending, pending_line);
  if (nul_errors > 20) {
    errors.push_back({std::string(path), std::nullopt,
                      std::to_string(nul_errors - 20) + " more lines with NUL bytes"});
  }
  return out;
}

NameKind ClassifyName(std::string_view name) {
  if (name.empty() || name.size() >= 256) return NameKind::kInvalid;
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return NameKind::kInvalid;
  std::string_view suffix = name.substr(dot + 1);
  if (std::find(std::begin(kTypes), std::end(kTypes), suffix) == std::end(kTypes)) {
    return NameKind::kInvalid;
  }
  std::string_view stem = name.substr(0, dot);
  for (char c : stem) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
    if (!ok) return NameKind::kInvalid;
  }
  size_t at = stem.find('@');
  if (at == std::string_view::npos) return NameKind::kPlain;
  if (at == 0 || stem.find('@', at + 1) != std::string_view::npos) return NameKind::kInvalid;
  return at + 1 == stem.size() ? NameKind::kTemplate : NameKind::kInstance;
}

std::string TypeOf(std::string_view name) {
  if (ClassifyName(name) == NameKind::kInvalid) return "";
  return std::string(name.substr(name.rfind('.') + 1));
}

std::string TemplateOf(std::string_view instance) {
  size_t at = instance.find('@');
  size_t dot = instance.rfind('.');
  if (at == std::string_view::npos || dot == std::string_view::npos) return std::string(instance);
  return std::string(instance.substr(0, at + 1)) + std::string(instance.substr(dot));
}

std::string InstanceOf(std::string_view instance) {
  size_t at = instance.find('@');
  size_t dot = instance.rfind('.');
  if (at == std::string_view::npos || dot == std::string_view::npos || dot < at) return "";
  return std::string(instance.substr(at + 1, dot - at - 1));
}

std::string ReplaceInstance(std::string_view name, std::string_view instance) {
  size_t at = name.find('@');
  size_t dot = name.rfind('.');
  if (at == std::string_view::npos || dot == std::string_view::npos) return std::string(name);
  return std::string(name.substr(0, at + 1)) + std::string(instance) +
         std::string(name.substr(dot));
}

std::optional<std::string> Unescape(std::string_view escaped) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    if (c == '-') {
      out += '/';
    } else if (c == '\\') {
      if (i + 3 >= escaped.size()) return std::nullopt;  // "\\xNN" needs three more bytes
      if (escaped[i + 1] != 'x') return std::nullopt;
      int a = hex(escaped[i + 2]), b = hex(escaped[i + 3]);
      if (a < 0 || b < 0) return std::nullopt;
      out += static_cast<char>((a << 4) | b);
      i += 3;
    } else {
      out += c;
    }
  }
  return out;
}

std::string ExpandSpecifiers(std::string_view value, std::string_view unit_name, bool* expanded) {
  if (expanded) *expanded = false;
  if (value.find('%') == std::string_view::npos) return std::string(value);
  size_t dot = unit_name.rfind('.');
  std::string_view full_prefix = unit_name.substr(0, dot);  // %N
  size_t at = full_prefix.find('@');
  std::string_view prefix = full_prefix.substr(0, at);  // %p
  std::string_view instance =
      at == std::string_view::npos ? std::string_view() : full_prefix.substr(at + 1);  // %i
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%' || i + 1 == value.size()) {
      out += value[i];
      continue;
    }
    char spec = value[i + 1];
    std::optional<std::string> rep;
    switch (spec) {
      case '%':
        rep = "%";
        break;
      case 'n':
        rep = std::string(unit_name);
        break;
      case 'N':
        rep = std::string(full_prefix);
        break;
      case 'p':
        rep = std::string(prefix);
        break;
      case 'i':
        rep = std::string(instance);
        break;
      case 'P':
        rep = Unescape(prefix);
        break;
      case 'I':
        rep = Unescape(instance);
        break;
      default:
        break;
    }
    if (!rep) {  // not one of ours (or an escape systemd rejects): kept as written
      out += value[i];
      continue;
    }
    out += *rep;
    ++i;
    if (expanded) *expanded = true;
  }
  return out;
}

std::vector<std::string> SplitWords(std::string_view value) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && i + 1 < value.size()) {
        cur += value[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '\\' && i + 1 < value.size()) {
      cur += value[++i];
    } else {
      cur += c;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

}  // namespace tidemark::agent::unit_file
