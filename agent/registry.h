// The explicit list of snapshot sections, in collection order.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/section_reader.h"

namespace tidemark::agent {

// One known section: its name (its key in a snapshot, what its collector's name() returns) and
// how to make its collector. The names are known without making any collector: a short
// collection (`--only sudo`) makes only the readers it runs (each made reader is code paged
// in at start-up).
struct SectionEntry {
  std::string_view name;
  std::unique_ptr<SectionReader> (*make)();
};

// Every known section, in the order of SectionNames (the usage text's order).
const std::vector<SectionEntry>& Sections();

// Returns the names of all known sections, in order.
const std::vector<std::string>& SectionNames();

}  // namespace tidemark::agent
