// Tables of the `pam` section (docs/sections/pam.md): every service's expanded module stack, and
// the settings of pam_faillock's and pam_pwquality's own configuration files.
#include <map>
#include <string>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// Returns the items of `data[key]` by their id, or kInvalidArgument.
Status IndexById(const json& data, const char* key, std::map<std::string, const json*>& out) {
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
    out[id->get<std::string>()] = &item;
  }
  return Status::Ok();
}

// Returns the string at `key` of `item`, or "".
std::string StringAt(const json& item, const char* key) {
  auto v = item.find(key);
  return v != item.end() && v->is_string() ? v->get<std::string>() : "";
}

// pam_entries: the compact entries completed. An entry reached through an include holds only its
// identity: its content is the `lines` item of its chain's file and line, and its file is the
// chain's; an entry of the service's own file is written in the service's file.
Status PamEntries(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "pam data is not an object"};
  std::map<std::string, const json*> services;
  std::map<std::string, const json*> chains;
  std::map<std::string, const json*> lines;
  if (Status s = IndexById(data, "services", services); !s.ok()) return s;
  if (Status s = IndexById(data, "chains", chains); !s.ok()) return s;
  if (Status s = IndexById(data, "lines", lines); !s.ok()) return s;
  auto entries = data.find("entries");
  if (entries == data.end() || entries->is_null()) return Status::Ok();
  if (!entries->is_array()) return {StatusCode::kInvalidArgument, "pam.entries is not an array"};
  std::map<std::string, int> positions;
  for (const json& e : *entries) {
    if (!e.is_object()) return {StatusCode::kInvalidArgument, "pam.entries has a non-object"};
    std::string service = StringAt(e, "service");
    json row = {{"position", ++positions[service]}};  // beside the entry, not a copy of it
    std::string file;
    if (auto chain = e.find("chain"); chain != e.end() && chain->is_string()) {
      auto c = chains.find("pam_chain:" + service + ":" + chain->get<std::string>());
      if (c == chains.end()) {
        return {StatusCode::kInvalidArgument, "pam.entries names a chain pam.chains lacks"};
      }
      file = StringAt(*c->second, "file");
      row["via"] = c->second->contains("via") ? (*c->second)["via"] : json();
      if (auto d = c->second->find("substack_depth"); d != c->second->end()) {
        row["substack_depth"] = *d;
      }
    } else {
      auto s = services.find("pam_service:" + service);
      if (s == services.end()) {
        return {StatusCode::kInvalidArgument, "pam.entries names a service pam.services lacks"};
      }
      const json& svc = *s->second;
      if (auto src = svc.find("source"); src != svc.end() && src->is_object()) {
        file = StringAt(*src, "file");
      }
    }
    json source = e.contains("source") && e["source"].is_object() ? e["source"] : json::object();
    if (!file.empty() && !source.contains("file")) source["file"] = file;
    row["source"] = source;
    if (e.contains("chain") && !e.contains("error")) {
      auto line = source.find("line");
      std::string id =
          "pam_line:" + file + ":" + (line == source.end() ? std::string() : line->dump());
      auto l = lines.find(id);
      if (l == lines.end()) {
        return {StatusCode::kInvalidArgument, "pam.entries names a line pam.lines lacks"};
      }
      for (const auto& [k, v] : l->second->items()) {
        if (k != "id" && k != "source") row[k] = v;
      }
    }
    sink.AddChanged(e, std::move(row));
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
