// Tables of the `sysctl` section (docs/sections/sysctl.md): each kernel parameter's runtime value
// (live host) next to the value the sysctl.d files configure, and where that is set.
#include <map>
#include <set>
#include <string>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

constexpr std::string_view kSettingPrefix = "sysctl:";
constexpr std::string_view kRuntimePrefix = "sysctl_runtime:";

// Returns the key of an item whose id is PREFIX + KEY, or "" when the id has another form.
std::string KeyOf(const json& item, std::string_view prefix) {
  auto id = item.find("id");
  if (id == item.end() || !id->is_string()) return "";
  const std::string& s = id->get_ref<const std::string&>();
  if (s.size() <= prefix.size() || s.compare(0, prefix.size(), prefix) != 0) return "";
  return s.substr(prefix.size());
}

// Returns "FILE\nLINE" of a {file, line} source, or "" when it has no file.
std::string SourceKey(const json& source) {
  if (!source.is_object()) return "";
  auto f = source.find("file");
  if (f == source.end() || !f->is_string()) return "";
  auto l = source.find("line");
  return f->get<std::string>() + "\n" + (l == source.end() ? "" : l->dump());
}

// Copies what the setting `s` says about how it is applied into `row`, defaults restored.
void AddSettingFields(const json& s, json& row) {
  for (const char* k : {"kind", "ignore_failure", "overridden"}) {
    row[k] = ValueOrDefault(s, CompactKind::kSysctlSetting, k);
  }
}

// sysctl: on a live host, one row per runtime key the agent reads, with the configured value
// that decides it; then one row per configured setting not already a runtime row (any host):
// keys outside the runtime list and glob patterns. Offline only the settings give rows.
Status SysctlRows(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "sysctl data is not an object"};
  const json empty = json::array();
  auto runtime_it = data.find("runtime");
  auto settings_it = data.find("settings");
  const json& runtime = runtime_it == data.end() || runtime_it->is_null() ? empty : *runtime_it;
  const json& settings = settings_it == data.end() || settings_it->is_null() ? empty : *settings_it;
  if (!runtime.is_array()) return {StatusCode::kInvalidArgument, "sysctl.runtime is not an array"};
  if (!settings.is_array()) {
    return {StatusCode::kInvalidArgument, "sysctl.settings is not an array"};
  }
  std::map<std::string, const json*> by_source;  // the setting written at a file and line
  for (const json& s : settings) {
    if (!s.is_object() || KeyOf(s, kSettingPrefix).empty()) {
      return {StatusCode::kInvalidArgument, "sysctl.settings has an item without a sysctl: id"};
    }
    if (auto src = s.find("source"); src != s.end()) by_source[SourceKey(*src)] = &s;
  }
  std::set<std::string> runtime_keys;
  for (const json& r : runtime) {
    std::string key = r.is_object() ? KeyOf(r, kRuntimePrefix) : "";
    if (key.empty()) {
      return {StatusCode::kInvalidArgument, "sysctl.runtime has an item without a key"};
    }
    runtime_keys.insert(key);
    json row = {
        {"id", std::string(kSettingPrefix) + key},
        {"key", key},
        {"runtime", r.contains("value") ? r["value"] : json()},
        {"runtime_state", ValueOrDefault(r, CompactKind::kSysctlRuntime, "state")},
        {"configured", r.contains("configured_value") ? r["configured_value"] : json()},
        {"matches_configured", r.contains("matches_configured") ? r["matches_configured"] : json()},
        {"glob", false},
        {"kind", nullptr},
        {"ignore_failure", nullptr},
        {"overridden", nullptr}};
    if (auto src = r.find("configured_source"); src != r.end() && !src->is_null()) {
      row["source"] = *src;
      // The setting that decides the key: its own, or a glob that matches it.
      auto s = by_source.find(SourceKey(*src));
      if (s != by_source.end()) {
        const json& setting = *s->second;
        AddSettingFields(setting, row);
        if (auto g = setting.find("glob"); g != setting.end() && *g == json(true)) {
          row["configured_pattern"] = KeyOf(setting, kSettingPrefix);
        }
      }
    }
    sink.Add(std::move(row));
  }
  for (const json& s : settings) {
    std::string key = KeyOf(s, kSettingPrefix);
    if (runtime_keys.count(key) != 0) continue;
    json row = {{"id", s["id"]},
                {"key", key},
                {"runtime", nullptr},
                {"runtime_state", nullptr},
                {"configured", s.contains("value") ? s["value"] : json()},
                {"matches_configured", nullptr}};
    row["glob"] = ValueOrDefault(s, CompactKind::kSysctlSetting, "glob");
    AddSettingFields(s, row);
    if (auto src = s.find("source"); src != s.end()) row["source"] = *src;
    sink.Add(std::move(row));
  }
  return Status::Ok();
}

}  // namespace

void AddSysctlTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "sysctl",
      .section = "sysctl",
      .meaning =
          "Kernel parameters: on a live host one row per security-relevant key the agent reads "
          "(`runtime`, with the configured value that decides it), plus one row per key or glob "
          "pattern the sysctl.d files set that is not such a key; under `--root` only the "
          "configured rows. The source is where the deciding configured value (or exclusion) is "
          "written; NULL when nothing configures the key.",
      .rows = SysctlRows,
      .columns =
          {
              {"key", T::kText,
               "the dotted key (`net.ipv4.ip_forward`), or the pattern of a glob setting"},
              {"runtime", T::kText,
               "what `sysctl -n KEY` prints; NULL when not read (offline root, a key outside the "
               "agent's list, a glob) or absent"},
              {"configured", T::kText,
               "the value the sysctl.d files give it (systemd-sysctl's winner; for a runtime key "
               "possibly through a glob); NULL when no file sets it or an exclusion applies"},
              {"runtime_state", T::kText,
               "`present`, `absent` (the kernel has no such key) or `error`; NULL when not read"},
              {"matches_configured", T::kBoolean,
               "the runtime value equals the configured one (blanks collapsed); NULL when either "
               "is missing"},
              {"configured_pattern", T::kText,
               "the glob pattern whose setting configures this key, when it comes from a glob"},
              {"glob", T::kBoolean,
               "the row's key is a glob pattern (`net.ipv4.conf.*.rp_filter`)"},
              {"kind", T::kText,
               "of the deciding setting: `assignment` or `exclusion` (`-key`: keeps globs off); "
               "NULL when none"},
              {"ignore_failure", T::kBoolean,
               "the deciding setting has a `-` prefix (a failure to write it is ignored)"},
              {"overridden", T::kJson,
               "the other assignments of the key, `[{value, source}]` in read order"},
          },
      // The row function restores the settings' defaults itself (a runtime row without a
      // deciding setting has none); named here for docs/tables.md.
      .compact = {CompactKind::kSysctlSetting}});
}

}  // namespace tidemark::policy
