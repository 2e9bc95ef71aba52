#include "common/policy/fact_db.h"

#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <set>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

// What Load needs of a table's definition, worked out once: each column's path split into its
// keys, and the INSERT statement's text.
struct ColumnPlan {
  std::vector<std::string> keys;  // the column's JSON pointer, "/a/b" -> {"a", "b"}
  ColumnType type;
  const json* compact_default;  // the value a missing key stands for (null: none)
};
struct TablePlan {
  const Table* table;
  json default_source_file;  // null when items name their file
  std::vector<ColumnPlan> columns;
  std::string insert_sql;
};

// One plan per fact table, in FactTables() order. Immutable once built; shared by every FactDb.
const std::vector<TablePlan>& TablePlans() {
  static const std::vector<TablePlan> plans = [] {
    std::vector<TablePlan> out;
    for (const Table& t : FactTables()) {
      TablePlan plan{&t,
                     t.default_source_file.empty() ? json() : json(t.default_source_file),
                     {},
                     "INSERT INTO " + QuoteIdentifier(t.name) + " VALUES (?,?,?"};
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
        plan.insert_sql += ",?";
      }
      plan.insert_sql += ")";
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
  size_t width() const { return 3 + plan_.columns.size(); }
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

// Binds `v` to parameter `index` of `stmt`. A string is bound in place (SQLITE_STATIC): `v`
// must outlive the statement's next step.
Status Bind(sqlite3_stmt* stmt, int index, const json& v) {
  int rc = SQLITE_OK;
  if (v.is_null()) {
    rc = sqlite3_bind_null(stmt, index);
  } else if (v.is_boolean()) {
    rc = sqlite3_bind_int(stmt, index, v.get<bool>() ? 1 : 0);
  } else if (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX) {
    rc = sqlite3_bind_double(stmt, index, v.get<double>());
  } else if (v.is_number_integer()) {
    rc = sqlite3_bind_int64(stmt, index, v.get<int64_t>());
  } else if (v.is_number()) {
    rc = sqlite3_bind_double(stmt, index, v.get<double>());
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
  } else if (v.empty()) {  // most list columns of most rows: no text to write
    static constexpr std::string_view kEmptyArray = "[]";
    static constexpr std::string_view kEmptyObject = "{}";
    std::string_view s = v.is_array() ? kEmptyArray : kEmptyObject;
    rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
  } else {
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  if (rc != SQLITE_OK) return {StatusCode::kInternal, "sqlite bind failed"};
  return Status::Ok();
}

// The same for a cell: text is bound in place too.
Status Bind(sqlite3_stmt* stmt, int index, const CellValue& v) {
  int rc = SQLITE_OK;
  switch (v.kind()) {
    case CellValue::Kind::kNull:
      rc = sqlite3_bind_null(stmt, index);
      break;
    case CellValue::Kind::kJson:
      return Bind(stmt, index, v.json());
    case CellValue::Kind::kText:
      rc = sqlite3_bind_text64(stmt, index, v.text().data(), v.text().size(), SQLITE_STATIC,
                               SQLITE_UTF8);
      break;
    case CellValue::Kind::kInteger:
    case CellValue::Kind::kBoolean:
      rc = sqlite3_bind_int64(stmt, index, v.integer());
      break;
  }
  if (rc != SQLITE_OK) return {StatusCode::kInternal, "sqlite bind failed"};
  return Status::Ok();
}

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

bool SectionComplete(std::string_view status) {
  return status == "ok" || status == "not_applicable";
}

void FactDb::StmtDeleter::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

FactDb::FactDb(sqlite3* db) : db_(db) {}

FactDb::~FactDb() {
  query_cache_.clear();  // statements first, then the connection
  internal_.clear();
  inserts_.clear();
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
  std::string ddl;
  for (const auto& [table, columns] : QueryableTables()) {
    ddl += "CREATE TABLE " + QuoteIdentifier(table) + "(";
    for (size_t i = 0; i < columns.size(); ++i) {
      ddl += (i == 0 ? "" : ", ") + QuoteIdentifier(columns[i].first) + " " + columns[i].second;
    }
    ddl += ");";
  }
  for (const Table& t : FactTables()) {
    for (const std::string& column : t.indexed) {
      ddl += "CREATE INDEX " + QuoteIdentifier(t.name + "_by_" + column) + " ON " +
             QuoteIdentifier(t.name) + "(" + QuoteIdentifier(column) + ");";
    }
  }
  if (Status s = db->Exec(ddl); !s.ok()) return s;
  // The first use of an eponymous virtual table (json_each, json_tree) on a connection touches
  // the schema, which the query authorizer would refuse: use them once here.
  if (Status s = db->Exec("SELECT * FROM json_each('[]'), json_tree('[]')"); !s.ok()) return s;
  return db;
}

Status FactDb::Load(const Snapshot& snapshot) { return Load(snapshot, ContentHash(snapshot)); }

Status FactDb::Load(const Snapshot& snapshot, std::string content_hash) {
  section_status_.clear();
  sources_.clear();
  if (Status s = Exec("BEGIN"); !s.ok()) return s;
  std::string clear = "DELETE FROM sections; DELETE FROM host;";
  for (const Table& t : FactTables()) clear += "DELETE FROM " + QuoteIdentifier(t.name) + ";";
  Status status = Exec(clear);

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
    std::optional<Section> materialized;
    if (!collected.items.empty()) {
      materialized = collected;
      materialized->Materialize();
    }
    const Section& section = materialized ? *materialized : collected;
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
    for (const auto& [p, rows] : tables) {
      if (!status.ok()) break;
      sqlite3_stmt* stmt = Insert(p);
      const std::vector<CellValue>& cells = rows->cells();
      for (size_t at = 0; at < cells.size() && status.ok(); at += rows->width()) {
        status = insert(stmt, &cells[at], rows->width());
      }
      // The strings were bound in place: no statement may keep pointers into this section.
      if (stmt != nullptr) sqlite3_clear_bindings(stmt);
    }
  }
  if (!status.ok()) {
    Exec("ROLLBACK");
    section_status_.clear();
    content_hash_.clear();
    return status;
  }
  return Exec("COMMIT");
}

sqlite3_stmt* FactDb::Insert(size_t table) const {
  if (inserts_.empty()) inserts_.resize(TablePlans().size());
  PreparedStmt& stmt = inserts_[table];
  if (!stmt) {
    sqlite3_stmt* raw = nullptr;
    const std::string& sql = TablePlans()[table].insert_sql;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) return nullptr;
    stmt.reset(raw);
  }
  return stmt.get();
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
