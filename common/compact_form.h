// The compact item form's omitted defaults (docs/snapshot.md, "Compact items", rule 1), in one
// machine-readable place: for each kind of item, the keys that a writer leaves out when they
// hold their default and the value a reader restores for each. The agent's section readers omit
// exactly these (OmitDefaults) and the fact tables restore exactly these (policy::FactTables
// takes its columns' compact defaults from here; row functions call RestoreDefaults), so the
// two cannot drift apart. A key that is null is always left out and reads as null; only the
// other defaults are listed here.
//
// A new compact default: add the key to its kind below, document it in the section's page
// (docs/sections/), and the collector and the tables follow.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace tidemark {

enum class CompactKind {
  kGroup,             // accounts.groups[]
  kGshadow,           // accounts.groups[].gshadow
  kUserGroup,         // accounts.users[].groups[]
  kFile,              // files.files[]
  kLoginSetting,      // login.login_defs.settings[], login.useradd.settings[]
  kPathEntry,         // login.root_path.entries[]
  kKeysUser,          // ssh_keys.users[]
  kKeysFile,          // ssh_keys.users[].files[]
  kPackage,           // packages.installed[], packages.other_states[]
  kPamLine,           // pam.entries[], pam.lines[] (the content of a PAM line)
  kPamChain,          // pam.chains[]
  kUnit,              // services.units[]
  kSysctlAssignment,  // sysctl.assignments[]
  kSysctlSetting,     // sysctl.settings[]
  kSysctlRuntime,     // sysctl.runtime[]
};

struct CompactDefault {
  std::string_view key;
  nlohmann::json value;
  // The default holds only in an item that has this key (a file's hash_state "hashed" beside
  // its sha256); elsewhere a missing key reads as null. Empty: always.
  std::string_view only_beside;
  // The default holds only where `when_key` has the value `when_value` (a gshadow object's
  // lists with status "present"); elsewhere a missing key reads as null. Empty: always.
  std::string_view when_key;
  std::string_view when_value;
};

struct CompactForm {
  CompactKind kind;
  std::string_view where;  // the section and array of these items, as in the comments above
  std::vector<CompactDefault> defaults;
};

// Every kind, in the order of CompactKind.
const std::vector<CompactForm>& CompactForms();
const CompactForm& Compact(CompactKind kind);

// Removes the top-level keys of `item` whose value is null (rule 1 for every item).
void OmitDefaults(nlohmann::json& item);

// Removes from `item` every key whose value is null and every key that holds its default of
// `kind` (conditions are judged on the item as it is before anything is removed).
void OmitDefaults(nlohmann::json& item, CompactKind kind);

// Adds to `item` every missing key of `kind` whose condition the item meets, with its default.
void RestoreDefaults(nlohmann::json& item, CompactKind kind);

// Returns the value of `key` in `item`, or the default of `kind` the item's missing key stands
// for (null when it has none or the item does not meet its condition).
nlohmann::json ValueOrDefault(const nlohmann::json& item, CompactKind kind, std::string_view key);
// The same without a copy: a pointer into `item` or to the registry's default (which lives as
// long as the program), or nullptr where ValueOrDefault returns null for a missing key.
const nlohmann::json* FindOrDefault(const nlohmann::json& item, CompactKind kind,
                                    std::string_view key);

}  // namespace tidemark
