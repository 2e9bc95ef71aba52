// The explicit list of snapshot sections, in collection order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/collector.h"

namespace tidemark::agent {

// Returns one fresh collector per known section, in the order they run.
std::vector<std::unique_ptr<SectionCollector>> AllCollectors();

// Returns the names of all known sections, in order.
const std::vector<std::string>& SectionNames();

}  // namespace tidemark::agent
