#include "common/policy/who.h"

#include <functional>
#include <set>

#include "common/policy/evaluate.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;
using Row = std::vector<json>;

std::string Text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

bool True(const json& v) { return v.is_number_integer() && v.get<int64_t>() != 0; }

// `text` as a GLOB pattern that matches only itself.
std::string GlobLiteral(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[') {
      out += '[';
      out += c;
      out += ']';
    } else {
      out += c;
    }
  }
  return out;
}

// One question to the fact tables: its rows start with id, source_file, source_line.
struct Probe {
  std::string kind;
  std::string sql;
  std::function<std::string(const Row&)> detail;
  std::function<bool(const Row&)> privileged;
};

// A grant to one of the principals :p (a JSON array: user:NAME, uid:N, group:G, gid:N, ALL, as
// the account and group probes found them), unless the same line excludes it (`!user:NAME`).
constexpr const char* kGrants =
    "SELECT s.id, s.source_file, s.source_line, s.principal, s.host, s.runas_users, "
    "s.runas_groups, s.command, s.nopasswd FROM sudo_grants s "
    "WHERE s.principal IN (SELECT value FROM json_each(:p)) AND NOT EXISTS (SELECT 1 FROM "
    "sudo_grants x WHERE x.source_file IS s.source_file AND x.source_line IS s.source_line AND "
    "x.principal IN (SELECT '!' || value FROM json_each(:p))) "
    "ORDER BY s.source_file, s.source_line, s.id";

// A JSON array of names as "a,b"; "" for none.
std::string NameList(const json& cell) {
  json list = json::parse(Text(cell), nullptr, false);
  if (!list.is_array()) return Text(cell);
  std::string out;
  for (const json& v : list) out += (out.empty() ? "" : ",") + Text(v);
  return out;
}

std::string GrantDetail(const Row& r) {
  std::string runas = NameList(r[5]);
  std::string groups = NameList(r[6]);
  std::string out = Text(r[3]) + " on " + Text(r[4]) + " as " + (runas.empty() ? "root" : runas);
  if (!groups.empty()) out += ":" + groups;
  out += ": " + Text(r[7]);
  if (True(r[8])) out += " (NOPASSWD)";
  return out;
}

std::string KeyDetail(const std::string& lead, const Row& r) {
  // id, file, line, user, type, fingerprint, comment
  std::string out = lead + Text(r[3]) + ": " + Text(r[4]) + " " + Text(r[5]);
  if (!Text(r[6]).empty()) out += " " + Text(r[6]);
  return out;
}

std::vector<Probe> ProbesFor(const Identity& who) {
  auto never = [](const Row&) { return false; };
  auto always = [](const Row&) { return true; };
  std::vector<Probe> p;
  switch (who.kind) {
    case Identity::Kind::kUser:
      p.push_back({"account",
                   "SELECT id, source_file, source_line, uid, shell, login_shell, "
                   "password_status FROM users WHERE name = :n",
                   [](const Row& r) {
                     return "uid " + Text(r[3]) + ", shell " +
                            (Text(r[4]).empty() ? "/bin/sh" : Text(r[4])) +
                            (True(r[5]) ? " (login shell)" : " (no login shell)") + ", password " +
                            Text(r[6]);
                   },
                   [](const Row& r) { return r[3] == json(0); }});
      p.push_back({"group",
                   "SELECT g.id, g.source_file, g.source_line, g.\"group\", g.gid, g.\"primary\", "
                   "EXISTS (SELECT 1 FROM privileged_members m WHERE m.user = g.user AND "
                   "m.\"group\" IS g.\"group\") FROM group_members g WHERE g.user = :n",
                   [](const Row& r) {
                     return "member of " + (Text(r[3]).empty() ? "(no name)" : Text(r[3])) +
                            " (gid " + Text(r[4]) + (True(r[5]) ? ", primary" : "") + ")";
                   },
                   [](const Row& r) { return True(r[6]); }});
      p.push_back({"sudo", kGrants, GrantDetail, always});
      p.push_back({"key",
                   "SELECT id, source_file, source_line, user, type, fingerprint, comment FROM "
                   "ssh_keys WHERE user = :n",
                   [](const Row& r) { return KeyDetail("opens the account ", r); }, never});
      p.push_back({"key",
                   "SELECT id, source_file, source_line, user, type, fingerprint, comment FROM "
                   "ssh_keys WHERE user <> :n AND (comment = :n OR comment GLOB :at)",
                   [](const Row& r) { return KeyDetail("a key named so opens ", r); },
                   [](const Row& r) { return r[3] == json("root"); }});
      p.push_back({"cron",
                   "SELECT id, source_file, source_line, schedule, command FROM cron_jobs WHERE "
                   "user = :n",
                   [](const Row& r) { return "runs " + Text(r[4]) + " at " + Text(r[3]); }, never});
      p.push_back({"service",
                   "SELECT id, source_file, source_line, unit, enabled, active_state FROM "
                   "services WHERE user = :n",
                   [](const Row& r) {
                     return Text(r[3]) + " runs as the user" +
                            (True(r[4]) ? ", enabled" : ", not enabled") +
                            (r[5].is_null() ? "" : ", " + Text(r[5]));
                   },
                   never});
      p.push_back({"sshd",
                   "SELECT id, source_file, source_line, keyword, value FROM sshd_user_settings "
                   "WHERE user = :n ORDER BY keyword, position",
                   [](const Row& r) {
                     return "sshd sets " + Text(r[3]) + " " +
                            (r[4].is_null() ? "(none)" : Text(r[4])) + " for the user";
                   },
                   never});
      break;
    case Identity::Kind::kGroup:
      p.push_back(
          {"group", "SELECT id, source_file, source_line, gid, members FROM groups WHERE name = :n",
           [](const Row& r) { return "gid " + Text(r[3]) + ", members " + Text(r[4]); }, never});
      p.push_back(
          {"group",
           "SELECT g.id, g.source_file, g.source_line, g.user, g.\"primary\", EXISTS "
           "(SELECT 1 FROM privileged_members m WHERE m.user = g.user AND m.\"group\" = "
           "g.\"group\") FROM group_members g WHERE g.\"group\" = :n",
           [](const Row& r) { return "member " + Text(r[3]) + (True(r[4]) ? " (primary)" : ""); },
           [](const Row& r) { return True(r[5]); }});
      p.push_back({"sudo", kGrants, GrantDetail, always});
      p.push_back({"service",
                   "SELECT id, source_file, source_line, unit, enabled FROM services WHERE "
                   "\"group\" = :n",
                   [](const Row& r) {
                     return Text(r[3]) + " runs as the group" +
                            (True(r[4]) ? ", enabled" : ", not enabled");
                   },
                   never});
      break;
    case Identity::Kind::kKey:
      p.push_back({"key",
                   "SELECT id, source_file, source_line, user, type, fingerprint, comment, "
                   "options FROM ssh_keys WHERE fingerprint = :n",
                   [](const Row& r) {
                     std::string out = KeyDetail("opens ", r);
                     if (Text(r[7]) != "{}" && !r[7].is_null()) out += " options " + Text(r[7]);
                     return out;
                   },
                   [](const Row& r) { return r[3] == json("root"); }});
      break;
  }
  return p;
}

}  // namespace

StatusOr<Identity> ParseIdentity(std::string_view text) {
  auto bad = [](const std::string& why) {
    return Status{StatusCode::kInvalidArgument, "IDENTITY: " + why};
  };
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return bad("holds a control character");
    }
  }
  if (text.size() > 1024) return bad("longer than 1024 bytes");
  Identity id;
  if (text.rfind("group:", 0) == 0) {
    id.kind = Identity::Kind::kGroup;
    id.name = std::string(text.substr(6));
  } else if (text.rfind("SHA256:", 0) == 0) {
    id.kind = Identity::Kind::kKey;
    id.name = std::string(text);
  } else {
    id.name = std::string(text);
  }
  if (id.name.empty() || (id.kind == Identity::Kind::kKey && id.name.size() == 7)) {
    return bad("a user name, group:NAME or SHA256:... is needed");
  }
  return id;
}

StatusOr<WhoResult> FindAccess(const FactDb& db, const Identity& who) {
  WhoResult out;
  std::set<std::string> tables;
  FactDb::QueryParams params = {{"n", who.name}, {"at", GlobLiteral(who.name) + "@*"}};
  // The principals sudoers may name the identity by, from what the probes before the sudo
  // probe found: the user (user:NAME, uid:N of each account), its groups (group:G, gid:N),
  // ALL; or the group (group:NAME, gid:N).
  std::set<std::string> principals;
  if (who.kind == Identity::Kind::kUser) principals = {"user:" + who.name, "ALL"};
  if (who.kind == Identity::Kind::kGroup) principals = {"group:" + who.name};
  for (const Probe& probe : ProbesFor(who)) {
    if (probe.kind == "sudo") {
      json list = json::array();
      for (const std::string& p : principals) list.push_back(p);
      params["p"] = list;
    }
    FactDb::QueryParams used;
    for (const auto& [name, value] : params) {
      if (probe.sql.find(":" + name) != std::string::npos) used[name] = value;
    }
    StatusOr<QueryResult> q = db.Query(probe.sql, used);
    if (!q.ok()) return q.status();
    tables.insert(q->tables_read.begin(), q->tables_read.end());
    for (const Row& row : q->rows) {
      Access a;
      a.kind = probe.kind;
      a.id = Text(row[0]);
      if (row[1].is_string()) a.source_file = row[1].get<std::string>();
      if (row[2].is_number_integer()) a.source_line = row[2].get<int64_t>();
      a.detail = probe.detail(row);
      a.privileged = probe.privileged(row);
      if (who.kind == Identity::Kind::kUser && probe.kind == "account") {
        principals.insert("uid:" + Text(row[3]));
      } else if (who.kind == Identity::Kind::kUser && probe.kind == "group") {
        if (!row[3].is_null()) principals.insert("group:" + Text(row[3]));
        principals.insert("gid:" + Text(row[4]));
      } else if (who.kind == Identity::Kind::kGroup && probe.kind == "group" &&
                 a.id.rfind("group:", 0) == 0) {
        principals.insert("gid:" + Text(row[3]));
      }
      out.access.push_back(std::move(a));
    }
  }
  SectionProblems problems = ProblemsOf(db, tables);
  for (const std::string* list : {&problems.absent, &problems.partial}) {
    size_t start = 0;
    while (start < list->size()) {
      size_t end = list->find("; ", start);
      if (end == std::string::npos) end = list->size();
      out.incomplete.push_back(list->substr(start, end - start));
      start = end + 2;
    }
  }
  return out;
}

}  // namespace tidemark::policy
