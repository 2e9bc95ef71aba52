// The registry of fact tables: every table rules and queries can read, in one explicit list
// (tables.cpp), each defined next to the others of its section in common/policy/tables/. A new
// table is one definition there and one test in tests/common/policy/; docs/tables.md is
// generated from the definitions (TablesMarkdown) and a test keeps it equal.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/policy/table.h"

namespace tidemark::policy {

// Returns every table, sorted by name. Built once; never changes.
const std::vector<Table>& FactTables();

// Returns the table named `name`, or nullptr.
const Table* FindTable(std::string_view name);

// The tables that describe the snapshot itself rather than one section: `sections(name, status,
// error_count)` and `host(id, hostname, root, collected_at, agent_version, content_hash)`.
inline constexpr std::string_view kSectionsTable = "sections";
inline constexpr std::string_view kHostTable = "host";

// Returns `identifier` quoted for SQL ("name", inner quotes doubled).
std::string QuoteIdentifier(std::string_view identifier);

// The columns of every table a query can read, in table order: (table, [(column, SQL type)]),
// `sections` and `host` included, each fact table with id, source_file, source_line first.
// FactDb creates its tables from this, and the facts file (FactDb::AttachFacts) too.
std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
QueryableTables();

// Returns docs/tables.md: every table, its section and meaning, and its columns with type,
// meaning, source path, compact default and whether it changes by itself.
std::string TablesMarkdown();

// Definitions by section group, called once by FactTables (tables/*.cpp).
void AddAccountsTables(std::vector<Table>& out);  // users, groups, group_members, ...
void AddSudoTables(std::vector<Table>& out);      // sudo_grants, sudo_defaults
void AddSshTables(std::vector<Table>& out);       // ssh_keys, sshd_settings, sshd_match_blocks
void AddSysctlTables(std::vector<Table>& out);    // sysctl
void AddNetworkTables(std::vector<Table>& out);   // listeners
void AddPamTables(std::vector<Table>& out);       // pam_entries
void AddLoginTables(std::vector<Table>& out);     // login_settings
// files, trust_files, suid_files, world_writable, unowned_files
void AddFilesTables(std::vector<Table>& out);
void AddServicesTables(std::vector<Table>& out);  // services
void AddPackagesTables(std::vector<Table>& out);  // packages
// cron_jobs, cron_variables, cron_files, cron_periodic, cron_access
void AddCronTables(std::vector<Table>& out);

}  // namespace tidemark::policy
