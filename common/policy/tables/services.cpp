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

// Returns the `value` of a `{value, source}` setting (User=, Group=), nullptr when unset.
Status SettingValue(const json& unit, std::string_view key, const json*& out) {
  out = nullptr;
  auto it = unit.find(key);
  if (it == unit.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return Invalid(std::string(key) + " is not an object");
  auto v = it->find("value");
  if (v == it->end() || !v->is_string()) return Invalid(std::string(key) + ".value");
  out = &*v;
  return Status::Ok();
}

// One row per unit: the compact item (docs/sections/services.md) with what it leaves out
// restored: the name and type from the id, the file from the section's `unit_dir`, the active
// state of units the manager has not loaded; list settings reduced to what rules compare. The
// row points into the unit's item; only the reduced lists and a file name it builds are kept.
Status Services(const json& data, ItemSink& sink) {
  const json* units = nullptr;
  if (Status s = SectionItems(data, "services", "units", &units); !s.ok() || units == nullptr) {
    return s;
  }
  std::string_view unit_dir = TextAt(data, "unit_dir");
  // Active states exist only when the running manager was asked; else they are unknown (NULL),
  // never "inactive".
  bool collected = false;
  if (auto m = data.find("manager"); m != data.end() && m->is_object()) {
    auto c = m->find("active_state_collected");
    collected = c != m->end() && c->is_boolean() && c->get<bool>();
  }
  for (const json& u : *units) {
    std::string_view id = TextAt(u, "id");
    if (id.substr(0, 5) != "unit:" || id.size() == 5) return Invalid("id is not unit:NAME");
    std::string_view name = id.substr(5);
    Overlay row;  // exactly these keys: sink.AddRow
    row.Set("id", CellValue::Text(id));
    row.Set("unit", CellValue::Text(name));
    size_t dot = name.rfind('.');
    row.Set("type",
            dot == std::string_view::npos ? CellValue() : CellValue::Text(name.substr(dot + 1)));
    for (const char* key : {"state", "state_error", "alias_of", "install", "dropins"}) {
      if (auto it = u.find(key); it != u.end()) row.Set(key, *it);
    }
    std::string_view state = TextAt(u, "state");
    row.Set("enabled", CellValue::Boolean(state == "enabled" || state == "enabled-runtime"));
    if (auto src = u.find("source"); src != u.end()) {
      row.Set("source", *src);
    } else if (!unit_dir.empty()) {
      row.Set("source", sink.Keep({{"file", std::string(unit_dir) + "/" + std::string(name)}}));
    } else {
      return Invalid("a unit without source but the section has no unit_dir");
    }
    if (collected) {
      auto active_state = u.find("active_state");
      bool loaded = active_state != u.end();
      row.Set("active_state", loaded ? CellValue(*active_state) : CellValue::Text("inactive"));
      auto sub_state = u.find("sub_state");
      row.Set("sub_state", sub_state != u.end() ? CellValue(*sub_state) : CellValue::Text("dead"));
      if (loaded) {
        auto load_state = u.find("load_state");
        row.Set("load_state",
                load_state != u.end() ? CellValue(*load_state) : CellValue::Text("loaded"));
      }
      // As `systemctl is-active` exits 0.
      std::string_view active = loaded ? TextAt(u, "active_state") : std::string_view("inactive");
      row.Set("active", CellValue::Boolean(active == "active" || active == "reloading"));
    }
    const json* user = nullptr;
    const json* group = nullptr;
    if (Status s = SettingValue(u, "user", user); !s.ok()) return s;
    if (Status s = SettingValue(u, "group", group); !s.ok()) return s;
    row.Set("user", user != nullptr ? CellValue(*user) : CellValue());
    row.Set("group", group != nullptr ? CellValue(*group) : CellValue());
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
    row.Set("exec_start", sink.Keep(std::move(commands)));
    row.Set("exec_start_masked", CellValue::Boolean(masked));
    json names = json::array();
    if (auto env = u.find("environment"); env != u.end()) {
      if (!env->is_array()) return Invalid("environment is not an array");
      for (const json& e : *env) {
        auto n = e.is_object() ? e.find("name") : e.end();
        if (!e.is_object() || n == e.end() || !n->is_string()) return Invalid("environment[].name");
        names.push_back(*n);
      }
    }
    row.Set("environment", sink.Keep(std::move(names)));
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
    row.Set("environment_files", sink.Keep(std::move(files)));
    sink.AddRow(row);
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
