#include "agent/summary.h"

#include <string>

#include "common/text.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr size_t kMaxErrorsShown = 10;
// Bounds of one field on the auditor's screen: a host controls file names, key comments and
// error texts, and a 10 MB key comment must not fill the terminal.
constexpr size_t kMaxFieldBytes = 256;
constexpr size_t kMaxMessageBytes = 512;

// Host text made safe for a terminal (common/text.h): no escape sequences, no forged lines.
std::string Safe(std::string_view text, size_t max_bytes = kMaxFieldBytes) {
  return EscapeControlBounded(text, max_bytes);
}

const Section* FindSection(const Snapshot& snapshot, const std::string& name) {
  auto it = snapshot.sections.find(name);
  return it == snapshot.sections.end() ? nullptr : &it->second;
}

// Returns the value of `key` as text (escaped, bounded); "" when absent or null.
std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return Safe(it->is_string() ? it->get<std::string>()
                              : it->dump(-1, ' ', false, json::error_handler_t::replace));
}

// Returns j[key] when it is an array, else an empty array.
const json& ArrayAt(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

bool BoolAt(const json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string Source(const json& item) {
  if (!item.is_object()) return "";
  auto it = item.find("source");
  if (it == item.end() || !it->is_object()) return "";
  std::string s = Str(*it, "file");
  std::string line = Str(*it, "line");
  return line.empty() ? s : s + ":" + line;
}

std::string JoinStrings(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& v : list) {
    if (!out.empty()) out += ",";
    out += Safe(v.is_string() ? v.get<std::string>()
                              : v.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return out;
}

// One error as "path:line: message", escaped and bounded.
std::string DescribeError(const SectionError& e) {
  std::string where = Safe(e.path);
  if (e.line) where += ":" + std::to_string(*e.line);
  return (where.empty() ? "" : where + ": ") + Safe(e.message, kMaxMessageBytes);
}

// Why a section is not complete: its first errors, then how many more.
std::string Reasons(const Section& section) {
  if (section.errors.empty()) return "no error recorded";
  std::string out = DescribeError(section.errors.front());
  if (section.errors.size() > 1) {
    out += " (and " + std::to_string(section.errors.size() - 1) + " more error(s), listed below)";
  }
  return out;
}

// Ends a block of `shown` items: says when the section's source could not be read (status
// error) or was read only in part (partial), so that "could not read" never looks like "none".
void EndBlock(const Section& section, size_t shown, std::ostream& out) {
  switch (section.status) {
    case SectionStatus::kError:
      out << "  (COULD NOT BE READ: " << Reasons(section) << ")\n";
      return;
    case SectionStatus::kPartial:
      out << "  (" << (shown == 0 ? "none found, but " : "") << "INCOMPLETE: " << Reasons(section)
          << ")\n";
      return;
    case SectionStatus::kNotApplicable:
      if (shown == 0) out << "  (not applicable on this host)\n";
      return;
    case SectionStatus::kOk:
      if (shown == 0) out << "  (none)\n";
      return;
  }
}

void PrintAccounts(const Section& section, std::ostream& out) {
  const json& a = section.data;
  out << "Users with a login shell:\n";
  size_t n = 0;
  for (const auto& u : ArrayAt(a, "users")) {
    if (!BoolAt(u, "login_shell")) continue;
    ++n;
    std::string pw;
    if (u.contains("password") && u["password"].is_object()) {
      pw = Str(u["password"], "status");
      std::string scheme = Str(u["password"], "scheme");
      if (!scheme.empty()) pw += " " + scheme;
    }
    out << "  " << Str(u, "name") << " (uid " << Str(u, "uid") << ") " << Str(u, "shell")
        << (pw.empty() ? "" : "  password: " + pw) << "\n";
  }
  EndBlock(section, n, out);
  out << "UID 0 accounts: ";
  if (section.status == SectionStatus::kError && ArrayAt(a, "uid0").empty()) {
    out << "(could not be read)\n";
  } else {
    out << JoinStrings(ArrayAt(a, "uid0")) << "\n";
  }
  out << "Privileged group members:\n";
  n = 0;
  for (const auto& m : ArrayAt(a, "privileged_members")) {
    ++n;
    out << "  " << Str(m, "group") << ": " << Str(m, "user") << " (" << Str(m, "via") << ")\n";
  }
  EndBlock(section, n, out);
}

void PrintSudo(const Section& section, std::ostream& out) {
  const json& s = section.data;
  out << "Sudo grants:\n";
  size_t n = 0;
  for (const auto& g : ArrayAt(s, "grants")) {
    ++n;
    out << "  " << Str(g, "principal") << " " << Str(g, "host") << " = ("
        << JoinStrings(ArrayAt(g, "runas_users"));
    if (!ArrayAt(g, "runas_groups").empty()) out << " : " << JoinStrings(g["runas_groups"]);
    out << ") " << (BoolAt(g, "nopasswd") ? "NOPASSWD " : "") << Str(g, "command") << "  ["
        << Source(g) << "]\n";
  }
  EndBlock(section, n, out);
}

void PrintSshKeys(const Section& section, std::ostream& out) {
  out << "SSH authorized keys:\n";
  size_t n = 0;
  for (const auto& key : ArrayAt(section.data, "keys")) {
    ++n;
    out << "  " << Str(key, "user") << " " << Str(key, "type") << " " << Str(key, "bits") << " "
        << Str(key, "fingerprint") << " " << Str(key, "comment") << "  [" << Source(key) << "]\n";
  }
  EndBlock(section, n, out);
}

int64_t CountAt(const json& counts, const char* key) {
  auto it = counts.find(key);
  return it != counts.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

void PrintSweep(const Section& section, std::ostream& out) {
  const json& s = section.data;
  out << "SUID/SGID files:\n";
  size_t n = 0;
  for (const auto& f : ArrayAt(s, "setid_files")) {
    ++n;
    std::string pkgs = "no package";
    if (f.is_object() && f.contains("packages") && f["packages"].is_null()) {
      pkgs = "no dpkg database";
    }
    for (const auto& p : ArrayAt(f, "packages")) {
      std::string name =
          Safe(p.is_string() ? p.get<std::string>()
                             : p.dump(-1, ' ', false, json::error_handler_t::replace));
      pkgs = (pkgs == "no package" ? "" : pkgs + ",") + name;
    }
    out << "  " << Str(f, "mode") << " " << Str(f, "owner") << ":" << Str(f, "group") << " "
        << Str(f, "path") << "  (" << pkgs << ")\n";
  }
  EndBlock(section, n, out);
  json counts = s.is_object() && s.contains("counts") && s["counts"].is_object() ? s["counts"]
                                                                                 : json::object();
  out << "World-writable files: " << CountAt(counts, "world_writable_files")
      << ", world-writable dirs without sticky bit: " << CountAt(counts, "world_writable_dirs")
      << ", unowned files: " << CountAt(counts, "unowned_files") << "\n\n";
}

// The sshd settings that migrations most often relax, as the effective configuration has them.
void PrintSshd(const Section& section, std::ostream& out) {
  const json& s = section.data;
  out << "sshd:";
  if (section.status == SectionStatus::kError) {
    out << " COULD NOT BE READ: " << Reasons(section) << "\n";
    return;
  }
  if (!BoolAt(s, "present")) {
    out << " no /etc/ssh/sshd_config\n";
    return;
  }
  if (s.contains("would_start") && s["would_start"].is_boolean() && !s["would_start"]) {
    out << " sshd would NOT start with this configuration\n";
    return;
  }
  auto e = s.find("effective");
  if (e == s.end() || !e->is_object()) {
    out << " (not evaluated)\n";
    return;
  }
  for (const char* key : {"permitrootlogin", "passwordauthentication", "permitemptypasswords",
                          "kbdinteractiveauthentication", "allowtcpforwarding", "x11forwarding"}) {
    out << " " << key << "=" << Str(*e, key);
  }
  out << "\n";
  if (section.status == SectionStatus::kPartial)
    out << "  (INCOMPLETE: " << Reasons(section) << ")\n";
}

void PrintListeners(const Section& section, std::ostream& out) {
  out << "Listening sockets:\n";
  size_t count = 0;
  for (const auto& l : ArrayAt(section.data, "listeners")) {
    ++count;
    std::string who;
    for (const auto& p : ArrayAt(l, "processes")) {
      // Snapshots since the volatile split list owners without pids (network.md).
      who += (who.empty() ? "" : ",") + Str(p, "name") +
             (p.is_object() && p.contains("pid") ? "[" + Str(p, "pid") + "]" : "");
    }
    out << "  " << Str(l, "proto") << " " << Str(l, "endpoint") << "  "
        << (who.empty() ? "(process unknown)" : who) << "\n";
  }
  EndBlock(section, count, out);
}

}  // namespace

void PrintSummary(const Snapshot& snapshot, std::ostream& out) {
  out << "tidemark audit of " << Safe(snapshot.host.id)
      << (snapshot.host.root == "/" ? "" : " (root " + Safe(snapshot.host.root) + ")") << " at "
      << Safe(snapshot.collected_at) << "\n\n";
  if (const Section* a = FindSection(snapshot, "accounts")) PrintAccounts(*a, out);
  if (const Section* s = FindSection(snapshot, "sudo")) PrintSudo(*s, out);
  if (const Section* k = FindSection(snapshot, "ssh_keys")) PrintSshKeys(*k, out);
  if (const Section* d = FindSection(snapshot, "sshd")) PrintSshd(*d, out);
  if (const Section* n = FindSection(snapshot, "network")) PrintListeners(*n, out);
  if (const Section* w = FindSection(snapshot, "sweep")) PrintSweep(*w, out);
  out << "\nSections:\n";
  for (const auto& [name, section] : snapshot.sections) {
    out << "  " << Safe(name) << ": " << SectionStatusName(section.status) << ", "
        << section.errors.size() << " error(s), " << section.duration_ms << " ms\n";
    size_t shown = 0;
    for (const auto& e : section.errors) {
      if (shown++ == kMaxErrorsShown) {
        out << "    ... " << (section.errors.size() - kMaxErrorsShown) << " more\n";
        break;
      }
      out << "    " << DescribeError(e) << "\n";
    }
  }
}

size_t SectionsInError(const Snapshot& snapshot) {
  size_t n = 0;
  for (const auto& [name, section] : snapshot.sections) {
    if (section.status == SectionStatus::kError) ++n;
  }
  return n;
}

}  // namespace tidemark::agent
