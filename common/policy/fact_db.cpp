#include "common/policy/fact_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

// What Load needs of a table's definition, worked out once: each column's path split into its
// keys, and the table's columns as its virtual table declares them (QueryableTables).
struct ColumnPlan {
  std::vector<std::string> keys;  // the column's JSON pointer, "/a/b" -> {"a", "b"}
  ColumnType type;
  const json* compact_default;  // the value a missing key stands for (null: none)
};
struct TablePlan {
  const Table* table;
  json default_source_file;  // null when items name their file
  std::vector<ColumnPlan> columns;
  std::string declaration;  // "CREATE TABLE x(id TEXT, ...)"
  // By SQLite's column number (the declaration's, a row's cells' too): whether the column holds
  // text that a look-up by `=` can find (id, source_file and the text columns; not a list
  // column's JSON text).
  std::vector<bool> text_columns;
};

// One plan per fact table, in FactTables() order. Immutable once built; shared by every FactDb.
const std::vector<TablePlan>& TablePlans() {
  static const std::vector<TablePlan> plans = [] {
    std::vector<TablePlan> out;
    std::map<std::string, std::string> declarations;
    for (const auto& [table, columns] : QueryableTables()) {
      std::string& d = declarations[table];
      for (const auto& [name, type] : columns) {
        d += (d.empty() ? "CREATE TABLE x(" : ", ") + QuoteIdentifier(name) + " " + type;
      }
      d += ")";
    }
    for (const Table& t : FactTables()) {
      TablePlan plan{&t,
                     t.default_source_file.empty() ? json() : json(t.default_source_file),
                     {},
                     declarations.at(t.name),
                     {true, true, false}};  // id, source_file, source_line
      for (const Column& c : t.columns) {
        ColumnPlan column{{}, c.type, &c.compact_default};
        std::string_view path = c.path.empty() ? std::string_view() : std::string_view(c.path);
        if (path.empty()) column.keys.push_back(c.name);
        while (!path.empty()) {  // plain keys, no escapes (table.h)
          path.remove_prefix(1);
          size_t end = path.find('/');
          column.keys.emplace_back(path.substr(0, end));
          path = end == std::string_view::npos ? std::string_view() : path.substr(end);
        }
        plan.columns.push_back(std::move(column));
        plan.text_columns.push_back(c.type == ColumnType::kText);
      }
      out.push_back(std::move(plan));
    }
    return out;
  }();
  return plans;
}

// Collects a table's rows before any is inserted, so that a section of the wrong shape leaves
// every one of its tables empty. A row is its cells, each a value inside its item (an element of
// the section's data, or an item a row function made, kept here), the column's compact default,
// a value a row function gave in an Overlay, or null: nothing is copied on the way to SQLite.
class RowCollector final : public ItemSink {
 public:
  explicit RowCollector(const TablePlan& plan) : plan_(plan) {}
  RowCollector(const RowCollector&) = delete;  // cells point into owned_
  RowCollector& operator=(const RowCollector&) = delete;
  RowCollector(RowCollector&&) = delete;
  RowCollector& operator=(RowCollector&&) = delete;
  ~RowCollector() override = default;

  // An item a row function made: kept until the rows are inserted.
  void Add(json item) override { AddCells(owned_.emplace_back(std::move(item)), nullptr); }
  void AddOverlaid(const json& element, const Overlay& overlay) override {
    if (overlay.overflow()) {
      ++shape_errors_;
      return;
    }
    AddCells(element, &overlay);
  }
  void AddRow(const Overlay& row) override {
    static const json empty = json::object();
    AddOverlaid(empty, row);
  }
  const json& Keep(json value) override { return owned_.emplace_back(std::move(value)); }
  // An element of the section's data, which outlives the rows.
  void AddBorrowed(const json& item) { AddCells(item, nullptr); }

  size_t shape_errors() const { return shape_errors_; }
  size_t width() const { return plan_.text_columns.size(); }  // one cell per declared column
  // Every row's cells, row after row (width() each).
  const std::vector<CellValue>& cells() const { return cells_; }

 private:
  // `overlay`, when given, is looked up first for the item's top-level keys.
  void AddCells(const json& item, const Overlay* overlay) {
    if (!item.is_object()) {
      ++shape_errors_;
      return;
    }
    // The value of a top-level key, or nullopt when the row has none.
    auto top = [&](std::string_view key) -> std::optional<CellValue> {
      if (overlay != nullptr) {
        if (const CellValue* v = overlay->Find(key)) return *v;
      }
      const json* v = Member(item, key);
      if (v == nullptr) return std::nullopt;
      return CellValue(*v);
    };
    std::optional<CellValue> id = top("id");
    bool id_ok = id && (id->kind() == CellValue::Kind::kText ||
                        (id->kind() == CellValue::Kind::kJson && id->json().is_string()));
    cells_.push_back(id_ok ? *id : CellValue());
    CellValue file;
    CellValue line;
    if (std::optional<CellValue> src = top("source");
        src && src->kind() == CellValue::Kind::kJson && src->json().is_object()) {
      const json* f = Member(src->json(), "file");
      file = f != nullptr && f->is_string() ? CellValue(*f) : CellValue(plan_.default_source_file);
      const json* l = Member(src->json(), "line");
      if (l != nullptr && l->is_number_integer()) line = CellValue(*l);
    }
    if (overlay != nullptr && overlay->source_file() != nullptr) file = *overlay->source_file();
    cells_.push_back(file);
    cells_.push_back(line);
    for (const ColumnPlan& c : plan_.columns) {
      std::optional<CellValue> v = top(c.keys.front());
      for (size_t k = 1; k < c.keys.size() && v; ++k) {
        const json* inner = v->kind() == CellValue::Kind::kJson && v->json().is_object()
                                ? Member(v->json(), c.keys[k])
                                : nullptr;
        v = inner != nullptr ? std::optional<CellValue>(*inner) : std::nullopt;
      }
      if (!v) {
        v = CellValue(*c.compact_default);
      } else if (!Fits(c.type, *v)) {
        ++shape_errors_;  // the table stays empty: the section is unknown_shape
        v = CellValue();
      }
      cells_.push_back(*v);
    }
  }
  // A value of the column type `type`, or null.
  static bool Fits(ColumnType type, const CellValue& v) {
    switch (v.kind()) {
      case CellValue::Kind::kNull:
        return true;
      case CellValue::Kind::kJson:
        return v.json().is_null() || HasColumnType(type, v.json());
      case CellValue::Kind::kText:
        return type == ColumnType::kText;
      case CellValue::Kind::kInteger:
        return type == ColumnType::kInteger;
      case CellValue::Kind::kBoolean:
        return type == ColumnType::kBoolean;
    }
    return false;
  }
  static const json* Member(const json& object, std::string_view key) {
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
  }

  const TablePlan& plan_;
  std::deque<json> owned_;  // stable addresses
  std::vector<CellValue> cells_;
  size_t shape_errors_ = 0;
};

// The one mapping of the facts' values to SQL values, for a bound parameter and a fact table's
// column alike: null; a boolean as 0 or 1; an integer (one above INT64_MAX as a real); a real;
// a string as text in place; an array or object as its JSON text ("[]" and "{}" in place, any
// other the text `composite` wrote for it, which must outlive the use of the value).
struct SqlValue {
  enum class Type { kNull, kInteger, kReal, kText } type = Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string_view text;
};

std::string JsonText(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

template <typename Composite>
SqlValue ToSql(const CellValue& cell, Composite&& composite) {
  SqlValue out;
  auto integer = [&](int64_t n) {
    out.type = SqlValue::Type::kInteger;
    out.integer = n;
  };
  auto text = [&](std::string_view t) {
    out.type = SqlValue::Type::kText;
    out.text = t;
  };
  switch (cell.kind()) {
    case CellValue::Kind::kNull:
      return out;
    case CellValue::Kind::kText:
      text(cell.text());
      return out;
    case CellValue::Kind::kInteger:
    case CellValue::Kind::kBoolean:
      integer(cell.integer());
      return out;
    case CellValue::Kind::kJson:
      break;
  }
  const json& v = cell.json();
  if (v.is_null()) return out;
  if (v.is_boolean()) {
    integer(v.get<bool>() ? 1 : 0);
  } else if (v.is_number_integer() &&
             !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX})) {
    integer(v.get<int64_t>());
  } else if (v.is_number()) {
    out.type = SqlValue::Type::kReal;
    out.real = v.get<double>();
  } else if (v.is_string()) {
    text(v.get_ref<const std::string&>());
  } else if (v.empty()) {  // most list columns of most rows: no text to write
    text(v.is_array() ? "[]" : "{}");
  } else {
    text(composite(v));
  }
  return out;
}

// Binds `v` to parameter `index` of `stmt`. Text is bound in place (SQLITE_STATIC), so `v` must
// outlive the statement's next step; an array's or object's text is copied.
Status Bind(sqlite3_stmt* stmt, int index, const CellValue& v) {
  std::string composite;
  SqlValue s = ToSql(v, [&](const json& j) -> std::string_view { return composite = JsonText(j); });
  int rc = SQLITE_OK;
  switch (s.type) {
    case SqlValue::Type::kNull:
      rc = sqlite3_bind_null(stmt, index);
      break;
    case SqlValue::Type::kInteger:
      rc = sqlite3_bind_int64(stmt, index, s.integer);
      break;
    case SqlValue::Type::kReal:
      rc = sqlite3_bind_double(stmt, index, s.real);
      break;
    case SqlValue::Type::kText:
      rc = sqlite3_bind_text64(stmt, index, s.text.data(), s.text.size(),
                               s.text.data() == composite.data() ? SQLITE_TRANSIENT : SQLITE_STATIC,
                               SQLITE_UTF8);
      break;
  }
  if (rc != SQLITE_OK) return {StatusCode::kInternal, "sqlite bind failed"};
  return Status::Ok();
}

// What the fact tables serve, as SQLite virtual tables (kFactModule): each table's rows are the
// cells a RowCollector gathered, pointing into the loaded snapshot's data, which the FactDb keeps
// until the next Load or Unload. Nothing is copied into SQLite: a Load costs the row functions,
// not a B-tree insert per row (bench/policy_bench.cpp: loading 4.1-4.7 -> 1.8-2.7 ms on a
// 252 KB snapshot, README "Performance"). A text column compared with `=` is looked up in an index
// of that column, built at its first use after a Load; a list cell's JSON text is written at its
// first read.
struct LoadedRows {
  std::shared_ptr<const Snapshot> snapshot;
  std::deque<Section> materialized;  // sections read from Section::items, kept for the cells
  std::vector<std::unique_ptr<RowCollector>> tables;  // by plan index; null: no rows
  // A column's text values and their rows, sorted (a row whose cell is not text is not in it).
  using TextIndex = std::vector<std::pair<std::string_view, uint32_t>>;
  std::vector<std::vector<std::unique_ptr<TextIndex>>> indexes;  // [table][column]
  std::unordered_map<const json*, std::string> json_text;

  void Clear() {
    tables.clear();
    tables.resize(TablePlans().size());
    indexes.clear();
    indexes.resize(TablePlans().size());
    json_text.clear();
    materialized.clear();
    snapshot.reset();
  }
  size_t RowCount(size_t t) const {
    return tables[t] ? tables[t]->cells().size() / tables[t]->width() : 0;
  }
  const CellValue& Cell(size_t t, size_t row, size_t column) const {
    return tables[t]->cells()[row * tables[t]->width() + column];
  }
  const TextIndex& IndexOf(size_t t, size_t column) {
    auto& per_table = indexes[t];
    if (per_table.size() <= column) per_table.resize(column + 1);
    if (!per_table[column]) {
      auto index = std::make_unique<TextIndex>();
      size_t n = RowCount(t);
      index->reserve(n);
      for (size_t r = 0; r < n; ++r) {
        const CellValue& v = Cell(t, r, column);
        if (v.kind() == CellValue::Kind::kText) {
          index->emplace_back(v.text(), static_cast<uint32_t>(r));
        } else if (v.kind() == CellValue::Kind::kJson && v.json().is_string()) {
          index->emplace_back(v.json().get_ref<const std::string&>(), static_cast<uint32_t>(r));
        }
      }
      std::sort(index->begin(), index->end());  // equal texts in row order
      per_table[column] = std::move(index);
    }
    return *per_table[column];
  }
};

struct FactVtab {
  sqlite3_vtab base{};
  LoadedRows* rows = nullptr;
  size_t table = 0;  // plan index
};
struct FactCursor {
  sqlite3_vtab_cursor base{};
  size_t table = 0;
  // Every row (at counts rows), or the rows of an index range (at counts entries).
  const LoadedRows::TextIndex::value_type* found = nullptr;
  size_t at = 0;
  size_t end = 0;
  size_t Row() const { return found != nullptr ? found[at].second : at; }
};

// xCreate and xConnect: argv[3] is the table's plan index (FactDb::Open names it).
int FactConnect(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
                char** /*err*/) {
  if (argc != 4) return SQLITE_ERROR;
  char* end = nullptr;
  size_t table = static_cast<size_t>(std::strtoul(argv[3], &end, 10));
  if (end == argv[3] || *end != '\0' || table >= TablePlans().size()) return SQLITE_ERROR;
  if (int rc = sqlite3_declare_vtab(db, TablePlans()[table].declaration.c_str()); rc != SQLITE_OK) {
    return rc;
  }
  // Only in statements, never inside a view or trigger (none can be made: the authorizer).
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  auto* vtab = new FactVtab;
  vtab->rows = static_cast<LoadedRows*>(aux);
  vtab->table = table;
  *out = &vtab->base;
  return SQLITE_OK;
}

int FactDisconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<FactVtab*>(vtab);
  return SQLITE_OK;
}

// Returns true when column `column` of plan `table` holds text (TablePlan::text_columns).
bool IsTextColumn(size_t table, int column) {
  const std::vector<bool>& text = TablePlans()[table].text_columns;
  return column >= 0 && static_cast<size_t>(column) < text.size() && text[column];
}

// A text column compared with `=` (binary collation; `IN` is several `=`) is looked up in its
// index; anything else is a scan. SQLite checks every constraint again on the rows given (omit
// stays 0), so a look-up only has to give every row that may match. The costs are fixed (a
// prepared query is kept for the next snapshots): a look-up is cheaper than a scan.
int FactBestIndex(sqlite3_vtab* vtab, sqlite3_index_info* info) {
  size_t table = reinterpret_cast<FactVtab*>(vtab)->table;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (!c.usable || c.op != SQLITE_INDEX_CONSTRAINT_EQ || !IsTextColumn(table, c.iColumn)) {
      continue;
    }
    const char* collation = sqlite3_vtab_collation(info, i);
    if (collation != nullptr && sqlite3_stricmp(collation, "BINARY") != 0) continue;
    info->aConstraintUsage[i].argvIndex = 1;
    info->aConstraintUsage[i].omit = 0;
    info->idxNum = c.iColumn + 1;
    info->estimatedCost = 10;
    info->estimatedRows = 10;
    return SQLITE_OK;
  }
  info->idxNum = 0;
  info->estimatedCost = 1000;
  info->estimatedRows = 1000;
  return SQLITE_OK;
}

int FactOpen(sqlite3_vtab* vtab, sqlite3_vtab_cursor** out) {
  auto* cursor = new FactCursor;
  cursor->table = reinterpret_cast<FactVtab*>(vtab)->table;
  *out = &cursor->base;
  return SQLITE_OK;
}

int FactClose(sqlite3_vtab_cursor* cursor) {
  delete reinterpret_cast<FactCursor*>(cursor);
  return SQLITE_OK;
}

int FactFilter(sqlite3_vtab_cursor* base, int idx_num, const char* /*idx_str*/, int argc,
               sqlite3_value** argv) {
  auto* cursor = reinterpret_cast<FactCursor*>(base);
  LoadedRows& rows = *reinterpret_cast<FactVtab*>(base->pVtab)->rows;
  cursor->at = 0;
  cursor->found = nullptr;
  cursor->end = rows.RowCount(cursor->table);
  // A look-up by a text value; any other value (`name = 5`) scans, and SQLite compares.
  if (idx_num > 0 && argc == 1 && cursor->end > 0 && sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    std::string_view key(text != nullptr ? text : "",
                         static_cast<size_t>(sqlite3_value_bytes(argv[0])));
    const LoadedRows::TextIndex& index =
        rows.IndexOf(cursor->table, static_cast<size_t>(idx_num - 1));
    auto first = std::lower_bound(index.begin(), index.end(), key,
                                  [](const auto& e, std::string_view k) { return e.first < k; });
    auto last = std::upper_bound(first, index.end(), key,
                                 [](std::string_view k, const auto& e) { return k < e.first; });
    cursor->found = index.data() + (first - index.begin());
    cursor->end = static_cast<size_t>(last - first);
  }
  return SQLITE_OK;
}

int FactNext(sqlite3_vtab_cursor* base) {
  ++reinterpret_cast<FactCursor*>(base)->at;
  return SQLITE_OK;
}

int FactEof(sqlite3_vtab_cursor* base) {
  auto* cursor = reinterpret_cast<FactCursor*>(base);
  return cursor->at >= cursor->end ? 1 : 0;
}

int FactColumn(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int column) {
  auto* cursor = reinterpret_cast<FactCursor*>(base);
  LoadedRows& rows = *reinterpret_cast<FactVtab*>(base->pVtab)->rows;
  const CellValue& cell = rows.Cell(cursor->table, cursor->Row(), static_cast<size_t>(column));
  // A list cell's text is written at its first read and kept until the next Load.
  SqlValue v = ToSql(cell, [&](const json& j) -> std::string_view {
    auto [it, added] = rows.json_text.try_emplace(&j);
    if (added) it->second = JsonText(j);
    return it->second;
  });
  switch (v.type) {
    case SqlValue::Type::kNull:
      sqlite3_result_null(ctx);
      break;
    case SqlValue::Type::kInteger:
      sqlite3_result_int64(ctx, v.integer);
      break;
    case SqlValue::Type::kReal:
      sqlite3_result_double(ctx, v.real);
      break;
    case SqlValue::Type::kText:
      sqlite3_result_text64(ctx, v.text.data(), v.text.size(), SQLITE_STATIC, SQLITE_UTF8);
      break;
  }
  return SQLITE_OK;
}

int FactRowid(sqlite3_vtab_cursor* base, sqlite3_int64* rowid) {
  // 1, 2, ... as a table's own rowids.
  *rowid = static_cast<sqlite3_int64>(reinterpret_cast<FactCursor*>(base)->Row()) + 1;
  return SQLITE_OK;
}

// Never reached: the authorizer refuses every write when a statement is prepared. Without an
// xUpdate SQLite would refuse a write to a fact table before asking the authorizer, with a
// message that does not say that only a SELECT is allowed.
int FactUpdate(sqlite3_vtab* /*vtab*/, int /*argc*/, sqlite3_value** /*argv*/,
               sqlite3_int64* /*rowid*/) {
  return SQLITE_READONLY;
}

const sqlite3_module kFactModule = {
    0,               // iVersion
    FactConnect,     // xCreate
    FactConnect,     // xConnect
    FactBestIndex,   // xBestIndex
    FactDisconnect,  // xDisconnect
    FactDisconnect,  // xDestroy
    FactOpen,        // xOpen
    FactClose,       // xClose
    FactFilter,      // xFilter
    FactNext,        // xNext
    FactEof,         // xEof
    FactColumn,      // xColumn
    FactRowid,       // xRowid
    FactUpdate,      // xUpdate
    nullptr,         // xBegin
    nullptr,         // xSync
    nullptr,         // xCommit
    nullptr,         // xRollback
    nullptr,         // xFindFunction
    nullptr,         // xRename
    nullptr,         // xSavepoint
    nullptr,         // xRelease
    nullptr,         // xRollbackTo
    nullptr,         // xShadowName
};

// The authorizer's view of one Query call.
struct QueryContext {
  std::set<std::string> tables_read;
  std::string refused;            // what the authorizer refused, for the error message
  bool refused_internal = false;  // ... on SQLite's own schema table
  uint64_t steps = 0;
  uint64_t max_steps = 0;
  std::chrono::steady_clock::time_point deadline;
  bool stopped_by_steps = false;
  bool stopped_by_time = false;
  // A facts file (FactDb::OpenFacts): its tables are read only through the fact views.
  bool views_only = false;
};

constexpr int kProgressEvery = 1000;

bool IsQueryableTable(std::string_view name) {
  static const std::set<std::string, std::less<>> names = [] {
    std::set<std::string, std::less<>> out;
    for (const auto& [table, columns] : QueryableTables()) out.insert(table);
    return out;
  }();
  return names.count(name) != 0;
}

// A table of a facts file's own layout (facts_file.cpp): "f_" + a fact table, and its
// bookkeeping.
bool IsStoredFactsTable(std::string_view name) {
  if (name == "facts_layout" || name == "states" || name == "current_state") return true;
  return name.substr(0, 2) == "f_" && IsQueryableTable(name.substr(2));
}

int Authorize(void* user, int action, const char* a1, const char* a2, const char* db,
              const char* view) {
  auto* ctx = static_cast<QueryContext*>(user);
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_READ:
      // A read for no column (`SELECT count(*) FROM t`, `EXISTS (SELECT 1 FROM cte)`) comes
      // without its database and may name a table, a CTE or a subquery: never a facts file's
      // stored table, attached or opened (every host's rows). A CTE of such a name is refused
      // too.
      if (db == nullptr) {
        if (a1 == nullptr) return SQLITE_OK;
        if (IsStoredFactsTable(a1)) break;
        if (IsQueryableTable(a1)) ctx->tables_read.insert(a1);
        return SQLITE_OK;
      }
      // Only this database's own tables: never an attached facts file (other hosts' facts).
      if (std::strcmp(db, "main") != 0 && std::strcmp(db, "temp") != 0) break;
      // In a facts file, the stored tables (every host's rows) only through the views; the
      // JSON table-valued functions read no table.
      if (ctx->views_only && view == nullptr && std::strcmp(db, "main") == 0 &&
          (a1 == nullptr ||
           (std::strcmp(a1, "json_each") != 0 && std::strcmp(a1, "json_tree") != 0))) {
        break;
      }
      if (a1 != nullptr) ctx->tables_read.insert(a1);
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      // Extensions cannot be loaded (disabled on the connection); refuse the function anyway.
      if (a2 != nullptr && std::strcmp(a2, "load_extension") == 0) break;
      return SQLITE_OK;
    default:
      break;
  }
  static const char* const kNames[] = {"copy",
                                       "create index",
                                       "create table",
                                       "create temp index",
                                       "create temp table",
                                       "create temp trigger",
                                       "create temp view",
                                       "create trigger",
                                       "create view",
                                       "delete",
                                       "drop index",
                                       "drop table",
                                       "drop temp index",
                                       "drop temp table",
                                       "drop temp trigger",
                                       "drop temp view",
                                       "drop trigger",
                                       "drop view",
                                       "insert",
                                       "pragma",
                                       "read",
                                       "select",
                                       "transaction",
                                       "update",
                                       "attach",
                                       "detach",
                                       "alter table",
                                       "reindex",
                                       "analyze",
                                       "create vtable",
                                       "drop vtable",
                                       "function",
                                       "savepoint",
                                       "recursive"};
  // One name per action code, in SQLite's order (SQLITE_COPY 0 ... SQLITE_RECURSIVE 33).
  static_assert(std::size(kNames) == SQLITE_RECURSIVE + 1);
  std::string what = action >= 0 && action < static_cast<int>(std::size(kNames))
                         ? kNames[action]
                         : "action " + std::to_string(action);
  if (action == SQLITE_FUNCTION && a2 != nullptr) what += std::string(" ") + a2;
  if (action == SQLITE_PRAGMA && a1 != nullptr) what += std::string(" ") + a1;
  // DROP TABLE first deletes from sqlite_master: name the statement's own action, not that.
  bool internal = a1 != nullptr && std::strncmp(a1, "sqlite_", 7) == 0;
  if (ctx->refused.empty() || (ctx->refused_internal && !internal)) {
    ctx->refused = what;
    ctx->refused_internal = internal;
  }
  return SQLITE_DENY;
}

int Progress(void* user) {
  auto* ctx = static_cast<QueryContext*>(user);
  ctx->steps += kProgressEvery;
  if (ctx->steps > ctx->max_steps) {
    ctx->stopped_by_steps = true;
    return 1;
  }
  if ((ctx->steps / kProgressEvery) % 64 == 0 && std::chrono::steady_clock::now() > ctx->deadline) {
    ctx->stopped_by_time = true;
    return 1;
  }
  return 0;
}

// Returns true when `text` holds only blanks and SQL comments.
bool OnlyCommentsAndBlanks(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == ';') {
      ++i;
    } else if (text.substr(i, 2) == "--") {
      size_t nl = text.find('\n', i);
      i = nl == std::string_view::npos ? text.size() : nl + 1;
    } else if (text.substr(i, 2) == "/*") {
      size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

struct FactDb::Loaded : LoadedRows {};

bool SectionComplete(std::string_view status) {
  return status == "ok" || status == "not_applicable";
}

void FactDb::StmtDeleter::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

FactDb::FactDb(sqlite3* db) : db_(db), loaded_(std::make_unique<Loaded>()) { loaded_->Clear(); }

FactDb::~FactDb() {
  query_cache_.clear();  // statements first, then the connection
  internal_.clear();
  sqlite3_close_v2(db_);
}

sqlite3_stmt* FactDb::Internal(const std::string& sql) const {
  auto it = internal_.find(sql);
  if (it == internal_.end()) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) return nullptr;
    it = internal_.emplace(sql, PreparedStmt(raw)).first;
  }
  sqlite3_reset(it->second.get());
  sqlite3_clear_bindings(it->second.get());
  return it->second.get();
}

Status FactDb::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return {StatusCode::kInternal, "fact database: " + message};
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<FactDb>> FactDb::Open() {
  sqlite3* raw = nullptr;
  // NOMUTEX: one thread at a time per FactDb (fact_db.h), so SQLite's locking of the connection
  // at every call is only cost.
  int rc = sqlite3_open_v2(
      ":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<FactDb> db(new FactDb(raw));  // closes `raw` also when opening failed
  if (rc != SQLITE_OK) return Status{StatusCode::kInternal, "cannot open the fact database"};
  sqlite3_db_config(raw, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_limit(raw, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(raw, SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024);
  if (sqlite3_create_module(raw, "tidemark_fact", &kFactModule,
                            static_cast<LoadedRows*>(db->loaded_.get())) != SQLITE_OK) {
    return Status{StatusCode::kInternal, "cannot register the fact tables' module"};
  }
  std::string ddl;
  const std::vector<TablePlan>& plans = TablePlans();
  for (size_t p = 0; p < plans.size(); ++p) {
    ddl += "CREATE VIRTUAL TABLE " + QuoteIdentifier(plans[p].table->name) +
           " USING tidemark_fact(" + std::to_string(p) + ");";
  }
  // `sections` and `host`, a few rows: SQLite's own tables.
  for (const auto& [table, columns] : QueryableTables()) {
    if (FindTable(table) != nullptr) continue;
    ddl += "CREATE TABLE " + QuoteIdentifier(table) + "(";
    for (size_t i = 0; i < columns.size(); ++i) {
      ddl += (i == 0 ? "" : ", ") + QuoteIdentifier(columns[i].first) + " " + columns[i].second;
    }
    ddl += ");";
  }
  if (Status s = db->Exec(ddl); !s.ok()) return s;
  // The first use of an eponymous virtual table (json_each, json_tree) on a connection touches
  // the schema, which the query authorizer would refuse: use them once here.
  if (Status s = db->Exec("SELECT * FROM json_each('[]'), json_tree('[]')"); !s.ok()) return s;
  return db;
}

Status FactDb::Load(const Snapshot& snapshot) {
  return Load(std::make_shared<const Snapshot>(snapshot));
}

Status FactDb::Load(const Snapshot& snapshot, std::string content_hash) {
  return Load(std::make_shared<const Snapshot>(snapshot), std::move(content_hash));
}

Status FactDb::Load(std::shared_ptr<const Snapshot> snapshot) {
  if (snapshot == nullptr) return {StatusCode::kInvalidArgument, "no snapshot to load"};
  std::string hash = ContentHash(*snapshot);
  return Load(std::move(snapshot), std::move(hash));
}

Status FactDb::Load(std::shared_ptr<const Snapshot> kept, std::string content_hash) {
  if (kept == nullptr) return {StatusCode::kInvalidArgument, "no snapshot to load"};
  section_status_.clear();
  sources_.clear();
  loaded_->Clear();  // no statement runs between queries: none reads the rows let go here
  if (Status s = Exec("BEGIN"); !s.ok()) return s;
  loaded_->snapshot = std::move(kept);
  const Snapshot& snapshot = *loaded_->snapshot;
  Status status = Exec("DELETE FROM sections; DELETE FROM host;");

  auto failed = [&] {
    return Status{StatusCode::kInternal, std::string("fact database: ") + sqlite3_errmsg(db_)};
  };
  // Runs `stmt` once with `cells` bound in order, and leaves it reset.
  auto insert = [&](sqlite3_stmt* stmt, const CellValue* cells, size_t n) -> Status {
    if (stmt == nullptr) return failed();
    for (size_t i = 0; i < n; ++i) {
      if (Status s = Bind(stmt, static_cast<int>(i + 1), cells[i]); !s.ok()) return s;
    }
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? Status::Ok() : failed();
  };
  auto insert_values = [&](const std::string& sql, const std::vector<json>& values) {
    std::vector<CellValue> cells(values.begin(), values.end());
    return insert(Internal(sql), cells.data(), cells.size());
  };

  if (status.ok()) {
    content_hash_ = std::move(content_hash);
    status = insert_values("INSERT INTO host VALUES (?,?,?,?,?,?)",
                           {snapshot.host.id, snapshot.host.hostname, snapshot.host.root,
                            snapshot.collected_at, snapshot.agent_version, content_hash_});
  }
  const std::vector<TablePlan>& plans = TablePlans();
  for (const auto& [name, collected] : snapshot.sections) {
    if (!status.ok()) break;
    // A section straight from the section readers keeps its large arrays as text (Section::items);
    // a decoded one has them in `data`. Read both the same way.
    const Section* source = &collected;
    if (!collected.items.empty()) {
      Section& read = loaded_->materialized.emplace_back(collected);
      read.Materialize();
      source = &read;
    }
    const Section& section = *source;
    std::string section_status(SectionStatusName(section.status));
    // Plan index and rows; on the heap, as the cells point into the collector's own items.
    std::vector<std::pair<size_t, std::unique_ptr<RowCollector>>> tables;
    bool shape_ok = true;
    for (size_t p = 0; p < plans.size(); ++p) {
      const Table& t = *plans[p].table;
      if (t.section != name) continue;
      auto collector = std::make_unique<RowCollector>(plans[p]);
      RowCollector& rows = *collector;
      if (t.rows) {
        if (!t.rows(section.data, rows).ok()) shape_ok = false;
      } else {
        const json* items = nullptr;
        if (section.data.is_object()) {
          auto it = section.data.find(std::string_view(t.items).substr(1));
          if (it != section.data.end()) items = &*it;
        }
        if (items != nullptr && items->is_array()) {
          for (const json& item : *items) rows.AddBorrowed(item);
        } else if (items != nullptr && !items->is_null()) {
          shape_ok = false;
        }
      }
      if (rows.shape_errors() > 0) shape_ok = false;
      tables.emplace_back(p, std::move(collector));
    }
    if (!shape_ok) section_status = "unknown_shape";
    section_status_[name] = section_status;
    status = insert_values("INSERT INTO sections VALUES (?,?,?)",
                           {name, section_status, static_cast<int64_t>(section.errors.size())});
    if (!shape_ok) continue;
    for (auto& [p, rows] : tables) loaded_->tables[p] = std::move(rows);
  }
  if (!status.ok()) {
    Exec("ROLLBACK");
    loaded_->Clear();
    section_status_.clear();
    content_hash_.clear();
    return status;
  }
  return Exec("COMMIT");
}

void FactDb::Unload() {
  section_status_.clear();
  sources_.clear();
  loaded_->Clear();
  content_hash_.clear();
  (void)Exec("DELETE FROM sections; DELETE FROM host;");
}

// Prepares `sql` under the authorizer in `ctx` (which must stay installed while it runs):
// exactly one read-only statement, or kInvalidArgument naming what is wrong.
StatusOr<FactDb::PreparedStmt> FactDb::PrepareChecked(std::string_view sql,
                                                      void* authorizer_context) const {
  auto& ctx = *static_cast<QueryContext*>(authorizer_context);
  sqlite3_set_authorizer(db_, Authorize, &ctx);
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &raw, &tail);
  PreparedStmt stmt(raw);
  if (rc != SQLITE_OK) {
    if (!ctx.refused.empty()) {
      // DROP and CREATE are refused at their first write to SQLite's schema table: name the
      // statement by its first word then.
      std::string what = ctx.refused;
      if (ctx.refused_internal) {
        size_t b = sql.find_first_not_of(" \t\r\n");
        size_t e = b == std::string_view::npos ? b : sql.find_first_of(" \t\r\n(;", b);
        what = b == std::string_view::npos
                   ? what
                   : "a " + std::string(sql.substr(b, e - b)) + " statement";
      }
      return Status{StatusCode::kInvalidArgument, "not allowed in a query: " + what +
                                                      " (only a single SELECT over the "
                                                      "fact tables is)"};
    }
    return Status{StatusCode::kInvalidArgument, std::string("SQL error: ") + sqlite3_errmsg(db_)};
  }
  if (raw == nullptr) return Status{StatusCode::kInvalidArgument, "the query holds no statement"};
  size_t used = static_cast<size_t>(tail - sql.data());
  if (!OnlyCommentsAndBlanks(sql.substr(used))) {
    return Status{StatusCode::kInvalidArgument,
                  "the query holds more than one statement (only a single SELECT is allowed)"};
  }
  if (!sqlite3_stmt_readonly(raw)) {
    return Status{StatusCode::kInvalidArgument, "the query is not read-only"};
  }
  return stmt;
}

const FactDb::SourceIndex* FactDb::SourcesOf(const std::string& table) const {
  if (auto it = sources_.find(table); it != sources_.end()) return &it->second;
  sqlite3_stmt* raw =
      Internal("SELECT id, source_file, source_line FROM " + QuoteIdentifier(table) +
               " WHERE id IS NOT NULL AND source_file IS NOT NULL");
  if (raw == nullptr) return nullptr;
  struct ResetStmt {
    sqlite3_stmt* s;
    ~ResetStmt() { sqlite3_reset(s); }
  } reset{raw};
  SourceIndex index;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    auto text = [&](int column) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(raw, column)),
                         static_cast<size_t>(sqlite3_column_bytes(raw, column)));
    };
    std::optional<int64_t> line;
    if (sqlite3_column_type(raw, 2) == SQLITE_INTEGER) line = sqlite3_column_int64(raw, 2);
    index.try_emplace(text(0), text(1), line);  // the first row of an id wins
  }
  if (rc != SQLITE_DONE) return nullptr;
  return &sources_.emplace(table, std::move(index)).first->second;
}

std::optional<std::pair<std::string, std::optional<int64_t>>> FactDb::SourceOf(
    const std::set<std::string>& tables, const std::string& id) const {
  for (const std::string& t : tables) {
    if (FindTable(t) == nullptr) continue;  // only fact tables have sources
    const SourceIndex* index = SourcesOf(t);
    if (index == nullptr) continue;
    if (auto it = index->find(id); it != index->end()) return it->second;
  }
  return std::nullopt;
}

StatusOr<std::vector<std::string>> FactDb::CheckQuery(std::string_view sql) const {
  QueryContext ctx;
  ctx.views_only = views_only_;
  struct Reset {
    sqlite3* db;
    ~Reset() { sqlite3_set_authorizer(db, nullptr, nullptr); }
  } reset{db_};
  StatusOr<PreparedStmt> stmt = PrepareChecked(sql, &ctx);
  if (!stmt.ok()) return stmt.status();
  std::vector<std::string> params;
  int n = sqlite3_bind_parameter_count(stmt->get());
  for (int i = 1; i <= n; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt->get(), i);
    if (name == nullptr || name[0] != ':') {
      return Status{StatusCode::kInvalidArgument,
                    "parameters must be named :name (rule variables), not ? or $name"};
    }
    params.emplace_back(name + 1);
  }
  return params;
}

StatusOr<QueryResult> FactDb::Query(std::string_view sql, const QueryLimits& limits) const {
  return Query(sql, {}, limits);
}

StatusOr<QueryResult> FactDb::Query(std::string_view sql, const QueryParams& params,
                                    const QueryLimits& limits) const {
  QueryContext ctx;
  ctx.views_only = views_only_;
  ctx.max_steps = limits.max_steps;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits.max_millis);
  struct Reset {
    sqlite3* db;
    ~Reset() {
      sqlite3_set_authorizer(db, nullptr, nullptr);
      sqlite3_progress_handler(db, 0, nullptr, nullptr);
    }
  } reset{db_};
  // A statement is prepared once per SQL text and kept (the schema never changes after Open):
  // a rule's query is prepared on the first snapshot and only reset on the next ones.
  auto cached = query_cache_.find(sql);
  if (cached == query_cache_.end()) {
    StatusOr<PreparedStmt> stmt = PrepareChecked(sql, &ctx);
    if (!stmt.ok()) return stmt.status();
    if (query_cache_.size() >= kMaxCachedQueries) query_cache_.clear();
    CachedQuery entry{std::move(*stmt), {}};
    for (const std::string& t : ctx.tables_read) {
      if (FindTable(t) != nullptr || t == kSectionsTable || t == kHostTable) {
        entry.tables_read.insert(t);
      }
    }
    cached = query_cache_.emplace(std::string(sql), std::move(entry)).first;
  }
  sqlite3_stmt* raw = cached->second.stmt.get();
  sqlite3_reset(raw);
  sqlite3_clear_bindings(raw);
  struct ResetStmt {
    sqlite3_stmt* s;
    ~ResetStmt() { sqlite3_reset(s); }  // no read left open between queries
  } reset_stmt{raw};
  int nparams = sqlite3_bind_parameter_count(raw);
  for (int i = 1; i <= nparams; ++i) {
    const char* name = sqlite3_bind_parameter_name(raw, i);
    auto it = name != nullptr && name[0] == ':' ? params.find(name + 1) : params.end();
    if (it == params.end()) {
      return Status{StatusCode::kInvalidArgument,
                    std::string("no value for the parameter ") + (name != nullptr ? name : "?")};
    }
    if (Status s = Bind(raw, i, it->second); !s.ok()) return s;
  }
  int rc = SQLITE_OK;

  QueryResult result;
  int ncol = sqlite3_column_count(raw);
  for (int i = 0; i < ncol; ++i) {
    const char* n = sqlite3_column_name(raw, i);
    result.columns.emplace_back(n != nullptr ? n : "");
  }
  sqlite3_progress_handler(db_, kProgressEvery, Progress, &ctx);
  for (;;) {
    rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      if (ctx.stopped_by_steps) {
        return Status{StatusCode::kTooLarge,
                      "query stopped: more than " + std::to_string(limits.max_steps) + " steps"};
      }
      if (ctx.stopped_by_time) {
        return Status{StatusCode::kTooLarge, "query stopped: ran longer than " +
                                                 std::to_string(limits.max_millis) + " ms"};
      }
      return Status{StatusCode::kInvalidArgument, std::string("SQL error: ") + sqlite3_errmsg(db_)};
    }
    if (result.rows.size() >= limits.max_rows) {
      return Status{StatusCode::kTooLarge,
                    "query stopped: more than " + std::to_string(limits.max_rows) + " rows"};
    }
    std::vector<json> row;
    row.reserve(static_cast<size_t>(ncol));
    for (int i = 0; i < ncol; ++i) {
      switch (sqlite3_column_type(raw, i)) {
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(raw, i)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(raw, i));
          break;
        case SQLITE_NULL:
          row.emplace_back(nullptr);
          break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, i));
          int len = sqlite3_column_bytes(raw, i);
          row.emplace_back(std::string(text != nullptr ? text : "", static_cast<size_t>(len)));
        }
      }
    }
    result.rows.push_back(std::move(row));
  }
  result.tables_read = cached->second.tables_read;
  return result;
}

}  // namespace tidemark::policy
