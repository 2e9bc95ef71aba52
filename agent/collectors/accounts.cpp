#include "agent/collectors/accounts.h"

namespace tidemark::agent {

using nlohmann::json;

void AccountsCollector::Collect(CollectContext& ctx, Section& out) {
  const AccountDb& db = ctx.accounts();
  for (const auto& e : db.errors) out.errors.push_back(e);
  json users = json::array();
  for (const auto& u : db.users) {
    users.push_back({{"id", "user:" + u.name},
                     {"name", u.name},
                     {"uid", u.uid},
                     {"gid", u.gid},
                     {"gecos", u.gecos},
                     {"home", u.home},
                     {"shell", u.shell},
                     {"source", {{"file", kPasswdPath}, {"line", u.line}}}});
  }
  json groups = json::array();
  for (const auto& g : db.groups) {
    groups.push_back({{"id", "group:" + g.name},
                      {"name", g.name},
                      {"gid", g.gid},
                      {"members", g.members},
                      {"source", {{"file", kGroupPath}, {"line", g.line}}}});
  }
  out.data["users"] = std::move(users);
  out.data["groups"] = std::move(groups);
  if (!db.passwd_status.ok()) out.status = SectionStatus::kError;
}

}  // namespace tidemark::agent
