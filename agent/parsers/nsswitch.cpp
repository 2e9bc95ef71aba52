#include "agent/parsers/nsswitch.h"

#include "agent/parsers/account_db.h"
#include "agent/parsers/lines.h"

namespace tidemark::agent {
namespace {

bool IsAccountDatabase(std::string_view name) {
  for (auto db : kNssAccountDatabases) {
    if (db == name) return true;
  }
  return name == "initgroups";
}

// Splits a service specification into module names, as glibc's nss_action_parse does: a name
// runs to a blank or '['; a '[' group runs to ']'. Returns false when a '[' is not closed.
bool ParseServices(std::string_view s, std::vector<std::string>& services, std::string& raw) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsAsciiSpace(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    if (s[i] == '[') {
      size_t close = s.find(']', i);
      if (close == std::string_view::npos) return false;
      std::string group;
      for (char c : s.substr(i, close - i + 1)) {
        if (!IsAsciiSpace(c)) group += c;
      }
      raw += (raw.empty() ? "" : " ") + group;
      i = close + 1;
      continue;
    }
    while (i < s.size() && !IsAsciiSpace(s[i]) && s[i] != '[') ++i;
    services.emplace_back(s.substr(start, i - start));
    raw += (raw.empty() ? "" : " ") + services.back();
  }
  return true;
}

void ApplyDefaults(NssConfig& config) {
  auto& dbs = config.databases;
  // glibc nss_database_reload: "shadow" defaults to "passwd", "gshadow" to "group" when only
  // the latter is given; anything else unspecified is "files" (Debian builds glibc without
  // LINK_OBSOLETE_NSL, so the historical "compat"/"nis" defaults are "files").
  auto inherit = [&](const std::string& db, const std::string& from) {
    if (dbs.count(db)) return;
    if (dbs.count(from)) {
      NssDatabase d = dbs[from];
      d.line = std::nullopt;
      d.defaulted_from = from;
      dbs[db] = d;
    }
  };
  inherit("shadow", "passwd");
  inherit("gshadow", "group");
  for (auto name : kNssAccountDatabases) {
    std::string db(name);
    if (dbs.count(db)) continue;
    NssDatabase d;
    d.services = {"files"};
    d.raw = "files";
    d.defaulted_from = "glibc default";
    dbs[db] = d;
  }
}

}  // namespace

NssConfig ParseNsswitch(std::string_view text, std::string_view path,
                        std::vector<SectionError>& errors) {
  NssConfig config;
  ForEachLine(text, [&](std::string_view line, int64_t number) {
    if (!AcceptLine(line, path, number, kMaxAccountLineBytes, errors)) return true;
    // glibc process_line(): skip blanks; the name runs to a blank or ':'; then blanks and
    // colons are skipped; a line without anything after the name is ignored.
    size_t i = 0;
    while (i < line.size() && IsAsciiSpace(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsAsciiSpace(line[i]) && line[i] != ':') ++i;
    if (i >= line.size() || i == start) return true;
    std::string name(line.substr(start, i - start));
    while (i < line.size() && (IsAsciiSpace(line[i]) || line[i] == ':')) ++i;
    if (!IsAccountDatabase(name)) return true;
    NssDatabase db;
    if (!ParseServices(line.substr(i), db.services, db.raw)) {
      errors.push_back({std::string(path), number,
                        "unterminated '[' action list for database " + name +
                            "; line skipped (glibc fails to load such a file)"});
      return true;
    }
    db.line = number;
    config.databases[name] = std::move(db);  // a later line replaces an earlier one
    return true;
  });
  ApplyDefaults(config);
  return config;
}

NssConfig DefaultNsswitch() {
  NssConfig config;
  ApplyDefaults(config);
  return config;
}

}  // namespace tidemark::agent
