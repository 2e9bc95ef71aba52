// Damage for store tests: overwrites one b-tree root page of a real SQLite store file, the way a
// failing disk or a stray write would, so the store meets SQLITE_CORRUPT on its next access to
// that table or index (and not before: the header and schema pages stay intact).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <string>

namespace tidemark::testing {

// Checkpoints the WAL into `path`, reads the page number and the page size that `sql` selects,
// then fills that page with junk from its byte `skip` on. REQUIRES: no other connection.
inline void FillPageWithJunk(const std::string& path, const std::string& sql, int64_t skip) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW) << sql;
  int64_t page = sqlite3_column_int64(st, 0);
  int64_t page_size = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  ASSERT_GE(page, 1);
  ASSERT_TRUE(page > 1 || skip >= 100) << "the 100-byte file header stays";
  ASSERT_LT(skip, page_size);
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fseek(f, static_cast<long>((page - 1) * page_size + skip), SEEK_SET), 0);
  std::string junk(static_cast<size_t>(page_size - skip), '\xa5');
  ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
  std::fclose(f);
}

// Fills the root page of `table_or_index` (a name from sqlite_master, e.g.
// "sqlite_autoindex_snapshots_1") with junk.
inline void SmashRootPage(const std::string& path, const std::string& table_or_index) {
  FillPageWithJunk(path,
                   "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master "
                   "WHERE name = '" +
                       table_or_index + "'",
                   0);
}

// Fills page 1 after its 100-byte file header (the root of sqlite_master, the schema) with junk:
// the file still looks like a SQLite database, but no statement can be prepared on it.
inline void SmashSchemaPage(const std::string& path) {
  FillPageWithJunk(path, "SELECT 1, page_size FROM pragma_page_size", 100);
}

}  // namespace tidemark::testing
