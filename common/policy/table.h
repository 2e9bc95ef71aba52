// The definition of one fact table: which snapshot section feeds it, its columns (name, type,
// meaning, where each value comes from in a section item, the default the compact form omits),
// and how its rows come out of the section's data. Rules, the exception register and users'
// queries read these tables (docs/tables.md, generated from the definitions). Definitions are
// immutable values built once (tables.cpp); safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
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

// A value a row function gives for one key of a row without copying anything: a value that
// outlives the rows (inside the section's data, or a static), text inside such a value, an
// integer, a boolean, or null.
class CellValue {
 public:
  enum class Kind { kNull, kJson, kText, kInteger, kBoolean };
  CellValue() = default;  // null
  // NOLINTNEXTLINE(google-explicit-constructor): a value of the data is the common case
  CellValue(const nlohmann::json& value) : kind_(Kind::kJson), json_(&value) {}
  static CellValue Text(std::string_view text) {
    CellValue v;
    v.kind_ = Kind::kText;
    v.text_ = text;
    return v;
  }
  static CellValue Integer(int64_t n) {
    CellValue v;
    v.kind_ = Kind::kInteger;
    v.integer_ = n;
    return v;
  }
  static CellValue Boolean(bool b) {
    CellValue v;
    v.kind_ = Kind::kBoolean;
    v.integer_ = b ? 1 : 0;
    return v;
  }

  Kind kind() const { return kind_; }
  const nlohmann::json& json() const { return *json_; }  // kJson
  std::string_view text() const { return text_; }        // kText
  int64_t integer() const { return integer_; }           // kInteger, kBoolean (0/1)

 private:
  Kind kind_ = Kind::kNull;
  const nlohmann::json* json_ = nullptr;
  std::string_view text_;
  int64_t integer_ = 0;
};

// The keys a row function gives beside an element of the section's data, looked up before the
// element's own (at most kCapacity; the row functions set fixed lists of keys, never keys the
// data names, and the keys are literals). Lives on the stack for one row: the values it holds
// point into the data.
class Overlay {
 public:
  static constexpr size_t kCapacity = 24;
  // Gives `key` the value `value` (again: the later value).
  void Set(std::string_view key, CellValue value) {
    for (size_t i = 0; i < size_; ++i) {
      if (keys_[i] == key) {
        values_[i] = value;
        return;
      }
    }
    if (size_ == kCapacity) {
      overflow_ = true;  // a defect of the row function: the sink refuses the row
      return;
    }
    keys_[size_] = key;
    values_[size_++] = value;
  }
  // The row's source file, in place of the element's `source.file` (the line stays the
  // element's).
  void SetSourceFile(CellValue file) { source_file_ = file; }
  const CellValue* Find(std::string_view key) const {
    for (size_t i = 0; i < size_; ++i) {
      if (keys_[i] == key) return &values_[i];
    }
    return nullptr;
  }
  const CellValue* source_file() const {
    return source_file_.kind() == CellValue::Kind::kNull ? nullptr : &source_file_;
  }
  bool overflow() const { return overflow_; }

 private:
  std::array<std::string_view, kCapacity> keys_{};
  std::array<CellValue, kCapacity> values_{};
  size_t size_ = 0;
  CellValue source_file_;
  bool overflow_ = false;
};

// Receives the items of a table's rows from a custom row function: each item is an object whose
// keys the columns' paths address (plus "id" and "source": {file, line}). The sink keeps the
// item (move a row in when it is not used again).
class ItemSink {
 public:
  virtual ~ItemSink() = default;
  virtual void Add(nlohmann::json item) = 0;
  // An element of the section's data as the item, with the keys of `overlay` added or put in
  // place of its own: neither the element nor the overlay's values are copied (they must outlive
  // the rows: the section's data, statics, Keep), so a row costs no allocation.
  virtual void AddOverlaid(const nlohmann::json& element, const Overlay& overlay) = 0;
  // A row of exactly the keys of `row` (a key it lacks has the column's compact default).
  virtual void AddRow(const Overlay& row) = 0;
  // Keeps a value that a row function made while its rows are loaded, for an Overlay to point
  // to.
  virtual const nlohmann::json& Keep(nlohmann::json value) = 0;
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
