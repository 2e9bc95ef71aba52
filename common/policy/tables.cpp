#include "common/policy/tables.h"

#include <algorithm>

namespace tidemark::policy {

std::string_view SqlType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
    case ColumnType::kBoolean:
      return "INTEGER";
    case ColumnType::kText:
    case ColumnType::kJson:
      return "TEXT";
  }
  return "TEXT";
}

std::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kText:
      return "text";
    case ColumnType::kInteger:
      return "integer";
    case ColumnType::kBoolean:
      return "boolean (0/1)";
    case ColumnType::kJson:
      return "JSON (text)";
  }
  return "text";
}

bool HasColumnType(ColumnType type, const nlohmann::json& v) {
  switch (type) {
    case ColumnType::kText:
      return v.is_string();
    case ColumnType::kInteger:
      return v.is_number_integer();
    case ColumnType::kBoolean:
      return v.is_boolean();
    case ColumnType::kJson:
      return v.is_array() || v.is_object();
  }
  return false;
}

namespace {

std::string PathOf(const Column& column) {
  return column.path.empty() ? "/" + column.name : column.path;
}

std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

// Gives each column of `table` the unconditional default of its top-level key in the table's
// compact kinds, and every other column none.
void SetCompactDefaults(Table& table) {
  for (Column& c : table.columns) {
    c.compact_default = nullptr;
    std::string path = PathOf(c);
    if (path.find('/', 1) != std::string::npos) continue;
    for (CompactKind kind : table.compact) {
      for (const CompactDefault& d : Compact(kind).defaults) {
        if (d.only_beside.empty() && d.when_key.empty() && path.substr(1) == d.key) {
          c.compact_default = d.value;
        }
      }
    }
  }
}

std::vector<Table> BuildTables() {
  std::vector<Table> all;
  AddAccountsTables(all);
  AddSudoTables(all);
  AddSshTables(all);
  AddSysctlTables(all);
  AddNetworkTables(all);
  AddPamTables(all);
  AddLoginTables(all);
  AddFilesTables(all);
  AddServicesTables(all);
  AddPackagesTables(all);
  AddCronTables(all);
  std::sort(all.begin(), all.end(), [](const Table& a, const Table& b) { return a.name < b.name; });
  for (Table& t : all) SetCompactDefaults(t);
  return all;
}

}  // namespace

const std::vector<Table>& FactTables() {
  static const std::vector<Table> tables = BuildTables();
  return tables;
}

const Table* FindTable(std::string_view name) {
  for (const Table& t : FactTables()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string TablesMarkdown() {
  std::string md =
      "# Fact tables\n\n"
      "<!-- Generated from common/policy/tables/*.cpp by `tidemarkctl tables --format markdown`;\n"
      "     tests/common/policy/tables_test.cpp fails when this file differs. -->\n\n"
      "Every section of a snapshot becomes rows of the tables below, one row per item, with\n"
      "the defaults of the compact form restored. Rules (docs/policies.md) and `tidemarkctl "
      "query`\nread them with SQLite's SQL. Every table starts with `id` (the item's stable id "
      "in the\nsnapshot), `source_file` and `source_line` (where the item was read, when "
      "known).\nBooleans are 0/1; JSON columns hold arrays or objects as text (`json_each()` "
      "works on\nthem). `group` is an SQL keyword: write it `\"group\"`. A column marked "
      "*changes by itself*\nchanges while the configuration does not and is ignored when two "
      "states are compared.\n\n"
      "Two tables describe the snapshot itself:\n\n"
      "- `sections(name, status, error_count)`: every section the snapshot holds, with its\n"
      "  status (`ok`, `partial`, `error`, `not_applicable`, or `unknown_shape` when its data\n"
      "  does not have the documented shape: its tables are then empty) and the number of\n"
      "  errors it reported. A rule that reads a table of a missing section, or of one whose\n"
      "  status is not `ok` or `not_applicable`, and finds nothing is `unknown`, never `pass`.\n"
      "- `host(id, hostname, root, collected_at, agent_version, content_hash)`: one row.\n\n";
  for (const Table& t : FactTables()) {
    md += "## `" + t.name + "`\n\n";
    md += "Section `" + t.section + "`";
    if (!t.items.empty()) md += ", one row per element of `" + t.items.substr(1) + "`";
    md += ". " + t.meaning + "\n\n";
    md += "| column | type | meaning | from | compact default |\n| --- | --- | --- | --- | --- |\n";
    md += "| `id` | text | the item's stable id | `id` | |\n";
    md += "| `source_file` | text | the file the item was read from | `source.file`";
    md += t.default_source_file.empty() ? " | |\n" : " | `" + t.default_source_file + "` |\n";
    md += "| `source_line` | integer | its line | `source.line` | |\n";
    for (const Column& c : t.columns) {
      std::string path = PathOf(c).substr(1);
      std::replace(path.begin(), path.end(), '/', '.');
      md += "| `" + c.name + "` | " + std::string(ColumnTypeName(c.type)) + " | " + Cell(c.meaning);
      if (c.changes_by_itself) md += " *Changes by itself.*";
      md += " | `" + Cell(path) + "` | ";
      if (!c.compact_default.is_null()) md += "`" + Cell(c.compact_default.dump()) + "`";
      md += " |\n";
    }
    md += "\n";
  }
  return md;
}

std::string QuoteIdentifier(std::string_view identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
QueryableTables() {
  using Columns = std::vector<std::pair<std::string, std::string>>;
  std::vector<std::pair<std::string, Columns>> out;
  out.emplace_back(std::string(kSectionsTable),
                   Columns{{"name", "TEXT"}, {"status", "TEXT"}, {"error_count", "INTEGER"}});
  out.emplace_back(std::string(kHostTable), Columns{{"id", "TEXT"},
                                                    {"hostname", "TEXT"},
                                                    {"root", "TEXT"},
                                                    {"collected_at", "TEXT"},
                                                    {"agent_version", "TEXT"},
                                                    {"content_hash", "TEXT"}});
  for (const Table& t : FactTables()) {
    Columns columns{{"id", "TEXT"}, {"source_file", "TEXT"}, {"source_line", "INTEGER"}};
    for (const Column& c : t.columns) columns.emplace_back(c.name, std::string(SqlType(c.type)));
    out.emplace_back(t.name, std::move(columns));
  }
  return out;
}

}  // namespace tidemark::policy
