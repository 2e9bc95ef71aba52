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
// The largest table of a host: its rows are the items and an Overlay of views into them and of
// literals, so that loading allocates nothing per package.
Status Packages(const json& data, ItemSink& sink) {
  for (const char* key : {"installed", "other_states"}) {
    const json* items = nullptr;
    if (Status s = SectionItems(data, "packages", key, &items); !s.ok()) return s;
    if (items == nullptr) continue;
    bool installed = std::string_view(key) == "installed";
    for (const json& p : *items) {
      std::string_view id = TextAt(p, "id");
      if (id.substr(0, 8) != "package:" || id.size() == 8) {
        return {StatusCode::kInvalidArgument, "packages: an id is not package:NAME[:ARCH]"};
      }
      std::string_view rest = id.substr(8);
      size_t colon = rest.find(':');
      std::string_view name = rest.substr(0, colon);
      Overlay row;  // what the item leaves out, beside the item itself (not a copy of it)
      row.Set("name", CellValue::Text(name));
      row.Set("arch", colon == std::string_view::npos ? CellValue()
                                                      : CellValue::Text(rest.substr(colon + 1)));
      row.Set("installed", CellValue::Boolean(installed));
      const json* abbrev = FindOrDefault(p, CompactKind::kPackage, "status_abbrev");
      row.Set("status_abbrev", abbrev != nullptr ? CellValue(*abbrev) : CellValue());
      if (installed) {
        std::string_view abbrev_text = abbrev != nullptr && abbrev->is_string()
                                           ? std::string_view(abbrev->get_ref<const std::string&>())
                                           : std::string_view();
        std::string_view want = abbrev_text.empty() ? "" : WantOf(abbrev_text[0]);
        if (want.empty()) {
          return {StatusCode::kInvalidArgument, "packages.installed[].status_abbrev"};
        }
        row.Set("want", CellValue::Text(want));  // literals
        row.Set("eflag", CellValue::Text("ok"));
        row.Set("status", CellValue::Text("installed"));
      }
      if (!p.contains("src")) row.Set("src", CellValue::Text(name));
      if (auto version = p.find("version"); !p.contains("src_version") && version != p.end()) {
        row.Set("src_version", *version);
      }
      sink.AddOverlaid(p, row);
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
