#include "common/compact_form.h"

namespace tidemark {

using json = nlohmann::json;

namespace {

std::vector<CompactForm> BuildForms() {
  const json kNone = json::array();
  // A setting is the assignment that won, with the earlier ones it overrode.
  const std::vector<CompactDefault> assignment = {
      {"kind", "assignment"}, {"glob", false}, {"ignore_failure", false}};
  std::vector<CompactDefault> setting = assignment;
  setting.push_back({"overridden", kNone});
  std::vector<CompactForm> forms = {
      {CompactKind::kGroup, "accounts.groups[]", {{"members", kNone}}},
      {CompactKind::kGshadow,
       "accounts.groups[].gshadow",
       {{"administrators", kNone, "", "status", "present"},
        {"members", kNone, "", "status", "present"}}},
      {CompactKind::kUserGroup, "accounts.users[].groups[]", {{"primary", false}}},
      {CompactKind::kFile,
       "files.files[]",
       {{"state", "present"}, {"hash_state", "hashed", "sha256"}}},
      {CompactKind::kLoginSetting,
       "login.login_defs.settings[], login.useradd.settings[]",
       {{"overridden", kNone}}},
      {CompactKind::kPathEntry, "login.root_path.entries[]", {{"flags", kNone}}},
      // sshd's compiled-in AuthorizedKeysFile (sshd_config(5)) is authorized_keys_file's.
      {CompactKind::kKeysUser,
       "ssh_keys.users[]",
       {{"home_state", "present"},
        {"incomplete", false},
        {"authorized_keys_file", {".ssh/authorized_keys", ".ssh/authorized_keys2"}}}},
      {CompactKind::kKeysFile,
       "ssh_keys.users[].files[]",
       {{"flags", kNone}, {"via_symlink", false}}},
      // dpkg's "install ok installed".
      {CompactKind::kPackage,
       "packages.installed[], packages.other_states[]",
       {{"status_abbrev", "ii "}}},
      {CompactKind::kPamLine,
       "pam.entries[], pam.lines[]",
       {{"silent", false}, {"arguments", kNone}, {"flags", json::object()}}},
      {CompactKind::kPamChain, "pam.chains[]", {{"substack_depth", 0}}},
      {CompactKind::kUnit, "services.units[]", {{"install", json::object()}, {"dropins", kNone}}},
      {CompactKind::kSysctlAssignment, "sysctl.assignments[]", assignment},
      {CompactKind::kSysctlSetting, "sysctl.settings[]", setting},
      {CompactKind::kSysctlRuntime, "sysctl.runtime[]", {{"state", "present"}}},
  };
  return forms;
}

// The item meets the condition of default `d`.
bool Holds(const json& item, const CompactDefault& d) {
  if (!d.only_beside.empty()) {
    auto it = item.find(d.only_beside);
    if (it == item.end() || it->is_null()) return false;
  }
  if (!d.when_key.empty()) {
    auto it = item.find(d.when_key);
    if (it == item.end() || !it->is_string() || it->get_ref<const std::string&>() != d.when_value) {
      return false;
    }
  }
  return true;
}

}  // namespace

const std::vector<CompactForm>& CompactForms() {
  static const std::vector<CompactForm> forms = BuildForms();
  return forms;
}

const CompactForm& Compact(CompactKind kind) { return CompactForms()[static_cast<size_t>(kind)]; }

void OmitDefaults(json& item) {
  if (!item.is_object()) return;
  for (auto it = item.begin(); it != item.end();) {
    it = it->is_null() ? item.erase(it) : std::next(it);
  }
}

void OmitDefaults(json& item, CompactKind kind) {
  if (!item.is_object()) return;
  // Judge every condition first: a condition's key may itself be a default that goes.
  std::vector<std::string_view> omit;
  for (const CompactDefault& d : Compact(kind).defaults) {
    auto it = item.find(d.key);
    if (it != item.end() && *it == d.value && Holds(item, d)) omit.push_back(d.key);
  }
  for (std::string_view key : omit) item.erase(item.find(key));
  OmitDefaults(item);
}

void RestoreDefaults(json& item, CompactKind kind) {
  if (!item.is_object()) return;
  for (const CompactDefault& d : Compact(kind).defaults) {
    if (!item.contains(d.key) && Holds(item, d)) item[std::string(d.key)] = d.value;
  }
}

json ValueOrDefault(const json& item, CompactKind kind, std::string_view key) {
  const json* v = FindOrDefault(item, kind, key);
  return v != nullptr ? *v : json();
}

const json* FindOrDefault(const json& item, CompactKind kind, std::string_view key) {
  if (!item.is_object()) return nullptr;
  if (auto it = item.find(key); it != item.end()) return &*it;
  for (const CompactDefault& d : Compact(kind).defaults) {
    if (d.key == key) return Holds(item, d) ? &d.value : nullptr;
  }
  return nullptr;
}

}  // namespace tidemark
