// The exception register's loader (common/policy/register.h, docs/exceptions.md): the issue's
// worked example loads with its values typed and its effective expiry; every refusal names the
// file, line and entry, and nothing of a bad register is returned.
#include "common/policy/register.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "common/time.h"

namespace tidemark::policy {
namespace {

using json = nlohmann::json;

const char* kRules = R"(rules:
  - id: sshd-permit-root-login
    title: t
    severity: high
    rationale: r
    remediation: r
    references: {cis_debian12: "5.1.20"}
    query: SELECT id FROM sshd_settings WHERE keyword = 'permitrootlogin' AND value = 'yes'
)";

const char* kExample = R"(phases:
  - id: cutover
    ends: 2026-12-31T23:59:59Z
exceptions:
  - id: MIG-2041
    title: Vendor operations needs root through sudo during the cut-over
    hosts: ["web*", "db01"]
    phase: cutover
    owner: {name: Jane Roe, organisation: Example Provider, email: jane.roe@example.org, phone: "+49 30 1234567", availability: "Mon-Fri 08-18 CET"}
    contact: {name: John Doe, email: john.doe@example.com}
    ticket: CHG-1234
    reason: Database migration scripts run as root
    granted: 2026-11-01T00:00:00Z
    expires: 2026-12-01T00:00:00+01:00
    covers:
      - {table: users, where: {name: vendor_ops}}
      - {table: group_members, where: {group: sudo, user: vendor_ops}}
      - {table: sudo_grants, where: {principal: "user:vendor_ops", nopasswd: true}}
      - {table: ssh_keys, where: {user: root, fingerprint: "SHA256:abc"}}
      - {table: sshd_settings, where: {keyword: passwordauthentication, value: yes}}
      - {table: sysctl, where: {key: net.ipv4.ip_forward, configured: "1"}}
      - {table: users, where: {uid: 0, id: "user:*"}}
      - {rule: sshd-permit-root-login}
  - id: MIG-2042
    hosts: [db01]
    owner: {name: Max, phone: "+49 1"}
    ticket: CHG-9
    expires: 2027-02-01T00:00:00Z
    phase: cutover
    covers: [{table: listeners, where: {port: 8080}}]
)";

class RegisterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = LoadPolicyText(kRules, "rules.yaml");
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    rules_ = std::move(*rules);
  }
  // The error of loading `yaml`, or "" when it loads.
  std::string Refusal(const std::string& yaml) {
    auto r = LoadRegisterText(yaml, "reg.yaml", &rules_);
    return r.ok() ? "" : r.status().message();
  }
  PolicySet rules_;
};

TEST_F(RegisterTest, TheWorkedExampleLoadsTyped) {
  auto r = LoadRegisterText(kExample, "reg.yaml", &rules_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->phases.size(), 1u);
  ASSERT_EQ(r->exceptions.size(), 2u);
  const MigrationException& e = r->exceptions[0];
  EXPECT_EQ(e.id, "MIG-2041");
  EXPECT_EQ(e.line, 5);
  EXPECT_EQ(e.hosts, (std::vector<std::string>{"web*", "db01"}));
  EXPECT_EQ(e.owner.email, "jane.roe@example.org");
  EXPECT_EQ(e.owner.phone, "+49 30 1234567");
  ASSERT_TRUE(e.contact.has_value());
  EXPECT_EQ(e.contact->name, "John Doe");
  EXPECT_EQ(e.ticket, "CHG-1234");
  // The offset counts: 2026-12-01T00:00:00+01:00 is 2026-11-30T23:00:00Z, before the phase's end.
  EXPECT_EQ(FormatRfc3339(e.expires), "2026-11-30T23:00:00Z");
  EXPECT_EQ(e.effective_expiry, e.expires);
  EXPECT_EQ(FormatRfc3339(*e.granted), "2026-11-01T00:00:00Z");
  ASSERT_EQ(e.covers.size(), 8u);
  EXPECT_EQ(e.covers[2].where.at("nopasswd"), json(true));  // a boolean column
  // YAML's `yes` stays text in a text column; "1" stays text; 0 in an integer column is 0.
  EXPECT_EQ(e.covers[4].where.at("value"), json("yes"));
  EXPECT_EQ(e.covers[5].where.at("configured"), json("1"));
  EXPECT_EQ(e.covers[6].where.at("uid"), json(0));
  EXPECT_EQ(e.covers[6].where.at("id"), json("user:*"));
  EXPECT_EQ(e.covers[7].rule, "sshd-permit-root-login");
  EXPECT_EQ(e.covers[7].line, 23);
  // The phase ends before the second exception's own expiry: the phase decides.
  EXPECT_EQ(FormatRfc3339(r->exceptions[1].effective_expiry), "2026-12-31T23:59:59Z");
  EXPECT_EQ(r->exceptions[1].covers[0].where.at("port"), json(8080));
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST_F(RegisterTest, EveryRefusalNamesFileLineAndEntry) {
  const std::string ex = kExample;
  struct Case {
    std::string yaml, error;
  };
  const std::vector<Case> cases = {
      {Replace(ex, "    ticket: CHG-1234\n", ""),
       "reg.yaml:5: exception MIG-2041: exception: 'ticket' is missing"},
      {Replace(ex, "  - id: MIG-2042\n", "  - title: no id\n"),
       "reg.yaml:24: exception: exception: 'id' is missing"},
      {Replace(ex, "email: jane.roe@example.org, phone: \"+49 30 1234567\", ", ""),
       "reg.yaml:9: exception MIG-2041: owner: give at least one of 'email' and 'phone'"},
      {Replace(ex, "    owner: {name: Max, phone: \"+49 1\"}\n", ""),
       "reg.yaml:24: exception MIG-2042: exception: 'owner' is missing"},
      {Replace(ex, "    reason: Database", "    reson: Database"),
       "reg.yaml:12: exception MIG-2041: exception: unknown key 'reson'"},
      {Replace(ex, "MIG-2042", "MIG-2041"), "reg.yaml:24: exception id 'MIG-2041' given twice"},
      {Replace(ex, "{table: users, where: {name: vendor_ops}}",
               "{table: accounts, where: {name: vendor_ops}}"),
       "reg.yaml:16: exception MIG-2041: covers: unknown table 'accounts'"},
      {Replace(ex, "where: {name: vendor_ops}", "where: {login: vendor_ops}"),
       "reg.yaml:16: exception MIG-2041: covers: table 'users' has no column 'login'"},
      {Replace(ex, "{rule: sshd-permit-root-login}", "{rule: no-such-rule}"),
       "reg.yaml:23: exception MIG-2041: covers: unknown rule 'no-such-rule'"},
      {Replace(ex, "    phase: cutover\n    owner: {name: Jane",
               "    phase: go-live\n    owner: {name: Jane"),
       "reg.yaml:8: exception MIG-2041: unknown phase 'go-live'"},
      {Replace(ex, "expires: 2026-12-01T00:00:00+01:00", "expires: 2026-12-01"),
       "reg.yaml:14: exception MIG-2041: 'expires' must be an instant with its timezone"},
      {Replace(ex, "expires: 2026-12-01T00:00:00+01:00", "expires: 2026-12-01T00:00:00"),
       "reg.yaml:14: exception MIG-2041: 'expires' must be an instant with its timezone"},
      {Replace(ex, "granted: 2026-11-01T00:00:00Z", "granted: 2026-12-02T00:00:00Z"),
       "reg.yaml:13: exception MIG-2041: 'granted' is after 'expires'"},
      {Replace(ex, "nopasswd: true", "nopasswd: yes"),
       "reg.yaml:18: exception MIG-2041: 'nopasswd' is a boolean column: true or false, not 'yes'"},
      {Replace(ex, "where: {port: 8080}", "where: {port: http}"),
       "reg.yaml:30: exception MIG-2042: 'port' is an integer column: 'http'"},
      {Replace(ex, "    covers: [{table: listeners, where: {port: 8080}}]\n", "    covers: []\n"),
       "reg.yaml:30: exception MIG-2042: 'covers' needs at least one entry"},
      {Replace(ex, "    hosts: [db01]\n", "    hosts: []\n"),
       "reg.yaml:25: exception MIG-2042: 'hosts' needs at least one glob"},
      {Replace(ex, "exceptions:\n", "exception:\n"),
       "reg.yaml:4: the register: unknown key 'exception'"},
      {"exceptions: [\n", "reg.yaml:2: YAML error"},
      // A second document would be ignored by a plain load: its exceptions would not exist.
      {ex + "---\nexceptions: []\n",
       "reg.yaml:" + std::to_string(std::count(ex.begin(), ex.end(), '\n') + 2) +
           ": YAML error: a second document begins here"},
      {"exceptions: " + std::string(3000, '[') + std::string(3000, ']') + "\n",
       "reg.yaml:1: YAML error: nested deeper than "},  // yaml-cpp's limit (500 in 0.7.0)
  };
  for (const Case& c : cases) {
    std::string error = Refusal(c.yaml);
    EXPECT_EQ(error.substr(0, c.error.size()), c.error) << "got: " << error;
  }
  // Without the rules, a rule cover cannot be checked: refused.
  auto no_rules = LoadRegisterText(kExample, "reg.yaml", nullptr);
  EXPECT_FALSE(no_rules.ok());
  EXPECT_EQ(no_rules.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_rules.status().message().find(
                "reg.yaml:23: exception MIG-2041: covers: unknown rule 'sshd-permit-root-login'"),
            std::string::npos)
      << no_rules.status().message();
}

}  // namespace
}  // namespace tidemark::policy
