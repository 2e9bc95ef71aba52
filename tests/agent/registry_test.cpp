// agent/registry: the section list names each section without making its collector; the names
// must be what the section readers call themselves (their keys in a snapshot).
#include "agent/registry.h"

#include <gtest/gtest.h>

#include <set>

namespace tidemark::agent {
namespace {

TEST(RegistryTest, EachNameIsItsCollectorsNameOnceAndSectionNamesFollowIt) {
  std::set<std::string_view> seen;
  ASSERT_EQ(Sections().size(), SectionNames().size());
  for (size_t i = 0; i < Sections().size(); ++i) {
    const SectionEntry& entry = Sections()[i];
    ASSERT_NE(entry.make, nullptr) << entry.name;
    std::unique_ptr<SectionReader> collector = entry.make();
    ASSERT_NE(collector, nullptr) << entry.name;
    EXPECT_EQ(collector->name(), entry.name);
    EXPECT_TRUE(seen.insert(entry.name).second) << "twice: " << entry.name;
    EXPECT_EQ(SectionNames()[i], entry.name);
  }
  EXPECT_EQ(seen.size(), 13u);  // the snapshot's sections (docs/sections/)
}

}  // namespace
}  // namespace tidemark::agent
