// Tables of the `pam` section (docs/sections/pam.md): every service's expanded module stack, and
// the settings of pam_faillock's and pam_pwquality's own configuration files.
#include <map>
#include <string>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// Returns the items of `data[key]` by their id (views into the data), or kInvalidArgument.
Status IndexById(const json& data, const char* key,
                 std::map<std::string_view, const json*, std::less<>>& out) {
  auto list = data.find(key);
  if (list == data.end() || list->is_null()) return Status::Ok();
  if (!list->is_array()) {
    return {StatusCode::kInvalidArgument, std::string("pam.") + key + " is not an array"};
  }
  for (const json& item : *list) {
    auto id = item.is_object() ? item.find("id") : item.end();
    if (!item.is_object() || id == item.end() || !id->is_string()) {
      return {StatusCode::kInvalidArgument, std::string("pam.") + key + " has an item without id"};
    }
    out[id->get_ref<const std::string&>()] = &item;
  }
  return Status::Ok();
}

// Returns the string at `key` of `item` (a pointer into it, for an Overlay), or nullptr.
const json* StringMember(const json& item, const char* key) {
  auto v = item.find(key);
  return v != item.end() && v->is_string() ? &*v : nullptr;
}

std::string_view TextOf(const json* string) {
  return string != nullptr ? std::string_view(string->get_ref<const std::string&>())
                           : std::string_view();
}

// The keys of a `lines` item that an entry reached through an include takes from it: the
// table's columns but `position` (never `id` or `source`).
constexpr std::string_view kLineKeys[] = {"service",   "type",   "control",        "module",
                                          "arguments", "silent", "actions",        "flags",
                                          "chain",     "via",    "substack_depth", "error"};

// pam_entries: the compact entries completed. An entry reached through an include holds only its
// identity: its content is the `lines` item of its chain's file and line, and its file is the
// chain's; an entry of the service's own file is written in the service's file. Each row is the
// entry and an Overlay of values inside the section's data: nothing is copied.
Status PamEntries(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "pam data is not an object"};
  std::map<std::string_view, const json*, std::less<>> services;
  std::map<std::string_view, const json*, std::less<>> chains;
  std::map<std::string_view, const json*, std::less<>> lines;
  if (Status s = IndexById(data, "services", services); !s.ok()) return s;
  if (Status s = IndexById(data, "chains", chains); !s.ok()) return s;
  if (Status s = IndexById(data, "lines", lines); !s.ok()) return s;
  auto entries = data.find("entries");
  if (entries == data.end() || entries->is_null()) return Status::Ok();
  if (!entries->is_array()) return {StatusCode::kInvalidArgument, "pam.entries is not an array"};
  std::map<std::string_view, int64_t, std::less<>> positions;
  std::string key;  // the id looked up, reused
  for (const json& e : *entries) {
    if (!e.is_object()) return {StatusCode::kInvalidArgument, "pam.entries has a non-object"};
    std::string_view service = TextOf(StringMember(e, "service"));
    Overlay row;  // beside the entry, not a copy of it
    row.Set("position", CellValue::Integer(++positions[service]));
    const json* file = nullptr;  // the file the entry is written in, when known
    if (const json* chain = StringMember(e, "chain")) {
      key.assign("pam_chain:").append(service).append(":").append(TextOf(chain));
      auto c = chains.find(key);
      if (c == chains.end()) {
        return {StatusCode::kInvalidArgument, "pam.entries names a chain pam.chains lacks"};
      }
      file = StringMember(*c->second, "file");
      auto via = c->second->find("via");
      row.Set("via", via != c->second->end() ? CellValue(*via) : CellValue());
      if (auto d = c->second->find("substack_depth"); d != c->second->end()) {
        row.Set("substack_depth", *d);
      }
    } else {
      key.assign("pam_service:").append(service);
      auto s = services.find(key);
      if (s == services.end()) {
        return {StatusCode::kInvalidArgument, "pam.entries names a service pam.services lacks"};
      }
      const json& svc = *s->second;
      if (auto src = svc.find("source"); src != svc.end() && src->is_object()) {
        file = StringMember(*src, "file");
      }
    }
    auto source = e.find("source");
    bool has_source = source != e.end() && source->is_object();
    if (TextOf(file).empty()) file = nullptr;
    if (file != nullptr && !(has_source && source->contains("file"))) row.SetSourceFile(*file);
    if (e.contains("chain") && !e.contains("error")) {
      auto line = has_source ? source->find("line") : e.end();
      key.assign("pam_line:").append(TextOf(file)).append(":");
      if (has_source && line != source->end()) key.append(line->dump());
      auto l = lines.find(key);
      if (l == lines.end()) {
        return {StatusCode::kInvalidArgument, "pam.entries names a line pam.lines lacks"};
      }
      for (std::string_view k : kLineKeys) {
        if (auto v = l->second->find(k); v != l->second->end()) row.Set(k, *v);
      }
    }
    // module_name: the file name of the module, wherever the module is written.
    const json* written = StringMember(e, "module");
    if (const CellValue* line = row.Find("module")) {  // the included line's, put in its place
      written = line->kind() == CellValue::Kind::kJson ? &line->json() : nullptr;
    }
    if (written != nullptr && written->is_string()) {
      std::string_view path = TextOf(written);
      row.Set("module_name", CellValue::Text(path.substr(path.rfind('/') + 1)));  // npos + 1: 0
    }
    sink.AddOverlaid(e, row);
  }
  return Status::Ok();
}

}  // namespace

void AddPamTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "pam_entries",
      .section = "pam",
      .meaning = "Every service's effective PAM stack as libpam builds it: one row per entry, "
                 "includes and substacks expanded (each entry is listed in every service that "
                 "includes it), in stack order. The source is the file and line the entry is "
                 "written on (`/etc/pam.d/common-auth` line 17 for pam_unix in `login`).",
      .rows = PamEntries,
      .columns =
          {
              {"service", T::kText, "the service (file name in /etc/pam.d) whose stack this is"},
              {"type", T::kText,
               "`auth`, `account`, `password` or `session`; NULL for a failed `@include`"},
              {"control", T::kText,
               "as written: `required`, `requisite`, `sufficient`, `optional`, `[value=action "
               "...]`"},
              {"module", T::kText,
               "the module path as written (`pam_unix.so`); for a failed include, the file"},
              {"module_name", T::kText,
               "the module's file name: `module` after its last `/` (`pam_unix.so` also for "
               "`/lib/x86_64-linux-gnu/security/pam_unix.so`); rules name modules by it, as "
               "`module LIKE '%pam_unix.so'` would also take `notpam_unix.so`"},
              {"arguments", T::kJson, "the module arguments, a JSON array of strings"},
              {"position", T::kInteger, "the entry's position in the service's stack, from 1"},
              {"silent", T::kBoolean, "the type had a `-` prefix (a missing module is skipped)"},
              {"actions", T::kJson,
               "for a bracketed control: return value -> action; NULL otherwise"},
              {"flags", T::kJson,
               "security-relevant arguments (`nullok`, `remember`, `deny`, hash methods, ...) -> "
               "`true` or their value"},
              {"chain", T::kText,
               "the include lines it came through (`57`, `4.1`); NULL for a line of the service's "
               "own file"},
              {"via", T::kJson,
               "that include chain, `[{file, line, directive}]` from the service's file; NULL for "
               "a line of the service's own file"},
              {"substack_depth", T::kInteger, "how many `substack` levels the entry is inside"},
              {"error", T::kText,
               "why libpam would refuse the line (its stack then fails); NULL when none"},
          },
      .compact = {CompactKind::kPamLine, CompactKind::kPamChain}});
  out.push_back(Table{
      .name = "pam_module_settings",
      .section = "pam",
      .meaning = "The settings of pam_faillock's `/etc/security/faillock.conf` and libpwquality's "
                 "`/etc/security/pwquality.conf.d/*.conf` and `/etc/security/pwquality.conf`, "
                 "read as the modules read them: one row per key the module applies, with the "
                 "last assignment (a later file wins). A key that is not a row has the module's "
                 "compiled-in default unless the PAM line's arguments set it (`pam_entries`, "
                 "which override the file). The source is the line that sets the value.",
      .items = "/module_settings",
      .columns = {
          {"module", T::kText, "`faillock` or `pwquality`"},
          {"key", T::kText,
           "the setting (`deny`, `unlock_time`, `minlen`, `enforce_for_root`, ...); "
           "pwquality keys lower-cased (libpwquality compares them case-insensitively)"},
          {"value", T::kText,
           "the value as written (`3`, `never`); NULL for a bare flag (`even_deny_root`)"},
      }});
}

}  // namespace tidemark::policy
