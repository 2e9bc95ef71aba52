// Tables of the `sysctl` section (docs/sections/sysctl.md): each kernel parameter's runtime value
// (live host) next to the value the sysctl.d files configure, and where that is set.
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

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

// A value as a kernel sysctl of one integer reads it (kernel/sysctl.c: proc_get_long, then
// do_proc_dointvec_conv): blanks before it, an optional '-', digits in base 0 (`0x10` is 16, a
// leading 0 octal: `010` is 8), at most 20 characters, within int's range, then a blank or the
// end; what follows the blank it ignores (`1 # off` is 1). Anything else it refuses (EINVAL)
// and the running value stays, where SQLite's CAST reads `1x` or `1.5` as 1. Checked against
// the kernel in tests/common/policy/tables_access_test.cpp.
std::optional<int64_t> KernelInteger(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  size_t i = 0;
  while (i < text.size() && blank(text[i])) ++i;
  const size_t start = i;
  bool negative = i < text.size() && text[i] == '-';
  if (negative) ++i;
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
  unsigned base = 10;
  if (text[i] == '0') {
    base = 8;
    if (i + 2 < text.size() && (text[i + 1] | 0x20) == 'x' &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
      base = 16;
      i += 2;
    }
  }
  uint64_t value = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    char lower = static_cast<char>(c | 0x20);
    unsigned digit = 99;
    if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
    if (lower >= 'a' && lower <= 'f') digit = static_cast<unsigned>(lower - 'a' + 10);
    if (digit >= base) break;
    value = value * base + digit;
    if (value > (uint64_t{1} << 31)) return std::nullopt;
  }
  if (i - start >= 21) return std::nullopt;  // TMPBUFLEN - 1: the kernel refuses it
  // The kernel takes only a blank (or the end) after the number.
  if (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') return std::nullopt;
  if (value > (negative ? uint64_t{1} << 31 : (uint64_t{1} << 31) - 1)) return std::nullopt;
  return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
}

// Sets row["configured_number"] from row["configured"] when the kernel reads that as an integer.
void AddConfiguredNumber(json& row) {
  auto c = row.find("configured");
  if (c == row.end() || !c->is_string()) return;
  if (auto n = KernelInteger(c->get_ref<const std::string&>())) row["configured_number"] = *n;
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
    AddConfiguredNumber(row);
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
    AddConfiguredNumber(row);
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
              {"configured_number", T::kInteger,
               "`configured` as a kernel sysctl of one integer reads it (base 0: `0x10` is 16, "
               "`010` is 8; after a blank the rest is ignored: `1 # off` is 1); NULL when it "
               "does not start with one (`1x`, `1.5`, `+1`, `5,6`): the kernel refuses such a "
               "write and the running value stays"},
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
