// Every rule of the shipped baseline (policies/debian-12-server.yaml) against hosts the real
// agent collects: a base root that passes every rule, and per rule a root changed in one file
// that makes exactly that rule fail, with the failing items' ids asserted.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "agent/collect.h"
#include "common/policy/evaluate.h"
#include "common/policy/rules.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

const std::string kPolicyFile =
    std::string(TIDEMARK_FIXTURES_DIR) + "/../../policies/debian-12-server.yaml";

// A small Debian 12 server that follows the baseline.
const std::map<std::string, std::string> kBase = {
    {"/etc/hostname", "testhost\n"},
    {"/etc/passwd",
     "root:x:0:0:root:/root:/bin/bash\n"
     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
     "sync:x:4:65534:sync:/bin:/bin/sync\n"
     "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"},
    {"/etc/group",
     "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nsudo:x:27:\nnogroup:x:65534:\nalice:x:1000:\n"},
    {"/etc/shadow",
     "root:!:19000:0:99999:7:::\n"
     "daemon:*:19000:0:99999:7:::\n"
     "sync:*:19000:0:99999:7:::\n"
     "alice:$y$j9T$0123456789abcdef$0123456789abcdef0123456789abcdef0123456789a:19500:1:365:"
     "7:30::\n"},
    {"/etc/shells", "/bin/sh\n/bin/bash\n"},
    {"/etc/sudoers",
     "Defaults use_pty\n"
     "Defaults logfile=\"/var/log/sudo.log\"\n"
     "root ALL=(ALL:ALL) ALL\n"
     "%sudo ALL=(ALL:ALL) ALL\n"},
};

struct Case {
  std::string rule;
  std::map<std::string, std::string> files;  // replaced files (whole content)
  std::vector<std::string> ids;              // the failing items, in query order
};

std::string With(const std::string& path, const std::string& extra) {
  return kBase.at(path) + extra;
}

std::string Replace(const std::string& path, const std::string& from, const std::string& to) {
  std::string s = kBase.at(path);
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << path << ": " << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

const std::string kAliceShadow =
    "alice:$y$j9T$0123456789abcdef$0123456789abcdef0123456789abcdef0123456789a:19500:1:365:7:30::";

std::vector<Case> Cases() {
  return {
      {"accounts-uid0-only-root",
       {{"/etc/passwd", With("/etc/passwd", "toor:x:0:0::/root:/bin/bash\n")}},
       {"user:toor"}},
      {"accounts-root-gid-zero",
       {{"/etc/passwd", Replace("/etc/passwd", "root:x:0:0:", "root:x:0:1:")}},
       {"user:root"}},
      {"groups-gid0-only-root",
       {{"/etc/group", With("/etc/group", "wheel0:x:0:\n")}},
       {"group:wheel0"}},
      {"accounts-unique-uid",
       {{"/etc/passwd", With("/etc/passwd", "bob:x:1000:1000::/home/bob:/bin/bash\n")}},
       {"user:alice", "user:bob"}},
      {"groups-unique-gid",
       {{"/etc/group", With("/etc/group", "alice2:x:1000:\n")}},
       {"group:alice", "group:alice2"}},
      {"accounts-unique-name",
       {{"/etc/passwd", With("/etc/passwd", "alice:x:1001:1000::/home/a:/bin/bash\n")}},
       {"user:alice", "user:alice#2"}},
      {"groups-unique-name",
       {{"/etc/group", With("/etc/group", "sudo:x:28:\n")}},
       {"group:sudo", "group:sudo#2"}},
      {"accounts-passwords-shadowed",
       {{"/etc/passwd", Replace("/etc/passwd", "alice:x:", "alice:$6$salt$hash:")}},
       {"user:alice"}},
      {"accounts-no-empty-password",
       {{"/etc/shadow", Replace("/etc/shadow", kAliceShadow, "alice::19500:1:365:7:30::")}},
       {"user:alice"}},
      {"accounts-root-password-configured",
       {{"/etc/shadow", Replace("/etc/shadow", "root:!:19000:0:99999:7:::\n", "")}},
       {"user:root"}},
      {"accounts-password-max-age",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:1:99999:7:30::")}},
       {"user:alice"}},
      {"accounts-password-min-age",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:0:365:7:30::")}},
       {"user:alice"}},
      {"accounts-password-warn-age",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:1:365:3:30::")}},
       {"user:alice"}},
      {"accounts-inactive-lock",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:1:365:7:::")}},
       {"user:alice"}},
      {"accounts-strong-password-hash",
       {{"/etc/shadow", Replace("/etc/shadow", kAliceShadow,
                                "alice:$1$saltsalt$0123456789abcdefghijkl:19500:1:365:7:30::")}},
       {"user:alice"}},
      {"accounts-system-no-login-shell",
       {{"/etc/passwd",
         Replace("/etc/passwd", "/usr/sbin:/usr/sbin/nologin", "/usr/sbin:/bin/bash")}},
       {"user:daemon"}},
      {"accounts-primary-group-exists",
       {{"/etc/passwd", Replace("/etc/passwd", "alice:x:1000:1000:", "alice:x:1000:2000:")}},
       {"user:alice"}},
      {"groups-shadow-empty",
       {{"/etc/group", Replace("/etc/group", "shadow:x:42:", "shadow:x:42:alice")}},
       {"group_member:shadow:user:alice"}},
      {"accounts-privileged-members-documented",
       {{"/etc/group", Replace("/etc/group", "sudo:x:27:", "sudo:x:27:alice")}},
       {"privileged:sudo:alice"}},
      {"sudo-require-authentication",
       {{"/etc/sudoers", With("/etc/sudoers", "alice ALL=(ALL) NOPASSWD: /usr/bin/apt\n")}},
       {"sudo:user:alice@ALL=(ALL)/usr/bin/apt"}},
      {"sudo-no-authenticate-off",
       {{"/etc/sudoers", With("/etc/sudoers", "Defaults:alice !authenticate\n")}},
       {"sudo-defaults:user[user:alice]:authenticate"}},
      {"sudo-use-pty",
       {{"/etc/sudoers", Replace("/etc/sudoers", "Defaults use_pty\n", "")}},
       {"sudo-defaults:global:use_pty"}},
      {"sudo-logfile",
       {{"/etc/sudoers", Replace("/etc/sudoers", "Defaults logfile=\"/var/log/sudo.log\"\n", "")}},
       {"sudo-defaults:global:logfile"}},
      {"sudo-reauthentication-timeout",
       {{"/etc/sudoers", With("/etc/sudoers", "Defaults timestamp_timeout=60\n")}},
       {"sudo-defaults:global:timestamp_timeout"}},
      {"sudo-no-blanket-grant",
       {{"/etc/sudoers", With("/etc/sudoers", "ALL ALL=(ALL) ALL\n")}},
       {"sudo:ALL@ALL=(ALL)ALL"}},
  };
}

Evaluation EvaluateRoot(const PolicySet& set, const std::map<std::string, std::string>& changes) {
  testing::TempRoot root;
  for (const auto& [path, content] : kBase) {
    auto changed = changes.find(path);
    root.Write(path, changed != changes.end() ? changed->second : content,
               path == "/etc/shadow"    ? 0640
               : path == "/etc/sudoers" ? 0440
                                        : 0644);
  }
  agent::CollectRequest request;
  request.root = root.path();
  request.only = {"accounts", "sudo"};
  StatusOr<Snapshot> snapshot = agent::CollectSnapshot(request);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  if (!snapshot.ok()) return {};
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
  for (const Case& c : Cases()) with_case.insert(c.rule);
  for (const Rule& r : set_->rules) {
    EXPECT_TRUE(with_case.count(r.id)) << r.id << " has no failing fixture here";
    EXPECT_FALSE(r.references.empty()) << r.id << " has no references";
  }
  for (const std::string& id : with_case) EXPECT_NE(set_->FindRule(id), nullptr) << id;
}

TEST_F(Debian12RulesTest, TheBaseRootPassesEveryRule) {
  Evaluation e = EvaluateRoot(*set_, {});
  ASSERT_EQ(e.results.size(), set_->rules.size());
  for (const RuleResult& r : e.results) {
    EXPECT_EQ(r.outcome, Outcome::kPass)
        << r.rule_id << ": " << OutcomeName(r.outcome) << " " << r.message
        << (r.items.empty() ? "" : " first item " + r.items[0].id + " " + r.items[0].detail);
  }
}

TEST_F(Debian12RulesTest, EachChangeFailsItsRuleWithTheItemsIds) {
  for (const Case& c : Cases()) {
    Evaluation e = EvaluateRoot(*set_, c.files);
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
}

}  // namespace
}  // namespace tidemark::policy
