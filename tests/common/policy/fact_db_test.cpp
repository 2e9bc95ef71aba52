// The fact tables over snapshots that the agent really collects from fixture roots, and the
// refusals of the query gate (read-only, one SELECT, bounded).
#include "common/policy/fact_db.h"

#include <gtest/gtest.h>

#include <memory>

#include "agent/collect.h"
#include "common/policy/tables.h"
#include "tests/common/policy/fact_db_support.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

using json = nlohmann::json;
using testing::TempRoot;

Snapshot Collect(const TempRoot& root, const std::string& only) {
  return policy::fixtures::Collect(root.path(), {only});
}
using policy::fixtures::Loaded;

std::vector<std::string> Rows(const FactDb& db, const std::string& sql) {
  return policy::fixtures::Query(db, sql);
}

void WriteAccounts(TempRoot& root) {
  root.Write("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\n"
             "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
             "vendor_ops:x:1001:1001::/home/vendor_ops:/bin/sh\n"
             "svc:x:999:999::/nonexistent:/usr/sbin/nologin\n");
  root.Write("/etc/group",
             "root:x:0:\nsudo:x:27:alice,vendor_ops\nalice:x:1000:\nvendor_ops:x:1001:\n"
             "svc:x:999:\n");
  root.Write("/etc/shadow",
             "root:!:19000:0:99999:7:::\n"
             "alice:$y$j9T$abc$def:19500:0:99999:7:::\n"
             "vendor_ops::19600:0:99999:7:::\n"
             "svc:*:19000:0:99999:7:::\n",
             0640);
  root.Write("/etc/shells", "/bin/sh\n/bin/bash\n");
}

TEST(FactDbTest, UsersGroupsAndEffectiveMembershipFromACollectedRoot) {
  TempRoot root;
  WriteAccounts(root);
  auto db = Loaded(Collect(root, "accounts"));
  ASSERT_NE(db, nullptr);

  EXPECT_EQ(Rows(*db,
                 "SELECT name, uid, password_status, login_shell, source_file, source_line "
                 "FROM users ORDER BY uid"),
            (std::vector<std::string>{R"(["root",0,"locked",1,"/etc/passwd",1])",
                                      R"(["svc",999,"no_login",0,"/etc/passwd",4])",
                                      R"(["alice",1000,"hashed",1,"/etc/passwd",2])",
                                      R"(["vendor_ops",1001,"empty",1,"/etc/passwd",3])"}));
  EXPECT_EQ(Rows(*db, "SELECT id FROM users WHERE name = 'alice'"),
            (std::vector<std::string>{R"(["user:alice"])"}));
  // Primary groups are members too; the compact default of `primary` (false) is restored.
  EXPECT_EQ(Rows(*db,
                 "SELECT \"group\", \"primary\" FROM group_members WHERE user = 'alice' "
                 "ORDER BY \"group\""),
            (std::vector<std::string>{R"(["alice",1])", R"(["sudo",0])"}));
  // A group without members: the omitted `members` reads as [] (compact default), not NULL.
  EXPECT_EQ(Rows(*db, "SELECT members FROM groups WHERE name = 'root'"),
            (std::vector<std::string>{R"(["[]"])"}));
  EXPECT_EQ(Rows(*db,
                 "SELECT m.value FROM groups, json_each(groups.members) AS m "
                 "WHERE groups.name = 'sudo'"),
            (std::vector<std::string>{R"(["alice"])", R"(["vendor_ops"])"}));
  EXPECT_EQ(Rows(*db,
                 "SELECT user, via FROM privileged_members WHERE \"group\" = 'sudo' "
                 "ORDER BY user"),
            (std::vector<std::string>{R"(["alice","member"])", R"(["vendor_ops","member"])"}));
  EXPECT_EQ(Rows(*db, "SELECT name, status, error_count FROM sections"),
            (std::vector<std::string>{R"(["accounts","ok",0])"}));
  EXPECT_EQ(Rows(*db, "SELECT id, root FROM host"),
            (std::vector<std::string>{"[\"testhost\"," + json(root.path()).dump() + "]"}));
}

TEST(FactDbTest, SudoGrantsAreExpandedAndListColumnsAreJson) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/sudoers",
             "User_Alias ADMINS = alice, vendor_ops\n"
             "ADMINS ALL=(root) NOPASSWD: /usr/bin/apt\n"
             "%sudo ALL=(ALL:ALL) ALL\n",
             0440);
  auto db = Loaded(Collect(root, "sudo"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Rows(*db,
                 "SELECT principal, command, nopasswd, source_file, source_line "
                 "FROM sudo_grants WHERE nopasswd ORDER BY principal"),
            (std::vector<std::string>{R"(["user:alice","/usr/bin/apt",1,"/etc/sudoers",2])",
                                      R"(["user:vendor_ops","/usr/bin/apt",1,"/etc/sudoers",2])"}));
  EXPECT_EQ(Rows(*db,
                 "SELECT DISTINCT r.value FROM sudo_grants, json_each(runas_users) AS r "
                 "WHERE principal = 'group:sudo'"),
            (std::vector<std::string>{R"(["ALL"])"}));
}

TEST(FactDbTest, OnlyASingleReadOnlySelectIsAllowed) {
  TempRoot root;
  WriteAccounts(root);
  auto db = Loaded(Collect(root, "accounts"));
  ASSERT_NE(db, nullptr);
  struct Case {
    std::string sql;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"DELETE FROM users", "not allowed in a query: delete"},
           {"INSERT INTO users(name) VALUES ('x')", "not allowed in a query: insert"},
           {"UPDATE users SET uid = 0", "not allowed in a query: update"},
           {"DROP TABLE users", "not allowed in a query: a DROP statement"},
           {"create table x(a)", "not allowed in a query: a create statement"},
           {"PRAGMA table_info(users)", "not allowed in a query: pragma"},
           {"ATTACH DATABASE '/tmp/x.db' AS x", "not allowed in a query: attach"},
           {"BEGIN", "not allowed in a query: transaction"},
           {"SAVEPOINT s", "not allowed in a query: savepoint"},
           {"SELECT load_extension('/tmp/x.so')",
            "not allowed in a query: function load_extension"},
           {"SELECT 1; DELETE FROM users", "more than one statement"},
           {"SELECT * FROM no_such_table", "no such table: no_such_table"},
           {"SELECT no_such_column FROM users", "no such column: no_such_column"},
           {"", "no statement"},
           {"-- only a comment", "no statement"},
       }) {
    StatusOr<QueryResult> r = db->Query(c.sql);
    ASSERT_FALSE(r.ok()) << c.sql;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.sql;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.sql << ": " << r.status().message();
  }
  // Nothing was changed by the refused statements.
  EXPECT_EQ(Rows(*db, "SELECT count(*) FROM users"), (std::vector<std::string>{"[4]"}));
  // A trailing semicolon and comments are one statement.
  EXPECT_EQ(Rows(*db, "SELECT count(*) FROM users; -- four\n"), (std::vector<std::string>{"[4]"}));
}

TEST(FactDbTest, RunawayQueriesAreStoppedByTheirLimits) {
  StatusOr<std::unique_ptr<FactDb>> opened = FactDb::Open();
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<FactDb> db = std::move(*opened);
  StatusOr<QueryResult> r = db->Query(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("steps"), std::string::npos) << r.status().message();

  QueryLimits few_rows;
  few_rows.max_rows = 10;
  r = db->Query(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 11) "
      "SELECT i FROM n",
      few_rows);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 10 rows"), std::string::npos);
}

TEST(FactDbTest, ReportsTheFactTablesAQueryReads) {
  TempRoot root;
  WriteAccounts(root);
  auto db = Loaded(Collect(root, "accounts"));
  ASSERT_NE(db, nullptr);
  StatusOr<QueryResult> r = db->Query("SELECT count(*) FROM users");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tables_read, (std::set<std::string>{"users"}));
  r = db->Query(
      "SELECT u.name FROM users u JOIN group_members m ON m.user = u.name "
      "WHERE m.\"group\" IN (SELECT name FROM groups WHERE gid = 27)");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tables_read, (std::set<std::string>{"group_members", "groups", "users"}));
}

TEST(FactDbTest, ASectionOfUnknownShapeLeavesItsTablesEmpty) {
  Snapshot s;
  s.host = {"h", "h", "/"};
  s.collected_at = "2026-12-03T00:00:00Z";
  s.agent_version = "test";
  Section accounts;
  accounts.data = {{"users", "not a list"},
                   {"groups", json::array({{{"id", "group:root"}, {"name", "root"}, {"gid", 0}}})}};
  s.sections["accounts"] = accounts;
  Section sudo;
  sudo.data = {{"grants", json::array({{{"id", "g1"}, {"principal", 5}}})}};  // wrong type
  sudo.AddError("/etc/sudoers.d/x", 3, "syntax error");
  sudo.Finish();
  s.sections["sudo"] = sudo;
  auto db = Loaded(s);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Rows(*db, "SELECT name, status, error_count FROM sections ORDER BY name"),
            (std::vector<std::string>{R"(["accounts","unknown_shape",0])",
                                      R"(["sudo","unknown_shape",1])"}));
  // Even the well-formed `groups` of the same section is empty: half a section is not loaded.
  EXPECT_EQ(Rows(*db, "SELECT count(*) FROM groups"), (std::vector<std::string>{"[0]"}));
  EXPECT_EQ(Rows(*db, "SELECT count(*) FROM sudo_grants"), (std::vector<std::string>{"[0]"}));
  EXPECT_EQ(db->section_status().at("sudo"), "unknown_shape");
  EXPECT_EQ(db->content_hash(), ContentHash(s));
}

// A value means the same in SQL whether a rule's variable binds it or a fact table serves it
// (one mapping, ToSql in fact_db.cpp): booleans 0/1, an integer beyond INT64_MAX a real, lists
// and objects their JSON text, strings text.
TEST(FactDbTest, VariablesAndColumnsMapValuesToSqlAlike) {
  const uint64_t big = 9223372036854775808ULL;  // INT64_MAX + 1
  Snapshot s;
  s.host = {"h", "h", "/"};
  s.collected_at = "2026-12-03T00:00:00Z";
  s.agent_version = "test";
  Section accounts;
  accounts.data = {
      {"groups",
       json::array({{{"id", "group:a"}, {"name", "a"}, {"gid", -5}, {"members", {"x", "y"}}},
                    {{"id", "group:b"}, {"name", "b"}, {"gid", big}, {"members", json::array()}},
                    {{"id", "group:c"}, {"name", "c"}, {"members", {{"k", 1}}}}})}};
  s.sections["accounts"] = accounts;
  auto db = Loaded(s);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Rows(*db, "SELECT typeof(gid), gid, typeof(members), members FROM groups ORDER BY id"),
            (std::vector<std::string>{R"(["integer",-5,"text","[\"x\",\"y\"]"])",
                                      R"(["real",9.223372036854776e+18,"text","[]"])",
                                      R"(["null",null,"text","{\"k\":1}"])"}));
  // The same values as variables, and a list's text read twice (its cached text).
  const std::vector<std::pair<json, std::string>> cases = {
      {nullptr, R"(["null",null])"},
      {true, R"(["integer",1])"},
      {false, R"(["integer",0])"},
      {-5, R"(["integer",-5])"},
      {big, R"(["real",9.223372036854776e+18])"},
      {1.5, R"(["real",1.5])"},
      {"text", R"(["text","text"])"},
      {json::array(), R"(["text","[]"])"},
      {json::object(), R"(["text","{}"])"},
      {json::array({"x", "y"}), R"(["text","[\"x\",\"y\"]"])"},
      {json{{"k", 1}}, R"(["text","{\"k\":1}"])"}};
  for (const auto& [value, expected] : cases) {
    auto r = db->Query("SELECT typeof(:v), :v", {{"v", value}}, QueryLimits{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->rows.size(), 1u);
    EXPECT_EQ(json(r->rows[0]).dump(), expected) << value.dump();
  }
  EXPECT_EQ(Rows(*db, "SELECT count(*) FROM groups g1, groups g2 WHERE g1.members = g2.members"),
            (std::vector<std::string>{"[3]"}));
}

TEST(FactDbTest, LoadReplacesThePreviousSnapshot) {
  TempRoot root;
  WriteAccounts(root);
  Snapshot first = Collect(root, "accounts");
  auto db = Loaded(first);
  ASSERT_NE(db, nullptr);
  Snapshot empty;
  empty.host = {"other", "other", "/"};
  ASSERT_TRUE(db->Load(empty).ok());
  EXPECT_EQ(Rows(*db, "SELECT count(*) FROM users"), (std::vector<std::string>{"[0]"}));
  EXPECT_EQ(Rows(*db, "SELECT count(*) FROM sections"), (std::vector<std::string>{"[0]"}));
  EXPECT_EQ(Rows(*db, "SELECT id FROM host"), (std::vector<std::string>{R"(["other"])"}));
}

}  // namespace
}  // namespace tidemark::policy

namespace tidemark::policy {
namespace {

TEST(FactDbTest, ReadsSectionsStraightFromTheCollectorsItemsAsData) {
  Snapshot s;
  s.host = {"h", "h", "/"};
  Section accounts;
  accounts.items["users"].push_back(
      {{"id", "user:alice"}, {"name", "alice"}, {"uid", 1000}, {"source", {{"line", 2}}}});
  s.sections["accounts"] = accounts;  // not materialized: the array is text in `items`
  auto db = Loaded(s);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Rows(*db, "SELECT id, uid, source_file, source_line FROM users"),
            (std::vector<std::string>{R"(["user:alice",1000,"/etc/passwd",2])"}));
}

}  // namespace
}  // namespace tidemark::policy

namespace tidemark::policy {
namespace {

// SourceOf indexes a table at its first look-up; the next Load must not answer from the index of
// the snapshot before.
TEST(FactDbTest, SourcesFollowTheSnapshotLoadedNow) {
  auto snapshot = [](int line) {
    Snapshot s;
    s.host = {"h", "h", "/"};
    Section accounts;
    accounts.data = {{"users", json::array({{{"id", "user:alice"},
                                             {"name", "alice"},
                                             {"uid", 1000},
                                             {"source", {{"line", line}}}}})}};
    s.sections["accounts"] = accounts;
    return s;
  };
  auto db = Loaded(snapshot(2));
  ASSERT_NE(db, nullptr);
  auto first = db->SourceOf({"users"}, "user:alice");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->first, "/etc/passwd");
  EXPECT_EQ(first->second, 2);
  EXPECT_FALSE(db->SourceOf({"users"}, "user:bob").has_value());
  ASSERT_TRUE(db->Load(snapshot(5)).ok());
  auto second = db->SourceOf({"users"}, "user:alice");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->second, 5);
}

// The values a row function gives beside an item: a later Set of a key replaces the earlier
// one, and more keys than the overlay holds are flagged (the sink then refuses the row), never
// dropped silently.
TEST(OverlayTest, ReplacesAKeyAndFlagsMoreKeysThanItHolds) {
  Overlay row;
  row.Set("name", CellValue::Text("bash"));
  row.Set("name", CellValue::Text("dash"));
  ASSERT_NE(row.Find("name"), nullptr);
  EXPECT_EQ(row.Find("name")->text(), "dash");
  EXPECT_EQ(row.Find("arch"), nullptr);
  EXPECT_FALSE(row.overflow());
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (size_t i = 0; i <= Overlay::kCapacity; ++i) out.push_back("k" + std::to_string(i));
    return out;
  }();
  for (const std::string& k : keys) row.Set(k, CellValue::Integer(1));
  EXPECT_TRUE(row.overflow());
}

}  // namespace
}  // namespace tidemark::policy

namespace tidemark::policy {
namespace {

Snapshot UsersSnapshot(const std::vector<std::pair<std::string, int>>& users) {
  Snapshot s;
  s.host = {"h", "h", "/"};
  json items = json::array();
  int line = 1;
  for (const auto& [name, uid] : users) {
    items.push_back({{"id", "user:" + name + ":" + std::to_string(line)},
                     {"name", name},
                     {"uid", uid},
                     {"shell", "/bin/sh"},
                     {"source", {{"line", line}}}});
    ++line;
  }
  Section accounts;
  accounts.data = {{"users", items}};
  s.sections["accounts"] = accounts;
  return s;
}

// A text column compared with `=` is looked up in an index of the fact table (fact_db.cpp); the
// answer must be the one a scan gives (the rows of a subquery with a LIMIT, which SQLite
// neither flattens nor pushes the WHERE into; its columns keep their affinity) for every kind
// of value: present, absent, a case variant, numbers, NULL, a blob, another collation, IN.
TEST(FactDbTest, LookUpsByATextColumnAnswerAsAScanDoes) {
  auto db = Loaded(UsersSnapshot(
      {{"alice", 1000}, {"Alice", 1001}, {"bob", 1002}, {"alice", 1003}, {"5", 5}, {"", 6}}));
  ASSERT_NE(db, nullptr);
  const std::vector<std::string> values = {"'alice'", "'Alice'", "'nobody'", "''",           "5",
                                           "'5'",     "NULL",    "5.0",      "x'616c696365'"};
  for (const std::string& v : values) {
    for (const std::string& where :
         {"name = " + v, "name = " + v + " COLLATE NOCASE", v + " = name",
          "name IN (" + v + ", 'bob')", "name = " + v + " AND uid > 1000"}) {
      auto looked_up = Rows(*db, "SELECT id FROM users WHERE " + where + " ORDER BY id");
      auto scanned = Rows(
          *db, "SELECT id FROM (SELECT * FROM users LIMIT -1) WHERE " + where + " ORDER BY id");
      EXPECT_EQ(looked_up, scanned) << where;
    }
  }
  // The look-up is not a scan in disguise: it finds both rows of "alice", and only them.
  EXPECT_EQ(Rows(*db, "SELECT uid FROM users WHERE name = 'alice' ORDER BY uid"),
            (std::vector<std::string>{"[1000]", "[1003]"}));
  EXPECT_EQ(Rows(*db, "SELECT uid FROM users WHERE name = 'alice' COLLATE NOCASE ORDER BY uid"),
            (std::vector<std::string>{"[1000]", "[1001]", "[1003]"}));
  EXPECT_EQ(Rows(*db,
                 "SELECT a.uid, b.uid FROM users a JOIN users b ON a.name = b.name "
                 "WHERE a.uid < b.uid ORDER BY 1, 2"),
            (std::vector<std::string>{"[1000,1003]"}));
  // Rowids count from 1, as a table's own.
  EXPECT_EQ(Rows(*db, "SELECT min(rowid), max(rowid) FROM users"),
            (std::vector<std::string>{"[1,6]"}));
  // The index follows the snapshot loaded now.
  ASSERT_TRUE(db->Load(UsersSnapshot({{"carol", 1}, {"alice", 2}})).ok());
  EXPECT_EQ(Rows(*db, "SELECT uid FROM users WHERE name = 'alice'"),
            (std::vector<std::string>{"[2]"}));
  EXPECT_EQ(Rows(*db, "SELECT uid FROM users WHERE name = 'bob'"), std::vector<std::string>{});
}

// The fact tables serve the loaded snapshot in place: a snapshot loaded by reference is copied
// first, so its caller may let go of it (ASan in CI sees any read of freed data), and one loaded
// shared stays alive while loaded. Unload lets go: every table is empty until the next Load.
TEST(FactDbTest, KeepsWhatItServesUntilUnloaded) {
  auto db = FactDb::Open();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  {
    Snapshot gone = UsersSnapshot({{"alice", 1000}});
    ASSERT_TRUE((*db)->Load(gone).ok());
  }
  EXPECT_EQ(Rows(**db, "SELECT name, source_file FROM users"),
            (std::vector<std::string>{R"(["alice","/etc/passwd"])"}));
  std::weak_ptr<const Snapshot> watch;
  {
    auto shared = std::make_shared<const Snapshot>(UsersSnapshot({{"bob", 1}}));
    watch = shared;
    ASSERT_TRUE((*db)->Load(std::move(shared)).ok());
  }
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(Rows(**db, "SELECT name FROM users WHERE name = 'bob'"),
            (std::vector<std::string>{R"(["bob"])"}));
  (*db)->Unload();
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(Rows(**db, "SELECT count(*) FROM users"), (std::vector<std::string>{"[0]"}));
  EXPECT_EQ(Rows(**db, "SELECT count(*) FROM sections"), (std::vector<std::string>{"[0]"}));
  EXPECT_TRUE((*db)->section_status().empty());
  EXPECT_EQ((*db)->Load(std::shared_ptr<const Snapshot>()).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tidemark::policy

namespace tidemark::policy {
namespace {

// The row functions that read items in place (packages, PAM entries, services, sshd's user
// settings; the last threw on a non-string id beside a list value, 2026-12-05) meet items of
// every wrong type an agent could send: the section's tables stay empty (unknown_shape) or the
// rows are what the items say; nothing throws (under ASan and UBSan in CI).
TEST(FactDbTest, RowFunctionsThatReadItemsInPlaceRefuseWrongShapes) {
  const std::vector<json> odd = {
      nullptr,       5, -1, true, "text", "", json::array(), json::array({1, "x"}), json::object(),
      json{{"k", 1}}};
  struct Case {
    std::string section;
    json data;        // a well-formed section
    std::string key;  // the array whose first item is made odd
    std::vector<std::string> fields;
    std::string table;  // the table the item's row goes to
  };
  const std::vector<Case> cases = {
      {"packages",
       {{"installed", json::array({{{"id", "package:bash:amd64"}, {"version", "5.2"}}})}},
       "installed",
       {"id", "version", "status_abbrev", "src", "src_version"},
       "packages"},
      {"pam",
       {{"services",
         json::array({{{"id", "pam_service:login"}, {"source", {{"file", "/etc/pam.d/login"}}}}})},
        {"chains", json::array({{{"id", "pam_chain:login:5"},
                                 {"file", "/etc/pam.d/common-auth"},
                                 {"via", json::array()}}})},
        {"lines", json::array({{{"id", "pam_line:/etc/pam.d/common-auth:3"},
                                {"type", "auth"},
                                {"module", "pam_unix.so"}}})},
        {"entries", json::array({{{"service", "login"},
                                  {"chain", "5"},
                                  {"source", {{"line", 3}}},
                                  {"type", "auth"},
                                  {"module", "pam_unix.so"}}})}},
       "entries",
       {"service", "chain", "source", "type", "module", "arguments", "error"},
       "pam_entries"},
      {"services",
       {{"unit_dir", "/lib/systemd/system"},
        {"manager", {{"active_state_collected", true}}},
        {"units", json::array({{{"id", "unit:ssh.service"},
                                {"state", "enabled"},
                                {"active_state", "active"},
                                {"user", {{"value", "root"}}},
                                {"exec_start", json::array({{{"command", "/usr/sbin/sshd"}}})}}})}},
       "units",
       {"id", "state", "source", "active_state", "sub_state", "user", "exec_start", "environment",
        "environment_files"},
       "services"},
      // A repeating keyword's list gives a row per element, with the item's id and the position.
      {"sshd",
       {{"user_settings", json::array({{{"id", "sshd_user_setting:alice:allowusers"},
                                        {"user", "alice"},
                                        {"keyword", "allowusers"},
                                        {"value", json::array({"alice"})}}})}},
       "user_settings",
       {"id", "user", "keyword", "value"},
       "sshd_user_settings"},
  };
  for (const Case& c : cases) {
    {  // the well-formed section gives a row
      Snapshot s;
      s.host = {"h", "h", "/"};
      Section section;
      section.data = c.data;
      s.sections[c.section] = section;
      auto db = Loaded(s);
      ASSERT_NE(db, nullptr) << c.section;
      EXPECT_EQ(db->section_status().at(c.section), "ok") << c.section;
      EXPECT_EQ(Rows(*db, "SELECT count(*) FROM " + c.table), (std::vector<std::string>{"[1]"}))
          << c.section;
    }
    for (const std::string& field : c.fields) {
      for (const json& value : odd) {
        Snapshot s;
        s.host = {"h", "h", "/"};
        Section section;
        section.data = c.data;
        section.data[c.key][0][field] = value;
        s.sections[c.section] = section;
        auto db = Loaded(s);
        ASSERT_NE(db, nullptr) << c.section << "." << field << " = " << value.dump();
        const std::string& status = db->section_status().at(c.section);
        EXPECT_TRUE(status == "ok" || status == "unknown_shape")
            << c.section << "." << field << " = " << value.dump() << ": " << status;
      }
      Snapshot s;  // the item itself of another type
      s.host = {"h", "h", "/"};
      Section section;
      section.data = c.data;
      section.data[c.key][0] = field;
      s.sections[c.section] = section;
      auto db = Loaded(s);
      ASSERT_NE(db, nullptr) << c.section;
      EXPECT_EQ(db->section_status().at(c.section), "unknown_shape") << c.section;
    }
  }
}

}  // namespace
}  // namespace tidemark::policy
