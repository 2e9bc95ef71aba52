// The facts file (FactDb::AttachFacts / SaveFacts / OpenFacts): each host's latest judged state
// as SQL tables on disk, read back through views one state at a time with the same gate as any
// query; a file of another table layout is never read; rules never see an attached file.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "common/policy/fact_db.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

using json = nlohmann::json;

Snapshot Users(const std::string& host, const std::vector<std::string>& names) {
  Snapshot s;
  s.host = {host, host, "/"};
  s.collected_at = "2026-12-03T00:00:00Z";
  s.agent_version = "test";
  json users = json::array();
  int uid = 0;
  for (const std::string& n : names) {
    users.push_back({{"id", "user:" + n}, {"name", n}, {"uid", uid++}, {"login_shell", true}});
  }
  s.sections["accounts"].data = {{"users", users}};
  return s;
}

std::vector<std::string> Names(const FactDb& db) {
  auto r = db.Query("SELECT name FROM users ORDER BY uid");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> out;
  if (r.ok()) {
    for (const auto& row : r->rows) out.push_back(row[0].get<std::string>());
  }
  return out;
}

class FactsFileTest : public ::testing::Test {
 protected:
  void Save(const Snapshot& s, const std::string& host, int64_t seq,
            std::optional<int64_t> keep = {}) {
    ASSERT_TRUE(writer_->Load(s).ok());
    Status saved = writer_->SaveFacts(host, seq, keep);
    ASSERT_TRUE(saved.ok()) << saved.ToString();
  }
  // The rows of `seq` in the file's users table (read with SQLite directly: the query gate
  // shows no table of the file itself).
  int64_t RowsOf(int64_t seq) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    std::string sql = "SELECT count(*) FROM f_users WHERE seq = " + std::to_string(seq);
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql.c_str(), -1, &q, nullptr), SQLITE_OK);
    int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(raw);
    return n;
  }
  void SetUp() override {
    path_ = dir_.Host("/store.db-facts");
    auto w = FactDb::Open();
    ASSERT_TRUE(w.ok());
    writer_ = std::move(*w);
    Status attached = writer_->AttachFacts(path_);
    ASSERT_TRUE(attached.ok()) << attached.ToString();
  }

  testing::TempRoot dir_;
  std::string path_;
  std::unique_ptr<FactDb> writer_;
};

TEST_F(FactsFileTest, EachHostsLatestStateIsReadBackThroughTheViews) {
  Save(Users("a", {"root", "alice"}), "a", 1);
  Save(Users("b", {"root", "bob", "carol"}), "b", 2);
  Save(Users("a", {"root", "alice", "mallory"}), "a", 3);  // replaces a's state 1
  Save(Users("a", {"root"}), "a", 0);                      // older than what is kept: ignored
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  auto reader = FactDb::OpenFacts(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto states = (*reader)->FactStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(*states, (std::map<std::string, int64_t>{{"a", 3}, {"b", 2}}));
  ASSERT_TRUE((*reader)->SelectState(3).ok());
  EXPECT_EQ(Names(**reader), (std::vector<std::string>{"root", "alice", "mallory"}));
  ASSERT_TRUE((*reader)->SelectState(2).ok());
  EXPECT_EQ(Names(**reader), (std::vector<std::string>{"root", "bob", "carol"}));
  // The same query again (prepared once) sees the state selected now.
  ASSERT_TRUE((*reader)->SelectState(1).ok());
  EXPECT_TRUE(Names(**reader).empty());  // replaced: gone
  EXPECT_TRUE((*reader)->section_status().empty());
  ASSERT_TRUE((*reader)->SelectState(3).ok());
  // The state's sections and content hash, as Load would know them (rules and exception
  // covers read absence only from complete sections).
  EXPECT_EQ((*reader)->section_status(), (std::map<std::string, std::string>{{"accounts", "ok"}}));
  ASSERT_TRUE(writer_->Load(Users("a", {"root", "alice", "mallory"})).ok());
  EXPECT_EQ((*reader)->content_hash(), writer_->content_hash());
  auto sections = (*reader)->Query("SELECT name, status FROM sections");
  ASSERT_TRUE(sections.ok());
  ASSERT_EQ(sections->rows.size(), 1u);
  EXPECT_EQ(sections->rows[0][0], "accounts");
  // SQLite's JSON table-valued functions work over the views, as over a loaded snapshot.
  auto each = (*reader)->Query(
      "SELECT u.name AS id FROM users u WHERE u.name IN (SELECT value FROM "
      "json_each('[\"mallory\", \"root\"]')) ORDER BY 1");
  ASSERT_TRUE(each.ok()) << each.status().ToString();
  ASSERT_EQ(each->rows.size(), 2u);
  EXPECT_EQ(each->rows[0][0], "mallory");
  auto host = (*reader)->Query("SELECT id FROM host");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->rows[0][0], "a");
}

// A reader sees the file as of its opening: a state it listed is still there when the writer
// has replaced it since (before, it read as empty tables: a fleet query or report that listed
// the states first met some hosts with no rows at all).
TEST_F(FactsFileTest, AReaderSeesTheFileAsOfItsOpening) {
  Save(Users("a", {"root", "alice"}), "a", 1);
  auto reader = FactDb::OpenFacts(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto states = (*reader)->FactStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(*states, (std::map<std::string, int64_t>{{"a", 1}}));
  Save(Users("a", {"root", "mallory"}), "a", 2);  // replaces a's state 1 in the file
  ASSERT_TRUE((*reader)->SelectState(1).ok());
  EXPECT_EQ(Names(**reader), (std::vector<std::string>{"root", "alice"}));
  EXPECT_EQ((*reader)->section_status(), (std::map<std::string, std::string>{{"accounts", "ok"}}));
  // A reader opened now sees the new state only.
  auto later = FactDb::OpenFacts(path_);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  states = (*later)->FactStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(*states, (std::map<std::string, int64_t>{{"a", 2}}));
  ASSERT_TRUE((*later)->SelectState(1).ok());
  EXPECT_TRUE(Names(**later).empty());
  ASSERT_TRUE((*later)->SelectState(2).ok());
  EXPECT_EQ(Names(**later), (std::vector<std::string>{"root", "mallory"}));
}

TEST_F(FactsFileTest, TheGateHoldsOverTheFile) {
  Save(Users("a", {"root"}), "a", 1);
  auto reader = FactDb::OpenFacts(path_);
  ASSERT_TRUE(reader.ok());
  // Every host's rows are not read past the views; nothing is written.
  auto direct = (*reader)->Query("SELECT name FROM f_users");
  EXPECT_EQ(direct.status().code(), StatusCode::kInvalidArgument);
  // Not even a count, which SQLite authorizes without naming the table's database.
  for (const char* sql : {"SELECT count(*) FROM f_users", "SELECT count(*) FROM main.f_users",
                          "SELECT count(*) FROM states"}) {
    auto count = (*reader)->Query(sql);
    EXPECT_EQ(count.status().code(), StatusCode::kInvalidArgument) << sql;
  }
  // Through the views a count is fine (no state is chosen yet: none).
  auto users = (*reader)->Query("SELECT count(*) FROM users");
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  EXPECT_EQ(users->rows[0][0], 0);
  auto deleted = (*reader)->Query("DELETE FROM f_users");
  EXPECT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deleted.status().message().find("not allowed in a query: delete"), std::string::npos)
      << deleted.status().message();
  auto states = (*reader)->Query("SELECT * FROM states");
  EXPECT_FALSE(states.ok());
  EXPECT_EQ(states.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(states.status().message().find("not allowed in a query: read"), std::string::npos)
      << states.status().message();
  // A rule's FactDb never reads the attached file, even by its name.
  ASSERT_TRUE(writer_->Load(Users("b", {"root"})).ok());
  auto attached = writer_->Query("SELECT name FROM facts.f_users");
  EXPECT_EQ(attached.status().code(), StatusCode::kInvalidArgument) << attached.status().ToString();
  for (const char* sql : {"SELECT count(*) FROM f_users", "SELECT count(*) FROM facts.f_users"}) {
    auto count = writer_->Query(sql);
    EXPECT_EQ(count.status().code(), StatusCode::kInvalidArgument) << sql;
  }
  // Its own tables it counts.
  auto own = writer_->Query("SELECT count(*) FROM users");
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->rows[0][0], 1);
}

TEST_F(FactsFileTest, AFileOfAnotherLayoutIsNotReadAndIsRebuiltByTheWriter) {
  Save(Users("a", {"root"}), "a", 1);
  writer_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE facts_layout SET hash = 'other'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto reader = FactDb::OpenFacts(path_);
  EXPECT_EQ(reader.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FactDb::OpenFacts(dir_.Host("/none")).status().code(), StatusCode::kNotFound);
  auto w = FactDb::Open();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->AttachFacts(path_).ok());
  (*w).reset();
  reader = FactDb::OpenFacts(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE((*reader)->FactStates()->empty());  // emptied: those states are read slowly
}

TEST_F(FactsFileTest, TheApprovedBaselinesStateIsKeptBesideTheLatestUntilAnotherIsApproved) {
  Save(Users("web1", {"root", "vendor"}), "web1", 10);  // approved later as the baseline
  Save(Users("web1", {"root", "vendor", "temp"}), "web1", 11, 10);
  auto reader = FactDb::OpenFacts(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(*(*reader)->FactStates(), (std::map<std::string, int64_t>{{"web1", 11}}));
  EXPECT_EQ(*(*reader)->KeptStates(), (std::map<std::string, int64_t>{{"web1", 10}}));
  ASSERT_TRUE((*reader)->SelectState(10).ok());
  EXPECT_EQ(Names(**reader), (std::vector<std::string>{"root", "vendor"}));
  ASSERT_TRUE((*reader)->SelectState(11).ok());
  EXPECT_EQ(Names(**reader), (std::vector<std::string>{"root", "vendor", "temp"}));
  reader->reset();

  // The latest moves on: the one before it goes, the baseline stays.
  Save(Users("web1", {"root"}), "web1", 12, 10);
  EXPECT_EQ(RowsOf(10), 2);
  EXPECT_EQ(RowsOf(11), 0);
  EXPECT_EQ(RowsOf(12), 1);
  // Another baseline approved (the latest): the old one's rows go.
  Save(Users("web1", {"root", "ops"}), "web1", 13, 13);
  EXPECT_EQ(RowsOf(10), 0);
  EXPECT_EQ(RowsOf(12), 0);
  reader = FactDb::OpenFacts(path_);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*(*reader)->KeptStates(), (std::map<std::string, int64_t>{{"web1", 13}}));
  reader->reset();
  // A baseline whose rows are not in the file is not kept (it is read the slow way); none
  // approved any more: nothing kept.
  Save(Users("web1", {"root"}), "web1", 14, 9);
  EXPECT_EQ(RowsOf(13), 0);
  reader = FactDb::OpenFacts(path_);
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->KeptStates()->empty());
}

}  // namespace
}  // namespace tidemark::policy
