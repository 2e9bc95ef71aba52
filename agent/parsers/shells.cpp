#include "agent/parsers/shells.h"

#include "agent/parsers/account_db.h"
#include "agent/parsers/lines.h"

namespace tidemark::agent {

std::vector<ShellEntry> ParseShells(std::string_view text, std::string_view path,
                                    std::vector<SectionError>& errors) {
  std::vector<ShellEntry> shells;
  ForEachLine(text, [&](std::string_view line, int64_t number) {
    if (!AcceptLine(line, path, number, kMaxAccountLineBytes, errors)) return true;
    // glibc misc/getusershell.c initshells(): skip to the first '#' or '/'; '#' (or nothing)
    // means no entry; the entry runs to the next blank or '#'.
    size_t start = line.find_first_of("#/");
    if (start == std::string_view::npos || line[start] == '#') return true;
    size_t end = start;
    while (end < line.size() && !IsAsciiSpace(line[end]) && line[end] != '#') ++end;
    shells.push_back({std::string(line.substr(start, end - start)), number});
    return true;
  });
  return shells;
}

bool IsNoLoginShell(std::string_view shell) {
  return shell == "/usr/sbin/nologin" || shell == "/sbin/nologin" || shell == "/bin/false" ||
         shell == "/usr/bin/false";
}

std::string_view EffectiveShell(std::string_view shell) {
  return shell.empty() ? kDefaultShell : shell;
}

}  // namespace tidemark::agent
