// The definition of one fact table: which snapshot section feeds it, its columns (name, type,
// meaning, where each value comes from in a section item, the default the compact form omits),
// and how its rows come out of the section's data. Rules, the exception register and users'
// queries read these tables (docs/tables.md, generated from the definitions). Definitions are
// immutable values built once (tables.cpp); safe to share between threads.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/compact_form.h"
#include "common/status.h"

namespace tidemark::policy {

// How a column's values are stored in SQLite and what a reader may do with them.
enum class ColumnType {
  kText,     // TEXT
  kInteger,  // INTEGER (modes are integers, so `mode & 18` works)
  kBoolean,  // INTEGER 0/1: `WHERE nopasswd` works
  kJson,     // TEXT holding a JSON array or object: `json_each(runas_users)` works
};

// Returns the SQL type of `type` ("TEXT" or "INTEGER") and its name in the docs.
std::string_view SqlType(ColumnType type);
std::string_view ColumnTypeName(ColumnType type);
// Returns true when `v` (not null) has the JSON type that column type `type` holds.
bool HasColumnType(ColumnType type, const nlohmann::json& v);

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
  std::string meaning;  // one sentence for docs/tables.md
  // JSON pointer into the row's item ("/password/status"); "" means "/" + name.
  std::string path;
  // The value changes while the host's configuration does not (a log file's mtime): ignore it
  // when comparing two states of a host.
  bool changes_by_itself = false;
  // The value a missing key stands for in the compact item form (docs/snapshot.md): set by
  // FactTables() from the table's `compact` kind (common/compact_form.h), never by hand; null
  // when the compact form omits nothing but null for this key.
  nlohmann::json compact_default = nullptr;
};

// Receives the items of a table's rows from a custom row function: each item is an object whose
// keys the columns' paths address (plus "id" and "source": {file, line}). The sink keeps the
// item (move a row in when it is not used again).
class ItemSink {
 public:
  virtual ~ItemSink() = default;
  virtual void Add(nlohmann::json item) = 0;
  // An element of the section's data as the item, with the keys of `changes` (an object) added
  // or put in place of its own: the element is read where it is, not copied.
  virtual void AddChanged(const nlohmann::json& element, nlohmann::json changes) = 0;
};

// Returns the items of a table from its section's data, or kInvalidArgument naming what in the
// data does not have the documented shape (the table then stays empty and rules reading it are
// `unknown`).
using RowsFunction = std::function<Status(const nlohmann::json& data, ItemSink& sink)>;

struct Table {
  std::string name;
  std::string section;  // the snapshot section whose data feeds the table
  std::string meaning;  // a short paragraph for docs/tables.md
  // The common case: one row per element of this array of the section's data (JSON pointer,
  // e.g. "/grants"). A null value (the section could not read its source) gives no rows; the
  // section's status says why.
  std::string items;
  // Custom rows when the rows are not simply the elements of one array (effective group
  // membership from each user's groups, a map turned into rows). Set either `items` or `rows`.
  RowsFunction rows;
  // The file an item's source names when the item gives only a line ({"line": 3} in the
  // accounts section means /etc/passwd line 3).
  std::string default_source_file;
  // The columns after the three every table has: id, source_file, source_line.
  std::vector<Column> columns;
  // The compact forms of the items the rows are read from: a column whose path is a top-level
  // key with an unconditional default in one of them restores that default. A row function
  // restores conditional defaults itself (RestoreDefaults, ValueOrDefault).
  std::vector<CompactKind> compact;
};

// The columns every table starts with.
inline constexpr std::string_view kIdColumn = "id";
inline constexpr std::string_view kSourceFileColumn = "source_file";
inline constexpr std::string_view kSourceLineColumn = "source_line";

}  // namespace tidemark::policy
