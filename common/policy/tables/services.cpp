// Tables of the `services` section (docs/sections/services.md): every systemd unit file of the
// root with its enablement, its active state when the running manager was asked, and the
// settings that say what it runs and as whom.
#include "common/policy/tables.h"
#include "common/policy/tables/file_items.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

Status Invalid(const std::string& what) {
  return {StatusCode::kInvalidArgument, "services.units[]: " + what};
}

// Returns the `value` of a `{value, source}` setting (User=, Group=), null when unset.
Status SettingValue(const json& unit, std::string_view key, json& out) {
  out = nullptr;
  auto it = unit.find(key);
  if (it == unit.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return Invalid(std::string(key) + " is not an object");
  auto v = it->find("value");
  if (v == it->end() || !v->is_string()) return Invalid(std::string(key) + ".value");
  out = *v;
  return Status::Ok();
}

// One row per unit: the compact item (docs/sections/services.md) with what it leaves out
// restored: the name and type from the id, the file from the section's `unit_dir`, the active
// state of units the manager has not loaded; list settings reduced to what rules compare.
Status Services(const json& data, ItemSink& sink) {
  const json* units = nullptr;
  if (Status s = SectionItems(data, "services", "units", &units); !s.ok() || units == nullptr) {
    return s;
  }
  std::string unit_dir = StringAt(data, "unit_dir");
  // Active states exist only when the running manager was asked; else they are unknown (NULL),
  // never "inactive".
  bool collected = false;
  if (auto m = data.find("manager"); m != data.end() && m->is_object()) {
    auto c = m->find("active_state_collected");
    collected = c != m->end() && c->is_boolean() && c->get<bool>();
  }
  for (const json& u : *units) {
    std::string id = StringAt(u, "id");
    if (id.compare(0, 5, "unit:") != 0 || id.size() == 5) return Invalid("id is not unit:NAME");
    std::string name = id.substr(5);
    json row = {{"id", id}, {"unit", name}};
    size_t dot = name.rfind('.');
    row["type"] = dot == std::string::npos ? json() : json(name.substr(dot + 1));
    for (const char* key : {"state", "state_error", "alias_of", "install", "dropins"}) {
      if (auto it = u.find(key); it != u.end()) row[key] = *it;
    }
    std::string state = StringAt(u, "state");
    row["enabled"] = state == "enabled" || state == "enabled-runtime";
    if (auto src = u.find("source"); src != u.end()) {
      row["source"] = *src;
    } else if (!unit_dir.empty()) {
      row["source"] = {{"file", unit_dir + "/" + name}};
    } else {
      return Invalid("a unit without source but the section has no unit_dir");
    }
    if (collected) {
      bool loaded = u.contains("active_state");
      row["active_state"] = loaded ? u["active_state"] : json("inactive");
      row["sub_state"] = u.contains("sub_state") ? u["sub_state"] : json("dead");
      if (loaded) row["load_state"] = u.contains("load_state") ? u["load_state"] : json("loaded");
      // As `systemctl is-active` exits 0.
      std::string active = StringAt(row, "active_state");
      row["active"] = active == "active" || active == "reloading";
    }
    json user, group;
    if (Status s = SettingValue(u, "user", user); !s.ok()) return s;
    if (Status s = SettingValue(u, "group", group); !s.ok()) return s;
    row["user"] = user;
    row["group"] = group;
    json commands = json::array();
    bool masked = false;
    if (auto exec = u.find("exec_start"); exec != u.end()) {
      if (!exec->is_array()) return Invalid("exec_start is not an array");
      for (const json& e : *exec) {
        auto command = e.is_object() ? e.find("command") : e.end();
        if (!e.is_object() || command == e.end() || !command->is_string()) {
          return Invalid("exec_start[].command");
        }
        commands.push_back(*command);
        if (auto m = e.find("masked"); m != e.end() && m->is_boolean() && m->get<bool>()) {
          masked = true;
        }
      }
    }
    row["exec_start"] = std::move(commands);
    row["exec_start_masked"] = masked;
    json names = json::array();
    if (auto env = u.find("environment"); env != u.end()) {
      if (!env->is_array()) return Invalid("environment is not an array");
      for (const json& e : *env) {
        auto n = e.is_object() ? e.find("name") : e.end();
        if (!e.is_object() || n == e.end() || !n->is_string()) return Invalid("environment[].name");
        names.push_back(*n);
      }
    }
    row["environment"] = std::move(names);
    json files = json::array();
    if (auto env = u.find("environment_files"); env != u.end()) {
      if (!env->is_array()) return Invalid("environment_files is not an array");
      for (const json& e : *env) {
        auto p = e.is_object() ? e.find("path") : e.end();
        if (!e.is_object() || p == e.end() || !p->is_string()) {
          return Invalid("environment_files[].path");
        }
        auto optional = e.find("optional");
        files.push_back(
            {{"path", *p},
             {"optional", optional != e.end() && optional->is_boolean() && optional->get<bool>()}});
      }
    }
    row["environment_files"] = std::move(files);
    sink.Add(std::move(row));
  }
  return Status::Ok();
}

}  // namespace

void AddServicesTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "services",
      .section = "services",
      .meaning = "Every systemd unit file of the root (system scope; `systemctl "
                 "list-unit-files` and the instances enabled through `.wants/` links), with its "
                 "`is-enabled` state, its active state on a live host whose systemd was asked, "
                 "and the settings of units that run processes (service, socket, mount, swap). "
                 "The source is the unit file loaded (an alias's target, an instance's template).",
      .rows = Services,
      .columns =
          {
              {"unit", T::kText, "the unit name (`ssh.service`, `getty@tty1.service`)"},
              {"type", T::kText, "the name's suffix: `service`, `socket`, `timer`, `mount`, ..."},
              {"state", T::kText,
               "as `systemctl is-enabled`: `enabled`, `enabled-runtime`, `linked`, `alias`, "
               "`masked`, `static`, `indirect`, `disabled`, `generated`, `transient`, `bad`, ..."},
              {"enabled", T::kBoolean,
               "`state` is `enabled` or `enabled-runtime`: links made from its `[Install]` section "
               "pull it in"},
              {"state_error", T::kText, "why the state is `bad`"},
              {"alias_of", T::kText, "for `alias`: the unit it stands for"},
              {"active", T::kBoolean,
               "`active_state` is `active` or `reloading` (as `systemctl is-active` exits 0); NULL "
               "when active states were not collected (offline root, no running systemd)"},
              {"active_state", T::kText,
               "ACTIVE of `systemctl list-units --all` (`active`, `inactive`, `failed`, ...); "
               "`inactive` when the manager has not loaded the unit; NULL when not collected"},
              {"sub_state", T::kText,
               "SUB (`running`, `exited`, `dead`, ...); NULL when not collected"},
              {"load_state", T::kText,
               "LOAD (`loaded`, `not-found`, `masked`, `bad-setting`, ...); NULL when not "
               "collected "
               "or the manager has not loaded the unit"},
              {"user", T::kText,
               "the last `User=` (specifiers expanded); NULL when unset: a system service then "
               "runs "
               "as root"},
              {"group", T::kText, "the last `Group=`; NULL when unset"},
              {"exec_start", T::kJson,
               "the `ExecStart=` command lines in order, main file then drop-ins, as written "
               "(prefixes `-`, `+`, `!` kept) with secrets replaced by `***`"},
              {"exec_start_masked", T::kBoolean, "a secret was masked in an `ExecStart=` line"},
              {"environment", T::kJson,
               "names of the variables `Environment=` sets (values are never collected)"},
              {"environment_files", T::kJson,
               "`EnvironmentFile=` entries `[{path, optional}]` (not read)"},
              {"install", T::kJson,
               "the `[Install]` settings set: `{wanted_by, required_by, alias, also, "
               "default_instance}`"},
              {"dropins", T::kJson, "the `.conf` drop-in files loaded, in order"},
          },
      .compact = {CompactKind::kUnit}});
}

}  // namespace tidemark::policy
