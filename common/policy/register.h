// The exception register (docs/exceptions.md): the migration's exceptions, each with its scope
// (hosts), owner, contact, ticket and expiry, and what it covers (fact-table items or a rule's
// failures). A YAML file its users keep in version control; loaded strictly: every refusal
// names the file, line and entry, and nothing is judged with a half-loaded register.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/policy/rules.h"
#include "common/status.h"

namespace tidemark::policy {

struct Person {
  std::string name, organisation, email, phone, availability;
};

// One `covers` entry: the rows of `table` whose columns equal every `where` value (text with
// `*`, `?` or `[` as a glob), or, with `rule`, that rule's failures.
struct Cover {
  std::string table;
  std::map<std::string, nlohmann::json> where;  // column -> value in the column's type
  std::string rule;
  int line = 0;
};

struct Phase {
  std::string id;
  int64_t ends = 0;  // seconds since the epoch
};

struct MigrationException {
  std::string id, title;
  std::vector<std::string> hosts;  // host-id globs (fnmatch)
  std::string phase;               // "" when none
  Person owner;
  std::optional<Person> contact;
  std::string ticket, reason;
  std::optional<int64_t> granted;
  int64_t expires = 0;
  int64_t effective_expiry = 0;  // the earlier of `expires` and the phase's end
  std::vector<Cover> covers;
  std::string file;
  int line = 0;
};

struct Register {
  std::vector<Phase> phases;
  std::vector<MigrationException> exceptions;
};

// Loads a register from `yaml` (named `file` in errors). `rules` (may be null) are the rules a
// `covers: {rule: ID}` may name; with null, any rule id is refused.
StatusOr<Register> LoadRegisterText(std::string_view yaml, const std::string& file,
                                    const PolicySet* rules);
StatusOr<Register> LoadRegister(const std::string& path, const PolicySet* rules);

}  // namespace tidemark::policy
