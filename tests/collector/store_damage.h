// Damage for store tests: overwrites one b-tree root page of a real SQLite store file, the way a
// failing disk or a stray write would, so the store meets SQLITE_CORRUPT on its next access to
// that table or index (and not before: the header and schema pages stay intact).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <string>

namespace tidemark::testing {

// Checkpoints the WAL into `path`, then fills the root page of `table_or_index` (a name from
// sqlite_master, e.g. "sqlite_autoindex_snapshots_1") with junk. REQUIRES: no other connection.
inline void SmashRootPage(const std::string& path, const std::string& table_or_index) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string sql =
      "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master "
      "WHERE name = '" +
      table_or_index + "'";
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW) << table_or_index;
  int64_t root = sqlite3_column_int64(st, 0);
  int64_t page_size = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  ASSERT_GT(root, 1);
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fseek(f, static_cast<long>((root - 1) * page_size), SEEK_SET), 0);
  std::string junk(static_cast<size_t>(page_size), '\xa5');
  ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
  std::fclose(f);
}

// Checkpoints the WAL into `path`, then fills page 1 after its 100-byte file header (the root of
// sqlite_master, the schema) with junk: the file still looks like a SQLite database, but no
// statement can be prepared on it. REQUIRES: no other connection.
inline void SmashSchemaPage(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t page_size = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  ASSERT_GT(page_size, 100);
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fseek(f, 100, SEEK_SET), 0);
  std::string junk(static_cast<size_t>(page_size - 100), '\xa5');
  ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
  std::fclose(f);
}

}  // namespace tidemark::testing
