// The agent's section readers omit exactly the compact defaults of the registry
// (common/compact_form.h) that the fact tables restore: this machine's sections, collected by
// the real section readers, hold no item of a registered kind that still carries a default.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/collect.h"
#include "common/compact_form.h"

namespace tidemark {
namespace {

using json = nlohmann::json;

// The items `where` names ("accounts.users[].groups[]", "accounts.groups[].gshadow") in the
// materialized sections of `snapshot`.
void Walk(const json& node, std::vector<std::string> steps, size_t i,
          std::vector<const json*>& out) {
  if (i == steps.size()) {
    if (node.is_object()) out.push_back(&node);
    return;
  }
  std::string step = steps[i];
  bool each = step.size() > 2 && step.compare(step.size() - 2, 2, "[]") == 0;
  if (each) step.resize(step.size() - 2);
  if (!node.is_object()) return;
  auto it = node.find(step);
  if (it == node.end()) return;
  if (!each) return Walk(*it, steps, i + 1, out);
  if (!it->is_array()) return;
  for (const json& e : *it) Walk(e, steps, i + 1, out);
}

std::vector<const json*> ItemsAt(const std::map<std::string, json>& sections,
                                 std::string_view where) {
  std::vector<const json*> out;
  std::stringstream all{std::string(where)};
  std::string one;
  while (std::getline(all, one, ',')) {
    while (!one.empty() && one.front() == ' ') one.erase(0, 1);
    std::vector<std::string> steps;
    std::stringstream parts(one);
    for (std::string p; std::getline(parts, p, '.');) steps.push_back(p);
    auto s = sections.find(steps.front());
    if (s == sections.end()) continue;
    Walk(s->second, steps, 1, out);
  }
  return out;
}

TEST(CompactHostTest, TheCollectorsOfThisMachineOmitEveryRegisteredDefault) {
  agent::CollectRequest request;
  request.host_id = "compact-test";
  for (const char* s :
       {"accounts", "files", "login", "ssh_keys", "packages", "pam", "services", "sysctl"}) {
    request.only.push_back(s);
  }
  StatusOr<Snapshot> snapshot = agent::CollectSnapshot(request);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  std::map<std::string, json> sections;
  for (auto& [name, section] : snapshot->sections) {
    section.Materialize();
    sections[name] = section.data;
  }
  size_t items = 0;
  std::set<std::string_view> kinds_seen;
  for (const CompactForm& form : CompactForms()) {
    for (const json* item : ItemsAt(sections, form.where)) {
      ++items;
      kinds_seen.insert(form.where);
      json compacted = *item;
      OmitDefaults(compacted, form.kind);
      EXPECT_EQ(compacted, *item) << form.where << ": the collector left a default in";
    }
  }
  // A Debian host has groups, users, files, packages, PAM lines, units and sysctl settings.
  EXPECT_GT(items, 100u);
  for (std::string_view where :
       {"accounts.groups[]", "accounts.users[].groups[]", "files.files[]",
        "packages.installed[], packages.other_states[]", "pam.entries[], pam.lines[]",
        "login.login_defs.settings[], login.useradd.settings[]", "login.root_path.entries[]",
        "ssh_keys.users[]", "ssh_keys.users[].files[]", "services.units[]", "sysctl.settings[]"}) {
    EXPECT_EQ(kinds_seen.count(where), 1u) << "no item of " << where << " on this machine";
  }
}

}  // namespace
}  // namespace tidemark
