// A readable summary of a snapshot's account rights, for people at a terminal. Every text that
// came from the host is escaped (common/text.h) and bounded; a block whose source could not be
// read says so and why, never "(none)". Pure functions over a Snapshot; no state.
#pragma once

#include <cstddef>
#include <ostream>

#include "common/snapshot.h"

namespace tidemark::agent {

// Prints users with login shells, UID 0 accounts, privileged group members, sudo grants, SSH
// keys and every section's status and errors. Tolerates sections that are absent and data of
// any shape.
void PrintSummary(const Snapshot& snapshot, std::ostream& out);

// Returns how many sections have the status error (their source could not be read at all).
size_t SectionsInError(const Snapshot& snapshot);

}  // namespace tidemark::agent
