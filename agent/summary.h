// A readable summary of a snapshot's account rights, for people at a terminal.
#pragma once

#include <ostream>

#include "common/snapshot.h"

namespace tidemark::agent {

// Prints users with login shells, UID 0 accounts, privileged group members, sudo grants, SSH
// keys and every section's status and errors. Tolerates sections that are absent.
void PrintSummary(const Snapshot& snapshot, std::ostream& out);

}  // namespace tidemark::agent
