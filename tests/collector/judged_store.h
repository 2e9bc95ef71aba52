// A store on a real SQLite file in a temp directory, with states of users only: the fixture of
// the tests of the collector's evaluator and of `tidemarkctl findings`/`query` over it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "collector/evaluator.h"
#include "collector/sqlite_store.h"
#include "common/policy/rules.h"
#include "common/snapshot.h"
#include "tests/support/temp_root.h"

namespace tidemark::testing {

// A users item as the accounts section has it (its line in /etc/passwd).
inline nlohmann::json User(const std::string& name, int uid, int line) {
  return {{"id", "user:" + name}, {"name", name},        {"uid", uid},
          {"gid", uid},           {"login_shell", true}, {"source", {{"line", line}}}};
}

// Rules over the users table (and one over sudo_grants, which these states lack: unknown).
inline constexpr const char* kUserPolicies = R"(
rules:
  - id: accounts-uid0-only-root
    title: Only root has UID 0
    severity: critical
    query: |
      SELECT id, 'uid 0: ' || name AS detail FROM users WHERE uid = 0 AND name <> 'root'
  - id: accounts-no-games
    title: No games account
    severity: low
    query: SELECT id FROM users WHERE name = 'games'
  - id: sudo-no-nopasswd
    title: sudo asks for a password
    severity: medium
    query: SELECT id FROM sudo_grants WHERE nopasswd
)";

// Loads policy text, or fails the test.
inline std::shared_ptr<const policy::PolicySet> Policies(const std::string& text) {
  auto set = policy::LoadPolicyText(text, "test.yaml");
  EXPECT_TRUE(set.ok()) << set.status().ToString();
  return std::make_shared<const policy::PolicySet>(set.ok() ? *set : policy::PolicySet{});
}

class JudgedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.Host("/tidemark.db");
    auto s = SqliteStore::Open(db_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  // Stores a state of `host` (as sent with a certificate for `host`; the document itself says
  // it is `claimed`, the host by default) whose users are `users`; returns its sequence.
  int64_t Put(const std::string& host, const std::string& id, nlohmann::json users, int64_t at,
              const std::string& claimed = "") {
    Snapshot s;
    std::string name = claimed.empty() ? host : claimed;
    s.host = {name, name, "/"};
    s.collected_at = "2026-12-03T00:00:00Z";
    s.agent_version = "test";
    s.sections["accounts"].data = {{"users", std::move(users)}};
    std::string text = SerializeSnapshot(s);
    auto r = store_->PutSnapshot(MakeSnapshotInput(host, id, s, text, at));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto latest = store_->LatestState(host, std::nullopt);
    EXPECT_TRUE(latest.ok()) << latest.status().ToString();
    return latest.ok() ? latest->seq : -1;
  }

  // Judges everything stored against `policies` (rule YAML), as the collector does.
  void Judge(const std::string& policies) {
    auto set = policy::LoadPolicyText(policies, "p.yaml");
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    collector::Evaluator::Options o;
    o.db = db_;
    o.facts = FactsPathFor(db_);
    auto e = collector::Evaluator::Start(o, std::make_shared<const policy::PolicySet>(*set));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    ASSERT_TRUE((*e)->WaitIdle(std::chrono::seconds(20)));
  }

  TempRoot dir_;
  std::string db_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace tidemark::testing
