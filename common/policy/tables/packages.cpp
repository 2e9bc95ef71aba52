// Tables of the `packages` section (docs/sections/packages.md): the Debian packages dpkg records.
#include "common/policy/tables.h"
#include "common/policy/tables/file_items.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// The want word of the first character of `${db:Status-Abbrev}` (dpkg-query(1)); "" when unknown.
std::string_view WantOf(char c) {
  switch (c) {
    case 'u':
      return "unknown";
    case 'i':
      return "install";
    case 'h':
      return "hold";
    case 'r':
      return "deinstall";
    case 'p':
      return "purge";
    default:
      return "";
  }
}

// One row per package of `installed`, then of `other_states`, with what the compact item leaves
// out restored: name and architecture from the id, the "ii " status, the Status words of an
// installed package, the source package (dpkg-query's ${source:Package} and ${source:Version}).
Status Packages(const json& data, ItemSink& sink) {
  for (const char* key : {"installed", "other_states"}) {
    const json* items = nullptr;
    if (Status s = SectionItems(data, "packages", key, &items); !s.ok()) return s;
    if (items == nullptr) continue;
    bool installed = std::string_view(key) == "installed";
    for (const json& p : *items) {
      std::string id = StringAt(p, "id");
      if (id.compare(0, 8, "package:") != 0 || id.size() == 8) {
        return {StatusCode::kInvalidArgument, "packages: an id is not package:NAME[:ARCH]"};
      }
      std::string rest = id.substr(8);
      size_t colon = rest.find(':');
      // What the item leaves out, beside the item itself (not a copy of it).
      json row = {{"name", rest.substr(0, colon)},
                  {"arch", colon == std::string::npos ? json() : json(rest.substr(colon + 1))},
                  {"installed", installed}};
      json abbrev_value = ValueOrDefault(p, CompactKind::kPackage, "status_abbrev");
      if (!p.contains("status_abbrev")) row["status_abbrev"] = abbrev_value;
      if (installed) {
        std::string abbrev = abbrev_value.is_string() ? abbrev_value.get<std::string>() : "";
        std::string_view want = abbrev.empty() ? "" : WantOf(abbrev[0]);
        if (want.empty()) {
          return {StatusCode::kInvalidArgument, "packages.installed[].status_abbrev"};
        }
        row["want"] = want;
        row["eflag"] = "ok";
        row["status"] = "installed";
      }
      if (!p.contains("src")) row["src"] = row["name"];
      if (!p.contains("src_version") && p.contains("version")) row["src_version"] = p["version"];
      sink.AddChanged(p, std::move(row));
    }
  }
  return Status::Ok();
}

}  // namespace

void AddPackagesTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "packages",
      .section = "packages",
      .meaning = "The packages of dpkg's status database (journal applied) that `dpkg-query -W` "
                 "lists: installed ones in status-file order, then those in another state "
                 "(`config-files`, `half-installed`, ...). The source is the package's stanza.",
      .rows = Packages,
      .default_source_file = "/var/lib/dpkg/status",
      .columns = {
          {"name", T::kText, "the package name"},
          {"arch", T::kText, "the architecture (`amd64`, `all`); NULL when the stanza has none"},
          {"version", T::kText, "the version (`\"\"` when the stanza has none)"},
          {"installed", T::kBoolean, "the Status is `<want> ok installed` (held ones too)"},
          {"status_abbrev", T::kText,
           "dpkg-query's `${db:Status-Abbrev}`: `ii `, `hi `, `rc `, `iHR`, ..."},
          {"want", T::kText, "Status word 1: `install`, `hold`, `deinstall`, `purge`, `unknown`"},
          {"eflag", T::kText, "Status word 2: `ok` or `reinstreq`"},
          {"status", T::kText,
           "Status word 3: `installed`, `config-files`, `half-installed`, `unpacked`, ..."},
          {"source_package", T::kText, "the source package (the name when it has no `Source:`)",
           "/src"},
          {"source_version", T::kText, "the source version (the version when not given)",
           "/src_version"},
      }});
}

}  // namespace tidemark::policy
