// Drift (docs/drift.md): what changed in a host's fact tables between two states — items
// added, removed and changed by their stable `id`, ignoring the columns that change on their
// own (a log file's mtime, a listener's process id) and where an item is written (a line moved
// by a comment above it is not a change of configuration; the new place is shown). Used by
// `tidemarkctl drift` and the approved baselines.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/policy/fact_db.h"
#include "common/status.h"

namespace tidemark::policy {

// Every fact table's rows of one state, by table and id (a repeated id gets "#2", "#3", ...),
// each row an object column -> value; and each section's status.
struct StateRows {
  std::map<std::string, std::map<std::string, nlohmann::json>> tables;
  std::map<std::string, std::string> sections;
};

// Reads every fact table of the state loaded in `db`.
StatusOr<StateRows> ReadState(const FactDb& db);

enum class ChangeKind { kAdded, kRemoved, kChanged };
std::string_view ChangeKindName(ChangeKind kind);

struct Change {
  std::string table;  // a fact table, or "sections" for a section whose status changed
  std::string id;
  ChangeKind kind = ChangeKind::kChanged;
  nlohmann::json before;             // the row (null when added)
  nlohmann::json after;              // the row (null when removed)
  std::vector<std::string> columns;  // kChanged: the columns that differ
  // The index (into the states DriftOver was given) of the state from which on the item has
  // its final form without a break; set by DriftOver.
  size_t first_state = 0;
};

// True when the two rows of `table` differ in a column that counts (not `changes_by_itself`,
// not source_file/source_line); fills `columns` with those that differ.
bool RowsDiffer(const std::string& table, const nlohmann::json& a, const nlohmann::json& b,
                std::vector<std::string>* columns);

// The changes from `before` to `after`, by table then id; sections whose status changed first.
std::vector<Change> Diff(const StateRows& before, const StateRows& after);

// The changes from states.front() to states.back(), each with the first state (index >= 1)
// from which on it held without a break: states[i] shows the item as states.back() does for
// every i >= first_state. At least two states.
std::vector<Change> DriftOver(const std::vector<StateRows>& states);

// True when `c`, a change since a host's approved baseline, is a finding unless an exception
// covers it (docs/drift.md): a new account with UID 0 or an account whose uid became 0, a new
// sudo grant, a new key in root's authorized keys, a new listener, a new SUID/SGID file, an
// sshd setting added, changed or removed.
bool IsBaselineFinding(const Change& c);

}  // namespace tidemark::policy
