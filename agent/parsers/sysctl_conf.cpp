#include "agent/parsers/sysctl_conf.h"

#include <fnmatch.h>

#include "agent/parsers/lines.h"

namespace tidemark::agent::sysctl {

std::string NormalizeKey(std::string_view key) {
  std::string s(key);
  size_t first = s.find_first_of("/.");
  if (first != std::string::npos && s[first] == '.') {
    for (size_t i = first; i < s.size(); ++i) {
      if (s[i] == '.') {
        s[i] = '/';
      } else if (s[i] == '/') {
        s[i] = '.';
      }
    }
  }
  // path_simplify(): drop empty and "." components; the leading slash goes too.
  std::string out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find('/', pos);
    if (end == std::string::npos) end = s.size();
    std::string_view comp(s.data() + pos, end - pos);
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out += '/';
      out += comp;
    }
    pos = end + 1;
  }
  return out;
}

std::string DisplayKey(std::string_view normalized) {
  std::string s(normalized);
  for (char& c : s) {
    if (c == '/') {
      c = '.';
    } else if (c == '.') {
      c = '/';
    }
  }
  return s;
}

bool IsGlob(std::string_view key) { return key.find_first_of("*?[") != std::string_view::npos; }

namespace {
constexpr size_t kMaxAssignmentsPerFile = 10000;
}  // namespace

std::vector<Assignment> ParseSysctlConf(std::string_view text, std::string_view path,
                                        std::vector<SectionError>& errors, size_t max_line) {
  std::vector<Assignment> out;
  ErrorCap cap(errors, std::string(path));
  ForEachLine(text, [&](std::string_view raw, int64_t number) {
    cap.Trim();
    if (out.size() >= kMaxAssignmentsPerFile) {
      cap.Stop({std::string(path), number,
                "more than " + std::to_string(kMaxAssignmentsPerFile) +
                    " assignments; the rest of the file is not read"});
      return false;
    }
    if (!AcceptLine(raw, path, number, max_line, errors)) return true;
    // systemd strstrip(): whitespace is the C locale's isspace set.
    std::string_view p = TrimBlank(raw);
    if (p.empty() || p.front() == '#' || p.front() == ';') return true;
    Assignment a;
    a.line = number;
    size_t eq = p.find('=');
    std::string_view key;
    if (eq != std::string_view::npos) {
      key = p.substr(0, eq);
      if (!key.empty() && key.front() == '-') {
        a.ignore_failure = true;
        key.remove_prefix(1);
      }
      a.value = std::string(TrimBlank(p.substr(eq + 1)));
    } else if (p.front() == '-') {
      key = p.substr(1);  // "-key": exclude the key from glob assignments
    } else {
      errors.push_back({std::string(path), number, "line is not an assignment; ignored"});
      return true;
    }
    a.path = NormalizeKey(TrimBlank(key));
    if (a.path.empty()) {
      errors.push_back({std::string(path), number, "assignment without a key; ignored"});
      return true;
    }
    a.key = DisplayKey(a.path);
    a.glob = IsGlob(a.path);
    out.push_back(std::move(a));
    return true;
  });
  cap.Finish();
  return out;
}

std::optional<size_t> FindConfigured(const std::vector<Assignment>& options,
                                     std::string_view path) {
  std::string p(path);
  for (size_t i = 0; i < options.size(); ++i) {
    if (!options[i].glob && options[i].path == p) return i;
  }
  std::optional<size_t> found;
  for (size_t i = 0; i < options.size(); ++i) {
    const Assignment& o = options[i];
    if (o.glob && o.value && ::fnmatch(o.path.c_str(), p.c_str(), FNM_PATHNAME | FNM_PERIOD) == 0)
      found = i;
  }
  return found;
}

}  // namespace tidemark::agent::sysctl
