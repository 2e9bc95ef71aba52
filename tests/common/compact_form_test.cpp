// The registry of the compact form's defaults (common/compact_form.h): one place that the agent's
// section readers omit by and the fact tables restore from. Its own rules, and the fact tables
// taking their defaults from it (tests/agent/compact_host_test.cpp checks the section readers).
#include "common/compact_form.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/policy/tables.h"

namespace tidemark {
namespace {

using json = nlohmann::json;

// An item that holds default `d` and meets its condition.
json ItemHolding(const CompactDefault& d) {
  json item = {{"id", "x"}, {std::string(d.key), d.value}};
  if (!d.only_beside.empty()) item[std::string(d.only_beside)] = "beside";
  if (!d.when_key.empty()) item[std::string(d.when_key)] = d.when_value;
  return item;
}

TEST(CompactFormTest, KindsAreInEnumOrderWithUniqueKeys) {
  const auto& forms = CompactForms();
  ASSERT_FALSE(forms.empty());
  for (size_t i = 0; i < forms.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(forms[i].kind), i) << forms[i].where;
    EXPECT_FALSE(forms[i].where.empty());
    EXPECT_FALSE(forms[i].defaults.empty()) << forms[i].where;
    std::set<std::string_view> keys;
    for (const CompactDefault& d : forms[i].defaults) {
      EXPECT_TRUE(keys.insert(d.key).second) << forms[i].where << ": " << d.key << " twice";
      // rule 1 of docs/snapshot.md: null is every key's default, never a named one.
      EXPECT_FALSE(d.value.is_null()) << forms[i].where << ": " << d.key;
      EXPECT_NE(d.key, d.only_beside);
      EXPECT_NE(d.key, d.when_key);
    }
  }
}

TEST(CompactFormTest, OmitsAndRestoresEveryDefaultWhereItsConditionHolds) {
  for (const CompactForm& form : CompactForms()) {
    for (const CompactDefault& d : form.defaults) {
      SCOPED_TRACE(std::string(form.where) + " " + std::string(d.key));
      json full = ItemHolding(d);
      json compact = full;
      OmitDefaults(compact, form.kind);
      EXPECT_FALSE(compact.contains(d.key));
      EXPECT_EQ(ValueOrDefault(compact, form.kind, d.key), d.value);
      RestoreDefaults(compact, form.kind);
      EXPECT_EQ(compact.at(std::string(d.key)), d.value);

      // Another value stays.
      json other = full;
      other[std::string(d.key)] = "something else";
      OmitDefaults(other, form.kind);
      EXPECT_EQ(other.at(std::string(d.key)), "something else");

      // Without its condition the default is not one: kept when written, null when missing.
      if (d.only_beside.empty() && d.when_key.empty()) continue;
      json unmet = {{"id", "x"}, {std::string(d.key), d.value}};
      if (!d.when_key.empty()) unmet[std::string(d.when_key)] = "another state";
      OmitDefaults(unmet, form.kind);
      EXPECT_EQ(unmet.at(std::string(d.key)), d.value);
      unmet.erase(std::string(d.key));
      EXPECT_TRUE(ValueOrDefault(unmet, form.kind, d.key).is_null());
      RestoreDefaults(unmet, form.kind);
      EXPECT_FALSE(unmet.contains(d.key));
    }
  }
}

TEST(CompactFormTest, OmitsNullsAndJudgesConditionsBeforeRemovingAnything) {
  // A file: state "present" goes, and hash_state "hashed" goes beside its sha256.
  json file = {{"id", "file:/etc/passwd"},
               {"state", "present"},
               {"hash_state", "hashed"},
               {"sha256", "ab"},
               {"reason", nullptr}};
  OmitDefaults(file, CompactKind::kFile);
  EXPECT_EQ(file, (json{{"id", "file:/etc/passwd"}, {"sha256", "ab"}}));
  // An absent file has no hash_state: restoring must not invent "hashed".
  json absent = {{"id", "file:/etc/x"}, {"state", "absent"}};
  RestoreDefaults(absent, CompactKind::kFile);
  EXPECT_EQ(absent, (json{{"id", "file:/etc/x"}, {"state", "absent"}}));
  // A gshadow object: empty lists go only with status "present".
  json present = {{"status", "present"}, {"administrators", json::array()}, {"members", {"a"}}};
  OmitDefaults(present, CompactKind::kGshadow);
  EXPECT_EQ(present, (json{{"status", "present"}, {"members", {"a"}}}));
  json none = {{"status", "no_entry"}};
  RestoreDefaults(none, CompactKind::kGshadow);
  EXPECT_EQ(none, (json{{"status", "no_entry"}}));
  // Not an object: nothing happens.
  json array = json::array({1});
  OmitDefaults(array, CompactKind::kGroup);
  RestoreDefaults(array, CompactKind::kGroup);
  EXPECT_EQ(array, json::array({1}));
  EXPECT_TRUE(ValueOrDefault(array, CompactKind::kGroup, "members").is_null());
}

TEST(CompactFormTest, TablesTakeTheirDefaultsFromTheRegistryOnly) {
  size_t restored = 0;
  for (const policy::Table& t : policy::FactTables()) {
    for (const policy::Column& c : t.columns) {
      if (c.compact_default.is_null()) continue;
      ++restored;
      std::string key = c.path.empty() ? c.name : c.path.substr(1);
      bool found = false;
      for (CompactKind kind : t.compact) {
        for (const CompactDefault& d : Compact(kind).defaults) {
          found = found || (d.key == key && d.value == c.compact_default);
        }
      }
      EXPECT_TRUE(found) << t.name << "." << c.name;
    }
  }
  // groups.members, group_members.primary, files.state, login_settings.overridden,
  // pam_entries.arguments/silent/flags/substack_depth, services.install/dropins.
  EXPECT_GE(restored, 10u);
  const policy::Table* groups = policy::FindTable("groups");
  ASSERT_NE(groups, nullptr);
  for (const policy::Column& c : groups->columns) {
    if (c.name == "members") {
      EXPECT_EQ(c.compact_default, json::array());
    }
    if (c.name == "gid") {
      EXPECT_TRUE(c.compact_default.is_null());
    }
  }
}

}  // namespace
}  // namespace tidemark
