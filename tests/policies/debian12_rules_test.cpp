// Every rule of the shipped baseline (policies/debian-12-server.yaml) against hosts the real
// agent collects: a base root that passes every rule, and per rule a root changed in one file
// that makes exactly that rule fail, with the failing items' ids asserted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>

#include "agent/collect.h"
#include "common/policy/evaluate.h"
#include "common/policy/rules.h"
#include "common/snapshot.h"
#include "tests/policies/cases.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

const std::string kPolicyFile =
    std::string(TIDEMARK_FIXTURES_DIR) + "/../../policies/debian-12-server.yaml";

using cases::Case;
using cases::Root;

std::vector<Case> AllCases() {
  std::vector<Case> all;
  for (auto group : {cases::AccountsCases, cases::SshSysctlCases, cases::SystemCases}) {
    for (Case& c : group()) all.push_back(std::move(c));
  }
  return all;
}

bool IsRoot() { return geteuid() == 0; }

Evaluation EvaluateRoot(const PolicySet& set, const Case* change) {
  Root files = cases::RootFor(change);
  testing::TempRoot root;
  for (const auto& [path, file] : files) {  // path order: a directory before its files
    if (!file.symlink.empty()) {
      root.Symlink(path, file.symlink);
      continue;
    }
    if (file.directory) {
      root.Mkdir(path, file.mode);
    } else {
      root.Write(path, file.content, file.mode);
    }
    if (IsRoot()) {
      EXPECT_TRUE(root.Chown(path, file.uid, file.gid)) << path;
      root.Chmod(path, file.mode);  // chown(2) clears the setuid and setgid bits
    }
  }
  agent::CollectRequest request;
  request.root = root.path();
  request.only = cases::CollectedSections();
  StatusOr<Snapshot> snapshot = agent::CollectSnapshot(request);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  if (!snapshot.ok()) return {};
  // A fixture root has no sockets: the network section is made as a live host's would be.
  Section network;
  network.data["listeners"] = nlohmann::json::parse(
      change != nullptr && change->listeners ? *change->listeners : cases::BaseListeners());
  network.Finish();
  snapshot->sections["network"] = std::move(network);
  StatusOr<Evaluation> e = Evaluate(*snapshot, set);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? *e : Evaluation{};
}

class Debian12RulesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<PolicySet> set = LoadPolicies(kPolicyFile);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    set_ = new PolicySet(std::move(*set));
  }
  static void TearDownTestSuite() {
    delete set_;
    set_ = nullptr;
  }
  static PolicySet* set_;
};
PolicySet* Debian12RulesTest::set_ = nullptr;

TEST_F(Debian12RulesTest, EveryShippedRuleHasAFailingCaseAndReferences) {
  std::set<std::string> with_case;
  for (const Case& c : AllCases()) with_case.insert(c.rule);
  for (const Rule& r : set_->rules) {
    EXPECT_TRUE(with_case.count(r.id)) << r.id << " has no failing fixture here";
    EXPECT_FALSE(r.references.empty()) << r.id << " has no references";
  }
  for (const std::string& id : with_case) EXPECT_NE(set_->FindRule(id), nullptr) << id;
}

TEST_F(Debian12RulesTest, TheBaseRootPassesEveryRule) {
  Evaluation e = EvaluateRoot(*set_, nullptr);
  ASSERT_EQ(e.results.size(), set_->rules.size());
  for (const RuleResult& r : e.results) {
    EXPECT_EQ(r.outcome, Outcome::kPass)
        << r.rule_id << ": " << OutcomeName(r.outcome) << " " << r.message
        << (r.items.empty() ? "" : " first item " + r.items[0].id + " " + r.items[0].detail);
  }
}

TEST_F(Debian12RulesTest, EachChangeFailsItsRuleWithTheItemsIds) {
  size_t skipped = 0;
  for (const Case& c : AllCases()) {
    if (c.needs_root && !IsRoot()) {
      ++skipped;  // owners can only be set up as root (CI runs as root)
      continue;
    }
    Evaluation e = EvaluateRoot(*set_, &c);
    const RuleResult* result = nullptr;
    for (const RuleResult& r : e.results) {
      if (r.rule_id == c.rule) result = &r;
    }
    ASSERT_NE(result, nullptr) << c.rule;
    EXPECT_EQ(result->outcome, Outcome::kFail) << c.rule << ": " << result->message;
    std::vector<std::string> ids;
    for (const FindingItem& i : result->items) ids.push_back(i.id);
    EXPECT_EQ(ids, c.ids) << c.rule;
  }
  TIDEMARK_REQUIRE(skipped == 0, "root, for the cases that chown fixture files");
}

}  // namespace
}  // namespace tidemark::policy
