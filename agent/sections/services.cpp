#include "agent/sections/services.h"

#include "agent/parsers/crontab.h"
#include "agent/systemd_units.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

// The package unit directory (docs/sections/services.md `unit_dir`): /lib/systemd/system, else
// /usr/lib/systemd/system, when it is in the search path; "" when neither is.
std::string UnitDir(const std::vector<std::string>& search_path) {
  for (const char* dir : {"/lib/systemd/system", "/usr/lib/systemd/system"}) {
    for (const auto& d : search_path) {
      if (d == dir) return d;
    }
  }
  return "";
}

// The source of a setting: `file` is left out when it is the unit's own file (the documented
// default), so only drop-ins name theirs.
json SettingSource(const std::string& file, int64_t line, const std::string& unit_file) {
  if (file == unit_file) return {{"line", line}};
  return {{"file", file}, {"line", line}};
}

// Settings of the unit from its main file and drop-ins in load order (systemd.service(5),
// systemd.exec(5)): an empty assignment resets a list; for single values the last one wins.
// Keys whose value is the default (empty list, unset, false) are left out of `j`.
// Name specifiers (%n %N %p %P %i %I %%) in ExecStart, User, Group and EnvironmentFile are
// expanded for `name` as systemd does when it loads the unit; a template itself is never
// loaded, so its settings stay as written.
void AddSettings(const std::string& name, const UnitInfo& info, json& j) {
  bool expand = unit_file::ClassifyName(name) != unit_file::NameKind::kTemplate;
  auto value_of = [&](const std::string& v) {
    return expand ? unit_file::ExpandSpecifiers(v, name) : v;
  };
  json exec = json::array();
  json user = nullptr, group = nullptr;
  json env = json::array();
  json env_files = json::array();
  for (const auto& setting : info.settings) {
    const auto& a = *setting.assignment;
    const std::string& file = *setting.file;
    if (a.section != "Service" && a.section != "Socket" && a.section != "Mount" &&
        a.section != "Swap") {
      continue;
    }
    if (a.key == "ExecStart") {
      if (a.value.empty()) {
        exec = json::array();
      } else {
        // Command lines can carry passwords and tokens: masked by the rule of the cron section.
        bool masked = false;
        std::string command = cron::MaskSecrets(value_of(a.value), &masked);
        json e = {{"command", command}, {"source", SettingSource(file, a.line, info.path)}};
        if (masked) e["masked"] = true;
        exec.push_back(std::move(e));
      }
    } else if (a.key == "User") {
      user = a.value.empty() ? json(nullptr)
                             : json{{"value", value_of(a.value)},
                                    {"source", SettingSource(file, a.line, info.path)}};
    } else if (a.key == "Group") {
      group = a.value.empty() ? json(nullptr)
                              : json{{"value", value_of(a.value)},
                                     {"source", SettingSource(file, a.line, info.path)}};
    } else if (a.key == "Environment") {
      if (a.value.empty()) {
        env = json::array();
        continue;
      }
      // Names only: "NAME=value" words; the value is never kept.
      for (const auto& w : unit_file::SplitWords(a.value)) {
        size_t eq = w.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        env.push_back(
            {{"name", w.substr(0, eq)}, {"source", SettingSource(file, a.line, info.path)}});
      }
    } else if (a.key == "EnvironmentFile") {
      if (a.value.empty()) {
        env_files = json::array();
        continue;
      }
      std::string path = value_of(a.value);
      bool optional = !path.empty() && path.front() == '-';
      if (optional) path.erase(0, 1);
      json e = {{"path", path}, {"source", SettingSource(file, a.line, info.path)}};
      if (optional) e["optional"] = true;
      env_files.push_back(std::move(e));
    }
  }
  if (!exec.empty()) j["exec_start"] = std::move(exec);
  if (!user.is_null()) j["user"] = std::move(user);
  if (!group.is_null()) j["group"] = std::move(group);
  if (!env.empty()) j["environment"] = std::move(env);
  if (!env_files.empty()) j["environment_files"] = std::move(env_files);
}

}  // namespace

void ServicesReader::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  UnitLookup lookup(fs);
  ItemArray units;
  out.data["search_path"] = lookup.search_path();
  // Units whose file is UNIT_DIR/NAME (most of them) leave `source` out (compact form, rule 2).
  const std::string unit_dir = UnitDir(lookup.search_path());
  if (!unit_dir.empty()) out.data["unit_dir"] = unit_dir;
  bool running = false;
  if (ctx.live()) {
    const auto& st = fs.Stat("/run/systemd/system", false);  // sd_booted()
    running = st.ok() && st->type == FileType::kDirectory;
  }
  // Active states: only from the live host's running systemd, by its own systemctl.
  std::optional<std::map<std::string, ManagerUnit>> manager_units;
  json manager = {{"running", running}, {"active_state_collected", false}};
  if (running) {
    auto q = QueryManagerUnits();
    if (q.ok()) {
      manager_units = std::move(*q);
      manager["active_state_collected"] = true;
    } else {
      manager["error"] = q.status().message();
      out.AddError("systemctl", std::nullopt,
                   "cannot read the active states: " + q.status().message());
    }
  } else {
    manager["reason"] = ctx.live() ? "systemd is not the running service manager" : "offline root";
  }
  if (lookup.search_path().empty()) {
    for (auto& e : lookup.errors()) out.errors.push_back(e);
    if (out.errors.empty()) {
      out.status = SectionStatus::kNotApplicable;
      out.data["reason"] = "no systemd unit directory exists in this root";
    } else {
      out.status = SectionStatus::kError;
    }
    out.data["manager"] = std::move(manager);
    out.items["units"] = std::move(units);
    return;
  }
  size_t with_file = 0;
  for (const std::string& name : lookup.ListUnitNames()) {
    UnitState st = lookup.LookupState(name);
    json j;
    // `name` and `type` are not repeated: the id is "unit:NAME", the type NAME's suffix.
    j["id"] = "unit:" + name;
    j["state"] = st.state;
    const UnitInfo* info = st.info;
    if (!st.error.empty()) j["state_error"] = st.error;
    if (st.state == "alias" && info) j["alias_of"] = info->name;
    // The file finally loaded (an alias's target, an instance's template) or the one that failed;
    // left out when it is UNIT_DIR/NAME. A unit is its file: no line.
    std::string file = info && !info->path.empty() ? info->path : "";
    if (unit_dir.empty() || file != unit_dir + "/" + name) j["source"] = {{"file", file}};
    bool detailed =
        info && info->type == UnitInfo::Type::kRegular && st.state != "alias" && st.state != "bad";
    if (detailed) {
      json install = json::object();
      if (!info->wanted_by.empty()) install["wanted_by"] = info->wanted_by;
      if (!info->required_by.empty()) install["required_by"] = info->required_by;
      if (!info->aliases.empty()) install["alias"] = info->aliases;
      if (!info->also.empty()) install["also"] = info->also;
      if (info->default_instance) install["default_instance"] = *info->default_instance;
      j["install"] = std::move(install);
      j["dropins"] = info->dropins;
      std::string type = unit_file::TypeOf(name);
      // Units that run processes (systemd.exec(5)): service, socket, mount, swap.
      if (type == "service" || type == "socket" || type == "mount" || type == "swap") {
        AddSettings(name, *info, j);
      }
    }
    if (manager_units) {
      // Units the manager has not loaded are inactive: their keys are left out.
      auto m = manager_units->find(name);
      if (m != manager_units->end()) {
        ++with_file;
        j["active_state"] = m->second.active;
        j["sub_state"] = m->second.sub;
        if (m->second.load != "loaded") j["load_state"] = m->second.load;
      }
    }
    if (st.state == "bad") {
      out.AddError(info && !info->path.empty() ? info->path : "", std::nullopt,
                   "unit " + name + ": cannot determine its state: " + st.error);
    }
    OmitDefaults(j, CompactKind::kUnit);
    units.push_back(j);
  }
  if (manager_units) {
    manager["loaded_units"] = manager_units->size();
    // Scopes, slices, devices, mounts from the mount table...: loaded but not in `units`.
    manager["loaded_without_unit_file"] = manager_units->size() - with_file;
  }
  out.data["manager"] = std::move(manager);
  for (auto& e : lookup.errors()) out.errors.push_back(e);
  out.items["units"] = std::move(units);
}

}  // namespace tidemark::agent
