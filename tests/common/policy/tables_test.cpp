// The table definitions: well-formed, tied to real sections, and docs/tables.md generated from
// them (regenerate with `tidemarkctl tables --format markdown > docs/tables.md`).
#include "common/policy/tables.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "agent/registry.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

TEST(TablesTest, DocsTablesMdIsGeneratedFromTheDefinitions) {
  std::string docs = testing::ReadHostFile(TIDEMARK_FIXTURES_DIR "/../../docs/tables.md");
  EXPECT_EQ(docs, TablesMarkdown())
      << "docs/tables.md is stale: tidemarkctl tables --format markdown > docs/tables.md";
}

TEST(TablesTest, TheIssuesPublicTablesExistWithTheirColumns) {
  // The public interface named by issue 10: rules and registers depend on these names.
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"users", {"name", "uid", "gid", "home", "shell", "password_status"}},
      {"groups", {"name", "gid"}},
      {"group_members", {"group", "user"}},
      {"privileged_members", {"group", "user"}},
      {"sudo_grants", {"principal", "host", "runas_users", "runas_groups", "command", "nopasswd"}},
      {"sudo_defaults", {}},
      {"ssh_keys", {"user", "file", "type", "bits", "fingerprint", "comment", "options"}},
      {"sshd_settings", {"keyword", "value"}},
      {"sshd_match_blocks", {"criteria", "keyword", "value"}},
      {"sysctl", {"key", "runtime", "configured"}},
      {"listeners", {"proto", "address", "port", "process", "user", "unit"}},
      {"pam_entries", {"service", "type", "control", "module", "arguments"}},
      {"login_settings", {"key", "value"}},
      {"files", {"path", "type", "mode", "owner", "group", "sha256", "uid", "gid", "mtime"}},
      {"suid_files", {"path", "mode", "owner", "group", "package"}},
      {"world_writable", {"path", "type"}},
      {"unowned_files", {"path"}},
      {"services", {"unit", "enabled", "active", "user", "exec_start"}},
      {"packages", {"name", "arch", "version"}},
      {"cron_jobs", {"user", "schedule", "command"}},
      {"cron_access", {"path", "names"}},
  };
  for (const auto& [name, columns] : expected) {
    const Table* t = FindTable(name);
    ASSERT_NE(t, nullptr) << name;
    for (const std::string& c : columns) {
      EXPECT_TRUE(std::any_of(t->columns.begin(), t->columns.end(),
                              [&](const Column& col) { return col.name == c; }))
          << name << "." << c;
    }
  }
}

TEST(TablesTest, DefinitionsAreWellFormed) {
  std::vector<std::string> sections = agent::SectionNames();
  std::set<std::string> names;
  for (const Table& t : FactTables()) {
    EXPECT_TRUE(names.insert(t.name).second) << "duplicate table " << t.name;
    EXPECT_NE(t.name, kSectionsTable);
    EXPECT_NE(t.name, kHostTable);
    EXPECT_NE(std::find(sections.begin(), sections.end(), t.section), sections.end())
        << t.name << ": no section " << t.section;
    EXPECT_NE(t.items.empty(), !t.rows) << t.name << ": set exactly one of items and rows";
    EXPECT_FALSE(t.meaning.empty()) << t.name;
    std::set<std::string> columns = {"id", "source_file", "source_line"};
    for (const Column& c : t.columns) {
      EXPECT_TRUE(columns.insert(c.name).second) << t.name << ": duplicate column " << c.name;
      EXPECT_FALSE(c.meaning.empty()) << t.name << "." << c.name;
      EXPECT_TRUE(c.path.empty() || c.path[0] == '/') << t.name << "." << c.name;
    }
  }
}

}  // namespace
}  // namespace tidemark::policy
