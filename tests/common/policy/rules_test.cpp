// Loading rules and baselines (YAML, strictly typed, all or nothing) and evaluating them
// against snapshots: pass, fail with items and sources, unknown for incomplete sections, error
// for failing queries; variables and baseline overrides; exit codes.
#include "common/policy/rules.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

#include "common/policy/evaluate.h"
#include "common/policy/register.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

using json = nlohmann::json;

constexpr const char* kRules = R"(
rules:
  - id: accounts-uid0-only-root
    title: Only root has UID 0
    severity: high
    rationale: Every UID 0 account is root.
    remediation: Give the account another UID or remove it.
    references: {cis_debian12: "5.4.2.1", ssg: accounts_no_uid_except_zero}
    query: |
      SELECT id, 'uid 0: ' || name AS detail FROM users WHERE uid = 0 AND name <> 'root'
  - id: sudo-no-nopasswd
    title: sudo asks for a password
    severity: medium
    query: SELECT id, principal AS detail FROM sudo_grants WHERE nopasswd
  - id: accounts-min-uid-login
    title: Human accounts start at the first regular UID
    severity: low
    vars:
      first_uid: {type: integer, default: 1000, description: UID_MIN}
      allowed: {type: list, default: [root, sync]}
    query: |
      SELECT id FROM users
      WHERE login_shell AND uid < :first_uid
        AND name NOT IN (SELECT value FROM json_each(:allowed))
)";

Snapshot MakeSnapshot(const std::string& host, json users,
                      SectionStatus status = SectionStatus::kOk) {
  Snapshot s;
  s.host = {host, host, "/"};
  s.collected_at = "2026-12-03T00:00:00Z";
  s.agent_version = "test";
  Section accounts;
  accounts.data = {{"users", std::move(users)}};
  accounts.status = status;
  if (status != SectionStatus::kOk) accounts.errors.push_back({"/etc/shadow", std::nullopt, "x"});
  s.sections["accounts"] = accounts;
  return s;
}

json User(const std::string& name, int uid, bool login = true, int line = 1) {
  return {{"id", "user:" + name}, {"name", name},         {"uid", uid},
          {"gid", uid},           {"login_shell", login}, {"source", {{"line", line}}}};
}

const RuleResult& Result(const Evaluation& e, const std::string& rule) {
  for (const RuleResult& r : e.results) {
    if (r.rule_id == rule) return r;
  }
  static RuleResult none;
  ADD_FAILURE() << "no result for " << rule;
  return none;
}

TEST(RulesTest, LoadsRulesWithTheirFields) {
  StatusOr<PolicySet> set = LoadPolicyText(kRules, "rules.yaml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->rules.size(), 3u);
  const Rule* r = set->FindRule("accounts-uid0-only-root");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->severity, Severity::kHigh);
  EXPECT_EQ(r->references.at("cis_debian12"), "5.4.2.1");
  EXPECT_EQ(r->line, 3);
  const Rule* v = set->FindRule("accounts-min-uid-login");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->vars.at("first_uid").value, 1000);
  EXPECT_EQ(v->vars.at("allowed").value, (json{"root", "sync"}));
}

TEST(RulesTest, EvaluatesPassFailUnknownAndError) {
  std::string text = std::string(kRules) + R"(
  - id: broken-at-runtime
    title: A query that fails when it runs
    severity: info
    query: SELECT id FROM users WHERE json_extract('{', '$.a') IS NULL
)";
  StatusOr<PolicySet> set = LoadPolicyText(text, "rules.yaml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();

  Snapshot s = MakeSnapshot(
      "web01", json::array({User("root", 0, true, 1), User("toor", 0, true, 7),
                            User("daemon", 1, false, 2), User("alice", 1000, true, 3)}));
  StatusOr<Evaluation> e = Evaluate(s, *set);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->content_hash, ContentHash(s));
  const RuleResult& uid0 = Result(*e, "accounts-uid0-only-root");
  EXPECT_EQ(uid0.outcome, Outcome::kFail);
  ASSERT_EQ(uid0.items.size(), 1u);
  EXPECT_EQ(uid0.items[0].id, "user:toor");
  EXPECT_EQ(uid0.items[0].detail, "uid 0: toor");
  // The source comes from the row with that id (default file restored).
  EXPECT_EQ(uid0.items[0].source_file, "/etc/passwd");
  EXPECT_EQ(uid0.items[0].source_line, 7);
  // toor also logs in below the first regular UID without being allowed to.
  ASSERT_EQ(Result(*e, "accounts-min-uid-login").items.size(), 1u);
  EXPECT_EQ(Result(*e, "accounts-min-uid-login").items[0].id, "user:toor");
  // The sudo section is not in the snapshot: no row is not a pass.
  const RuleResult& sudo = Result(*e, "sudo-no-nopasswd");
  EXPECT_EQ(sudo.outcome, Outcome::kUnknown);
  EXPECT_NE(sudo.message.find("section sudo is not in the snapshot"), std::string::npos);
  EXPECT_EQ(Result(*e, "broken-at-runtime").outcome, Outcome::kError);
  EXPECT_NE(Result(*e, "broken-at-runtime").message.find("rule broken-at-runtime"),
            std::string::npos);
  EXPECT_EQ(ExitCodeFor(e->results, Severity::kHigh), 3);
  EXPECT_EQ(ExitCodeFor(e->results, Severity::kCritical), 0);

  // A partial section: an empty answer is unknown, a violating row still a failure.
  Snapshot partial = MakeSnapshot("web01", json::array({User("root", 0)}), SectionStatus::kPartial);
  e = Evaluate(partial, *set);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Result(*e, "accounts-uid0-only-root").outcome, Outcome::kUnknown);
  EXPECT_NE(Result(*e, "accounts-uid0-only-root").message.find("section accounts is partial"),
            std::string::npos);
  EXPECT_EQ(ExitCodeFor(e->results, Severity::kHigh), 4);
  Snapshot partial_bad =
      MakeSnapshot("web01", json::array({User("toor", 0)}), SectionStatus::kPartial);
  e = Evaluate(partial_bad, *set);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Result(*e, "accounts-uid0-only-root").outcome, Outcome::kFail);

  // A rule about absence returns a row when the table is empty; without the section that row
  // proves nothing: unknown, never fail.
  StatusOr<PolicySet> absence = LoadPolicyText(R"(
rules:
  - id: sudo-use-pty
    title: sudo runs commands in a pseudo-terminal
    severity: high
    query: |
      SELECT 'sudo-defaults:use_pty' AS id WHERE NOT EXISTS
        (SELECT 1 FROM sudo_defaults WHERE name = 'use_pty' AND NOT negated)
)",
                                               "a.yaml");
  ASSERT_TRUE(absence.ok()) << absence.status().ToString();
  e = Evaluate(s, *absence);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Result(*e, "sudo-use-pty").outcome, Outcome::kUnknown);
  EXPECT_NE(Result(*e, "sudo-use-pty").message.find("section sudo is not in the snapshot"),
            std::string::npos);
  Snapshot with_sudo = s;
  with_sudo.sections["sudo"].data = {{"defaults", json::array()}};
  e = Evaluate(with_sudo, *absence);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Result(*e, "sudo-use-pty").outcome, Outcome::kFail);
  EXPECT_EQ(Result(*e, "sudo-use-pty").items.at(0).id, "sudo-defaults:use_pty");
}

TEST(RulesTest, VariablesAndBaselineOverrides) {
  std::string text = std::string(kRules) + R"(
baselines:
  - id: strict
    title: Stricter on web hosts
    hosts: ["web*"]
    rules: ["accounts-*"]
    vars: {first_uid: 2000, accounts-min-uid-login.allowed: [root]}
  - id: default
    hosts: ["*"]
    rules: ["*"]
)";
  StatusOr<PolicySet> set = LoadPolicyText(text, "p.yaml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  json users = json::array({User("root", 0), User("sync", 4), User("alice", 1500)});
  StatusOr<Evaluation> web = Evaluate(MakeSnapshot("web01", users), *set);
  ASSERT_TRUE(web.ok()) << web.status().ToString();
  const RuleResult& r = Result(*web, "accounts-min-uid-login");
  EXPECT_EQ(r.outcome, Outcome::kFail);
  std::vector<std::string> ids;
  for (const auto& i : r.items) ids.push_back(i.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"user:sync", "user:alice"}));
  // db01 gets only the default baseline: defaults apply, and it has every rule.
  StatusOr<Evaluation> db = Evaluate(MakeSnapshot("db01", users), *set);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Result(*db, "accounts-min-uid-login").outcome, Outcome::kPass);
  EXPECT_EQ(db->results.size(), 3u);
  // A host no baseline names gets no rule.
  set->baselines.erase(set->baselines.begin() + 1);
  StatusOr<Evaluation> none = Evaluate(MakeSnapshot("db01", users), *set);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->results.empty());
}

TEST(RulesTest, BadPolicyFilesNameFileLineAndRule) {
  struct Case {
    std::string yaml;
    std::string says;
  };
  const std::string head = "rules:\n  - id: r1\n    title: t\n    severity: high\n";
  for (const Case& c : std::vector<Case>{
           {"rules: [\n", "p.yaml:2: YAML error"},
           // A second document would be ignored by a plain load: its rules would not apply.
           {head + "    query: SELECT id FROM users\n---\n" + head +
                "    query: SELECT id FROM users\n",
            "p.yaml:7: YAML error: a second document begins here"},
           // An empty second document too (named where the file ends).
           {head + "    query: SELECT id FROM users\n---\n",
            "p.yaml:7: YAML error: a second document begins here"},
           {"rules: " + std::string(3000, '[') + std::string(3000, ']') + "\n",
            "p.yaml:1: YAML error: nested deeper than "},  // yaml-cpp's limit (500 in 0.7.0)
           {"rule: []\n", "p.yaml:1: a policy file: unknown key 'rule'"},
           {head + "    query: SELECT id FROM users\n    severty: low\n",
            "p.yaml:6: a rule: unknown key 'severty'"},
           {head + "    query: SELECT id FROM users\n" + head.substr(7) +
                "    query: SELECT id FROM users\n",
            "rule r1: duplicate rule id (first defined at p.yaml:2)"},
           {"rules:\n  - id: r1\n    title: t\n    severity: urgent\n    query: SELECT id FROM "
            "users\n",
            "p.yaml:4: rule r1: unknown severity 'urgent'"},
           {head + "    query: DELETE FROM users\n",
            "p.yaml:5: rule r1: query: not allowed in a query: delete"},
           {head + "    query: SELECT id FROM user\n",
            "rule r1: query: SQL error: no such table: user"},
           {head + "    query: SELECT id FROM users WHERE colour = 1\n",
            "query: SQL error: no such column: colour"},
           {head + "    query: SELECT id FROM users; SELECT 1\n", "more than one statement"},
           {head + "    query: SELECT id FROM users WHERE uid < :min\n",
            "query: parameter :min is not a declared variable"},
           {head + "    vars: {min: {type: integer, default: 0644}}\n    query: SELECT 1 AS id\n",
            "variable 'min' is an integer: write it in decimal without a leading zero, not '0644'"},
           {head + "    vars: {on: {type: boolean, default: yes}}\n    query: SELECT 1 AS id\n",
            "variable 'on' is boolean: write true or false, not 'yes'"},
           {head + "    query: SELECT id FROM users\nbaselines:\n  - id: b\n    hosts: ['*']\n"
                   "    rules: [nothing*]\n",
            "baseline b: 'nothing*' selects no rule"},
           {head + "    query: SELECT id FROM users\nbaselines:\n  - id: b\n    hosts: ['*']\n"
                   "    rules: ['*']\n    vars: {first_uid: 5}\n",
            "baseline b: override 'first_uid' names no variable of the rules it selects"},
       }) {
    StatusOr<PolicySet> set = LoadPolicyText(c.yaml, "p.yaml");
    ASSERT_FALSE(set.ok()) << c.yaml;
    EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(set.status().message().find(c.says), std::string::npos)
        << c.yaml << "\n=> " << set.status().message();
  }
}

TEST(RulesTest, YamlImplicitTypingNeverBitesText) {
  // `no`, `0644`, `1` and `on` are text where text is meant: a title, a reference.
  StatusOr<PolicySet> set = LoadPolicyText(
      "rules:\n  - id: r1\n    title: no\n    severity: low\n    references: {cis: 0644, x: on}\n"
      "    query: SELECT id FROM users\n",
      "p.yaml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->rules[0].title, "no");
  EXPECT_EQ(set->rules[0].references.at("cis"), "0644");
  EXPECT_EQ(set->rules[0].references.at("x"), "on");
}

// A snapshot made to be slow cannot hold the evaluator for rules x the per-query limit: the
// rules of one evaluation share a budget, and those left are errors that say why.
TEST(RulesTest, TheRulesOfOneEvaluationShareATimeBudget) {
  const std::string endless =
      "    query: |\n"
      "      WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)\n"
      "      SELECT x AS id FROM c, users WHERE x < 0\n";
  std::string text = "rules:\n";
  for (const char* id : {"a-slow", "b-slow", "c-slow"}) {
    text += std::string("  - id: ") + id + "\n    title: t\n    severity: low\n" + endless;
  }
  StatusOr<PolicySet> set = LoadPolicyText(text, "slow.yaml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  QueryLimits limits;
  limits.max_total_millis = 300;
  auto started = std::chrono::steady_clock::now();
  StatusOr<Evaluation> e =
      Evaluate(MakeSnapshot("web01", json::array({User("root", 0)})), *set, limits);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_LT(took, std::chrono::seconds(5));  // not 3 x 10 s
  ASSERT_EQ(e->results.size(), 3u);
  EXPECT_EQ(e->results[0].outcome, Outcome::kError);
  EXPECT_NE(e->results[0].message.find("query stopped: ran longer than"), std::string::npos)
      << e->results[0].message;
  EXPECT_EQ(e->results[2].outcome, Outcome::kError);
  EXPECT_NE(e->results[2].message.find("not run: the rules of this snapshot ran longer than 300"),
            std::string::npos)
      << e->results[2].message;
}

TEST(RulesTest, LoadsADirectoryAllOrNothing) {
  testing::TempRoot dir;
  dir.Write("/p/10-accounts.yaml", kRules);
  dir.Write("/p/20-base.yml", "baselines:\n  - id: b\n    hosts: ['*']\n    rules: ['*']\n");
  dir.Write("/p/README.md", "not a policy");
  StatusOr<PolicySet> set = LoadPolicies(dir.Host("/p"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->rules.size(), 3u);
  EXPECT_EQ(set->baselines.size(), 1u);
  dir.Write("/p/30-bad.yaml", "rules:\n  - id: bad\n");
  set = LoadPolicies(dir.Host("/p"));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("30-bad.yaml:2: a rule: 'query' is missing"),
            std::string::npos)
      << set.status().message();
  auto nothing = LoadPolicies(dir.Host("/nothing"));
  EXPECT_FALSE(nothing.ok());
  EXPECT_EQ(nothing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(nothing.status().message().find("/nothing: no such file"), std::string::npos)
      << nothing.status().message();
  // A FIFO in a policy file's place is refused at once: reading it would wait for a writer, and
  // the collector loads its policies again on SIGHUP.
  std::string fifo = dir.Host("/p.yaml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto from_fifo = LoadPolicies(fifo);
  EXPECT_EQ(from_fifo.status().code(), StatusCode::kWrongType);
  EXPECT_NE(from_fifo.status().message().find("p.yaml: not a regular file"), std::string::npos)
      << from_fifo.status().message();
  // So is a register there.
  StatusOr<PolicySet> rules = LoadPolicyText(kRules, "r.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  auto register_fifo = LoadRegister(fifo, &*rules);
  EXPECT_EQ(register_fifo.status().code(), StatusCode::kWrongType);
}

}  // namespace
}  // namespace tidemark::policy
