#include "agent/summary.h"

#include <string>

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr size_t kMaxErrorsShown = 10;

const json* SectionData(const Snapshot& snapshot, const std::string& name) {
  auto it = snapshot.sections.find(name);
  return it == snapshot.sections.end() ? nullptr : &it->second.data;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string Source(const json& item) {
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
    out += v.is_string() ? v.get<std::string>() : v.dump();
  }
  return out;
}

void PrintAccounts(const json& a, std::ostream& out) {
  out << "Users with a login shell:\n";
  size_t n = 0;
  for (const auto& u : a.value("users", json::array())) {
    if (!u.value("login_shell", false)) continue;
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
  if (n == 0) out << "  (none)\n";
  out << "UID 0 accounts: " << (a.contains("uid0") ? JoinStrings(a["uid0"]) : "") << "\n";
  out << "Privileged group members:\n";
  n = 0;
  for (const auto& m : a.value("privileged_members", json::array())) {
    ++n;
    out << "  " << Str(m, "group") << ": " << Str(m, "user") << " (" << Str(m, "via") << ")\n";
  }
  if (n == 0) out << "  (none)\n";
}

void PrintSudo(const json& s, std::ostream& out) {
  out << "Sudo grants:\n";
  size_t n = 0;
  for (const auto& g : s.value("grants", json::array())) {
    ++n;
    out << "  " << Str(g, "principal") << " " << Str(g, "host") << " = ("
        << JoinStrings(g.value("runas_users", json::array()));
    if (!g.value("runas_groups", json::array()).empty()) {
      out << " : " << JoinStrings(g["runas_groups"]);
    }
    out << ") " << (g.value("nopasswd", false) ? "NOPASSWD " : "") << Str(g, "command") << "  ["
        << Source(g) << "]\n";
  }
  if (n == 0) out << "  (none)\n";
}

void PrintSshKeys(const json& k, std::ostream& out) {
  out << "SSH authorized keys:\n";
  size_t n = 0;
  for (const auto& key : k.value("keys", json::array())) {
    ++n;
    out << "  " << Str(key, "user") << " " << Str(key, "type") << " " << Str(key, "bits") << " "
        << Str(key, "fingerprint") << " " << Str(key, "comment") << "  [" << Source(key) << "]\n";
  }
  if (n == 0) out << "  (none)\n";
}

void PrintSweep(const json& s, std::ostream& out) {
  out << "SUID/SGID files:\n";
  for (const auto& f : s.value("setid_files", json::array())) {
    std::string pkgs = "no package";
    if (f.value("packages", json()).is_null()) pkgs = "no dpkg database";
    for (const auto& p : f.value("packages", json::array())) {
      pkgs = (pkgs == "no package" ? "" : pkgs + ",") + p.get<std::string>();
    }
    out << "  " << Str(f, "mode") << " " << Str(f, "owner") << ":" << Str(f, "group") << " "
        << Str(f, "path") << "  (" << pkgs << ")\n";
  }
  json counts = s.value("counts", json::object());
  out << "World-writable files: " << counts.value("world_writable_files", 0)
      << ", world-writable dirs without sticky bit: " << counts.value("world_writable_dirs", 0)
      << ", unowned files: " << counts.value("unowned_files", 0) << "\n\n";
}

// The sshd settings that migrations most often relax, as the effective configuration has them.
void PrintSshd(const json& s, std::ostream& out) {
  out << "sshd:";
  if (!s.value("present", false)) {
    out << " no /etc/ssh/sshd_config\n";
    return;
  }
  if (s.contains("would_start") && s["would_start"].is_boolean() && !s["would_start"]) {
    out << " sshd would NOT start with this configuration\n";
    return;
  }
  const json& e = s.value("effective", json::object());
  if (!e.is_object()) {
    out << " (not evaluated)\n";
    return;
  }
  for (const char* key : {"permitrootlogin", "passwordauthentication", "permitemptypasswords",
                          "kbdinteractiveauthentication", "allowtcpforwarding", "x11forwarding"}) {
    out << " " << key << "=" << Str(e, key);
  }
  out << "\n";
}

void PrintListeners(const json& n, std::ostream& out) {
  out << "Listening sockets:\n";
  size_t count = 0;
  for (const auto& l : n.value("listeners", json::array())) {
    ++count;
    std::string who;
    for (const auto& p : l.value("processes", json::array())) {
      // Snapshots since the volatile split list owners without pids (network.md).
      who += (who.empty() ? "" : ",") + Str(p, "name") +
             (p.contains("pid") ? "[" + Str(p, "pid") + "]" : "");
    }
    out << "  " << Str(l, "proto") << " " << Str(l, "endpoint") << "  "
        << (who.empty() ? "(process unknown)" : who) << "\n";
  }
  if (count == 0) out << "  (none)\n";
}

}  // namespace

void PrintSummary(const Snapshot& snapshot, std::ostream& out) {
  out << "tidemark audit of " << snapshot.host.id
      << (snapshot.host.root == "/" ? "" : " (root " + snapshot.host.root + ")") << " at "
      << snapshot.collected_at << "\n\n";
  if (const json* a = SectionData(snapshot, "accounts")) PrintAccounts(*a, out);
  if (const json* s = SectionData(snapshot, "sudo")) PrintSudo(*s, out);
  if (const json* k = SectionData(snapshot, "ssh_keys")) PrintSshKeys(*k, out);
  if (const json* d = SectionData(snapshot, "sshd")) PrintSshd(*d, out);
  if (const json* n = SectionData(snapshot, "network")) PrintListeners(*n, out);
  if (const json* w = SectionData(snapshot, "sweep")) PrintSweep(*w, out);
  out << "\nSections:\n";
  for (const auto& [name, section] : snapshot.sections) {
    out << "  " << name << ": " << SectionStatusName(section.status) << ", "
        << section.errors.size() << " error(s), " << section.duration_ms << " ms\n";
    size_t shown = 0;
    for (const auto& e : section.errors) {
      if (shown++ == kMaxErrorsShown) {
        out << "    ... " << (section.errors.size() - kMaxErrorsShown) << " more\n";
        break;
      }
      out << "    " << (e.path.empty() ? "" : e.path)
          << (e.line ? ":" + std::to_string(*e.line) : "") << (e.path.empty() ? "" : ": ")
          << e.message << "\n";
    }
  }
}

}  // namespace tidemark::agent
