// The exception statuses (common/policy/exceptions.h, issue 11): what a state shows of an
// exception's covers, read from a host root during the cut-over as the real agent collects it
// (a vendor account in sudo with a NOPASSWD grant through aliases in sudoers.d, the vendor's
// key in root's authorized_keys, PasswordAuthentication in an sshd_config.d drop-in,
// ip_forward in sysctl.d) and after the clean-up; and every branch of the status decision,
// at its boundaries.
#include "common/policy/exceptions.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "common/policy/drift.h"
#include "common/policy/exception_output.h"
#include "common/policy/who.h"
#include "common/time.h"
#include "tests/common/policy/fact_db_support.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

using fixtures::Query;
using testing::TempRoot;

const char* kRules = R"(rules:
  - id: sysctl-ip-forward
    title: IP forwarding is off
    severity: medium
    vars: {key: {type: text, default: net.ipv4.ip_forward}}
    query: SELECT id FROM sysctl WHERE key = :key AND configured = '1'
)";

constexpr const char* kKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDJF6Jg/I3mEzIVW0Wok/IuQXiEA87wJE52XmyZt62Di "
    "vendor@example.org\n";

// The cut-over root; `cleaned` removes the vendor's account, grant and key (the drop-in and
// the sysctl setting stay).
void WriteRoot(TempRoot& root, bool cleaned) {
  root.Write("/etc/hostname", "web01\n");
  if (cleaned) {
    root.Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    root.Write("/etc/group", "root:x:0:\nsudo:x:27:\n");
    root.Write("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n", 0440);
    root.Mkdir("/etc/sudoers.d");
    root.Mkdir("/root/.ssh", 0700);
    root.Write("/root/.ssh/authorized_keys", "", 0600);
  } else {
    root.Write("/etc/passwd",
               "root:x:0:0:root:/root:/bin/bash\n"
               "vendor_ops:x:1001:1001:Vendor:/home/vendor_ops:/bin/bash\n");
    root.Write("/etc/group", "root:x:0:\nsudo:x:27:vendor_ops\nvendor_ops:x:1001:\n");
    root.Write("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n", 0440);
    root.Mkdir("/etc/sudoers.d");
    root.Write("/etc/sudoers.d/vendor",
               "User_Alias VENDOR = vendor_ops\nCmnd_Alias ANYTHING = ALL\n"
               "VENDOR ALL=(ALL) NOPASSWD: ANYTHING\n",
               0440);
    root.Mkdir("/root/.ssh", 0700);
    root.Write("/root/.ssh/authorized_keys", kKey, 0600);
  }
  root.Mkdir("/etc/ssh/sshd_config.d");
  root.Write("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n");
  root.Write("/etc/ssh/sshd_config.d/10-migration.conf", "PasswordAuthentication yes\n");
  root.Mkdir("/etc/sysctl.d");
  root.Write("/etc/sysctl.d/90-migration.conf", "net.ipv4.ip_forward = 1\n");
}

const char* kRegister = R"(exceptions:
  - id: MIG-1
    hosts: ["web*"]
    owner: {name: Jane Roe, email: jane.roe@example.org}
    ticket: CHG-1
    expires: 2026-12-01T00:00:00Z
    covers:
      - {table: users, where: {name: "vendor_*"}}
      - {table: group_members, where: {group: sudo, user: vendor_ops}}
      - {table: sudo_grants, where: {principal: "user:vendor_ops", nopasswd: true}}
      - {table: ssh_keys, where: {user: root, comment: vendor@example.org}}
  - id: MIG-2
    hosts: [web01]
    owner: {name: Jane Roe, phone: "+49 30 1"}
    ticket: CHG-2
    expires: 2026-12-01T00:00:00Z
    covers:
      - {table: sshd_settings, where: {keyword: passwordauthentication, value: "yes"}}
      - {rule: sysctl-ip-forward}
  - id: MIG-3
    hosts: [web01]
    owner: {name: Jane Roe, phone: "+49 30 1"}
    ticket: CHG-3
    expires: 2026-12-01T00:00:00Z
    covers:
      - {table: sudo_grants, where: {principal: "user:vendor_ops", nopasswd: false}}
)";

class ExceptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = LoadPolicyText(kRules, "rules.yaml");
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    rules_ = *rules;
    auto reg = LoadRegisterText(kRegister, "register.yaml", &rules_);
    ASSERT_TRUE(reg.ok()) << reg.status().ToString();
    reg_ = *reg;
  }

  CoverCheck Check(const FactDb& db, size_t exception) {
    StatusOr<CoverCheck> c = CheckCovers(db, reg_.exceptions.at(exception), "web01", &rules_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : CoverCheck{};
  }

  static std::string Items(const CoverCheck& c) {
    std::string out;
    for (const CoveredItem& i : c.items) {
      out += (i.table.empty() ? "rule " + i.rule : i.table) + " " + i.id + " " +
             SourceLocation(i.source_file, i.source_line) + " @" + std::to_string(i.cover_line) +
             "\n";
    }
    return out;
  }

  PolicySet rules_;
  Register reg_;
};

const std::vector<std::string> kSections = {"accounts", "sudo", "ssh_keys", "sshd", "sysctl"};

TEST_F(ExceptionsTest, FindsEveryCoveredItemWithWhereItIsWritten) {
  TempRoot root;
  WriteRoot(root, false);
  auto db = fixtures::Loaded(fixtures::Collect(root.path(), kSections));
  ASSERT_NE(db, nullptr);

  CoverCheck vendor = Check(*db, 0);
  EXPECT_TRUE(vendor.unreadable.empty()) << vendor.unreadable.front();
  // The glob finds the account; the grant through two aliases is found by its principal and
  // its NOPASSWD as a boolean; the key by its comment.
  std::string items = Items(vendor);
  EXPECT_NE(items.find("users user:vendor_ops /etc/passwd:2 @8\n"), std::string::npos) << items;
  EXPECT_NE(items.find("group_members "), std::string::npos) << items;
  EXPECT_NE(items.find("sudo_grants sudo:user:vendor_ops@ALL=(ALL)ALL /etc/sudoers.d/vendor:3 "
                       "@10\n"),
            std::string::npos)
      << items;
  EXPECT_NE(items.find(" /root/.ssh/authorized_keys:1 @11\n"), std::string::npos) << items;
  EXPECT_EQ(vendor.items.size(), 4u) << items;

  // A table cover and a rule cover (run with its variable's default).
  EXPECT_EQ(Items(Check(*db, 1)),
            "sshd_settings sshd_setting:passwordauthentication  @18\n"
            "rule sysctl-ip-forward sysctl:net.ipv4.ip_forward "
            "/etc/sysctl.d/90-migration.conf:1 @19\n");
  // A boolean matches by value: the grant is NOPASSWD, so `nopasswd: false` covers nothing.
  CoverCheck none = Check(*db, 2);
  EXPECT_TRUE(none.items.empty()) << Items(none);
  EXPECT_TRUE(none.unreadable.empty());
}

TEST_F(ExceptionsTest, AbsenceIsReadOnlyFromCompleteSections) {
  TempRoot root;
  WriteRoot(root, true);
  auto clean = fixtures::Loaded(fixtures::Collect(root.path(), kSections));
  ASSERT_NE(clean, nullptr);
  CoverCheck gone = Check(*clean, 0);
  EXPECT_TRUE(gone.items.empty()) << Items(gone);
  EXPECT_TRUE(gone.unreadable.empty());

  // Without the sudo and ssh_keys sections nothing says the grant and the key are gone.
  auto partial = fixtures::Loaded(fixtures::Collect(root.path(), {"accounts", "sysctl"}));
  ASSERT_NE(partial, nullptr);
  CoverCheck c = Check(*partial, 0);
  EXPECT_TRUE(c.items.empty());
  ASSERT_EQ(c.unreadable.size(), 2u);
  EXPECT_EQ(c.unreadable[0], "table sudo_grants: section sudo is not in the snapshot");
  EXPECT_EQ(c.unreadable[1], "table ssh_keys: section ssh_keys is not in the snapshot");
  CoverCheck rule = Check(*partial, 1);
  ASSERT_EQ(rule.unreadable.size(), 1u);
  EXPECT_EQ(rule.unreadable[0], "table sshd_settings: section sshd is not in the snapshot");
  // The rule's section is there: the rule ran and found the setting.
  ASSERT_EQ(rule.items.size(), 1u);
  EXPECT_EQ(rule.items[0].rule, "sysctl-ip-forward");
}

// ---------------------------------------------------------------------------------------------
// The decision, from a state's times and what it shows.

int64_t T(const char* text) { return *ParseRfc3339(text); }

class DecideTest : public ExceptionsTest {
 protected:
  // The status of MIG-1 (expires 2026-12-01) at `now`, from a state received at `received` and
  // last reported at `confirmed`, showing `present` items (or unreadable when `complete` is
  // false).
  ExceptionVerdict Decide(const char* now, const char* received, const char* confirmed,
                          bool present, bool complete = true, int64_t max_age = 26 * 3600) {
    StateEvidence s{"snap", T(received), T(confirmed)};
    CoverCheck c;
    if (present) c.items.push_back({"users", "", "user:vendor_ops", "/etc/passwd", 2, 9});
    if (!complete) c.unreadable.push_back("table sudo_grants: section sudo is partial");
    return DecideStatus(reg_.exceptions[0], "web01", s, c, T(now), max_age);
  }
};

TEST_F(DecideTest, BeforeTheExpiry) {
  ExceptionVerdict v =
      Decide("2026-11-30T23:59:59Z", "2026-11-30T00:00:00Z", "2026-11-30T12:00:00Z", true);
  EXPECT_EQ(v.status, ExceptionStatus::kActive);
  EXPECT_EQ(v.items.size(), 1u);
  ASSERT_TRUE(v.evidence.has_value()) << "no state evidence";
  EXPECT_EQ(v.evidence->snapshot_id, "snap");

  // Absent, complete and fresh before the expiry: revoked early, absent since the state came.
  v = Decide("2026-11-30T23:59:59Z", "2026-11-29T00:00:00Z", "2026-11-30T12:00:00Z", false);
  EXPECT_EQ(v.status, ExceptionStatus::kRevoked);
  EXPECT_TRUE(v.early);
  EXPECT_EQ(*v.absent_since, T("2026-11-29T00:00:00Z"));
  // Not when a covered section is incomplete, nor from evidence older than --max-age.
  EXPECT_EQ(
      Decide("2026-11-30T23:59:59Z", "2026-11-29T00:00:00Z", "2026-11-30T12:00:00Z", false, false)
          .status,
      ExceptionStatus::kUnverified);
  EXPECT_EQ(
      Decide("2026-11-30T23:59:59Z", "2026-11-29T00:00:00Z", "2026-11-29T21:59:58Z", false).status,
      ExceptionStatus::kUnverified);
}

TEST_F(DecideTest, AfterTheExpiryTheCollectorsReceiveTimeDecides) {
  // The expiry instant itself is past it; a state reported at the expiry counts as after it.
  ExceptionVerdict v =
      Decide("2026-12-01T00:00:00Z", "2026-11-20T00:00:00Z", "2026-12-01T00:00:00Z", true);
  EXPECT_EQ(v.status, ExceptionStatus::kLeftover);
  EXPECT_NE(v.reason.find("still present"), std::string::npos) << v.reason;
  // Last reported one second before the expiry: nothing is known about after it.
  v = Decide("2026-12-03T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-30T23:59:59Z", true);
  EXPECT_EQ(v.status, ExceptionStatus::kUnverified);
  EXPECT_EQ(v.reason,
            "no snapshot reported since the expiry 2026-12-01T00:00:00Z (the latest was last "
            "reported 2026-11-30T23:59:59Z)");
  // A state received before the expiry and reported again ("seen") after it proves absence.
  v = Decide("2026-12-03T00:00:00Z", "2026-11-20T00:00:00Z", "2026-12-02T23:00:00Z", false);
  EXPECT_EQ(v.status, ExceptionStatus::kRevoked);
  EXPECT_FALSE(v.early);
  // --max-age: 26 h by default, the boundary included.
  EXPECT_EQ(
      Decide("2026-12-03T02:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", false).status,
      ExceptionStatus::kRevoked);
  v = Decide("2026-12-03T02:00:01Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", false);
  EXPECT_EQ(v.status, ExceptionStatus::kUnverified);
  EXPECT_NE(v.reason.find("more than --max-age 26 hours"), std::string::npos) << v.reason;
  EXPECT_EQ(Decide("2026-12-10T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", false,
                   true, 9 * 86400)
                .status,
            ExceptionStatus::kRevoked);
  // A leftover stays a leftover when its evidence ages: nothing shows it was removed.
  EXPECT_EQ(
      Decide("2026-12-20T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", true).status,
      ExceptionStatus::kLeftover);
  // An item found in a partial section is there; absence in one is not proof.
  EXPECT_EQ(
      Decide("2026-12-03T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", true, false)
          .status,
      ExceptionStatus::kLeftover);
  v = Decide("2026-12-03T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", false, false);
  EXPECT_EQ(v.status, ExceptionStatus::kUnverified);
  EXPECT_EQ(v.reason, "absence cannot be read: table sudo_grants: section sudo is partial");
}

TEST_F(DecideTest, NoStateIsNeverRevoked) {
  ExceptionVerdict v = DecideStatus(reg_.exceptions[0], "web09", std::nullopt, std::nullopt,
                                    T("2027-01-01T00:00:00Z"), kDefaultMaxAgeSeconds);
  EXPECT_EQ(v.status, ExceptionStatus::kUnverified);
  EXPECT_EQ(v.reason, "no snapshot of this host received by 2027-01-01T00:00:00Z");
  EXPECT_FALSE(v.evidence);
  v = NoHostInScope(reg_.exceptions[0]);
  EXPECT_EQ(v.status, ExceptionStatus::kUnverified);
  EXPECT_EQ(v.reason, "no known host matches its hosts (web*)");
}

TEST_F(DecideTest, ScopeAndOrderAndExitCode) {
  EXPECT_TRUE(InScope(reg_.exceptions[0], "web17"));
  EXPECT_FALSE(InScope(reg_.exceptions[0], "db01"));
  EXPECT_TRUE(NamedHosts(reg_.exceptions[0]).empty());
  EXPECT_EQ(NamedHosts(reg_.exceptions[1]), std::vector<std::string>{"web01"});
  // The patterns are the rest (a backslash makes a pattern too): the fleet matches only these.
  EXPECT_EQ(HostPatterns(reg_.exceptions[0]), std::vector<std::string>{"web*"});
  EXPECT_TRUE(HostPatterns(reg_.exceptions[1]).empty());
  MigrationException mixed;
  mixed.hosts = {"db01", "app[12]", "odd\\name", "lb?"};
  EXPECT_EQ(NamedHosts(mixed), std::vector<std::string>{"db01"});
  EXPECT_EQ(HostPatterns(mixed), (std::vector<std::string>{"app[12]", "odd\\name", "lb?"}));

  std::vector<ExceptionVerdict> v;
  v.push_back(Decide("2026-12-03T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z",
                     false));  // revoked
  EXPECT_EQ(RevocationExitCode(v), 0);
  v.push_back(Decide("2026-12-03T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-02T00:00:00Z",
                     true));  // unverified
  EXPECT_EQ(RevocationExitCode(v), 6);
  v.push_back(Decide("2026-12-03T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z",
                     true));  // leftover
  EXPECT_EQ(RevocationExitCode(v), 5);
  SortVerdicts(v);
  EXPECT_EQ(v[0].status, ExceptionStatus::kLeftover);
  EXPECT_EQ(v[1].status, ExceptionStatus::kUnverified);
  EXPECT_EQ(v[2].status, ExceptionStatus::kRevoked);
}

// A cover can match up to a query's 100,000 rows: the outputs list kMaxVerdictItems of them and
// say how many there were.
TEST_F(DecideTest, OutputsListAtMostAThousandItemsAndSayHowMany) {
  ExceptionVerdict v = Decide("2026-12-03T00:00:00Z", "2026-12-02T00:00:00Z",
                              "2026-12-02T00:00:00Z", true);  // leftover
  v.items.clear();
  for (int i = 0; i < 1005; ++i) v.items.push_back({"users", "", "user:u" + std::to_string(i)});
  int64_t now = *ParseRfc3339("2026-12-03T00:00:00Z");
  nlohmann::json j = VerdictJson(v, now);
  EXPECT_EQ(j["items"].size(), kMaxVerdictItems);
  EXPECT_EQ(j["items_total"], 1005);
  std::ostringstream text, csv;
  PrintVerdictsText({v}, now, text);
  EXPECT_NE(text.str().find("\tuser:u999\n\t(and 5 more items)\n"), std::string::npos);
  EXPECT_EQ(text.str().find("user:u1000"), std::string::npos);
  PrintVerdictsCsv({v}, now, csv);
  EXPECT_NE(csv.str().find(" user:u999 (and 5 more),"), std::string::npos) << csv.str();
}

TEST_F(DecideTest, VerdictsMarkFindingsToleratedOnlyWhenEveryItemIsCovered) {
  Evaluation e;
  RuleResult users{"no-vendor", "t", Severity::kHigh, Outcome::kFail, {}, "", false};
  users.items.push_back({"user:vendor_ops", "", "/etc/passwd", 2, "", "", ""});
  RuleResult both = users;
  both.rule_id = "no-extra";
  both.items.push_back({"user:other", "", "/etc/passwd", 3, "", "", ""});
  e.results = {users, both};
  ExceptionVerdict active =
      Decide("2026-11-30T00:00:00Z", "2026-11-29T00:00:00Z", "2026-11-29T00:00:00Z", true);
  ASSERT_EQ(active.status, ExceptionStatus::kActive);
  ApplyVerdicts(e, {active});
  EXPECT_TRUE(e.results[1].tolerated);   // no-vendor: its one item covered
  EXPECT_FALSE(e.results[0].tolerated);  // no-extra: user:other is not covered
  EXPECT_EQ(e.results[0].items[0].exception, "MIG-1");
  EXPECT_EQ(e.results[0].items[0].exception_note,
            "active: MIG-1, 1 day left, owner Jane Roe, ticket CHG-1");
  EXPECT_EQ(e.results[0].items[1].exception, "");
  EXPECT_EQ(ExitCodeFor(e.results, Severity::kHigh), 3);
  e.results.erase(e.results.begin());
  EXPECT_EQ(ExitCodeFor(e.results, Severity::kHigh), 0);

  // A leftover outweighs an active exception on the same item, and is a critical failure.
  e.results = {users};
  ExceptionVerdict leftover =
      Decide("2026-12-03T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", true);
  ApplyVerdicts(e, {active, leftover});
  ASSERT_EQ(e.results.size(), 2u);
  EXPECT_EQ(e.results[0].rule_id, "exception:MIG-1");
  EXPECT_EQ(e.results[0].severity, Severity::kCritical);
  EXPECT_EQ(e.results[0].items[0].id, "user:vendor_ops");
  EXPECT_EQ(e.results[1].items[0].exception_status, "leftover");
  EXPECT_FALSE(e.results[1].tolerated);
}

// ---------------------------------------------------------------------------------------------
// who: every way in, from the cut-over root as the agent collects it.

std::string Ways(const WhoResult& r) {
  std::string out;
  for (const Access& a : r.access) {
    out += a.kind + (a.privileged ? "!" : "") + " " + a.detail + " @" +
           SourceLocation(a.source_file, a.source_line) + "\n";
  }
  return out;
}

WhoResult Find(const FactDb& db, const std::string& identity) {
  StatusOr<Identity> id = ParseIdentity(identity);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  if (!id.ok()) return WhoResult{};
  StatusOr<WhoResult> r = FindAccess(db, *id);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : WhoResult{};
}

const std::vector<std::string> kWhoSections = {"accounts", "sudo", "ssh_keys",
                                               "sshd",     "cron", "services"};

TEST(WhoTest, EveryWayInOfAUserAGroupAndAKey) {
  TempRoot root;
  WriteRoot(root, false);
  // Reaches vendor_ops through its group; the third line excludes it with !.
  root.Write("/etc/sudoers.d/ops",
             "%sudo ALL=(root) /usr/bin/systemctl\n#1001 ALL=(ALL) /usr/bin/id\n"
             "%sudo, !vendor_ops ALL=(ALL) /usr/bin/passwd\n",
             0440);
  root.Write("/etc/crontab", "0 3 * * * vendor_ops /opt/vendor/sync\n");
  auto db = fixtures::Loaded(fixtures::Collect(root.path(), kWhoSections));
  ASSERT_NE(db, nullptr);
  WhoResult r = Find(*db, "vendor_ops");
  EXPECT_TRUE(r.incomplete.empty()) << r.incomplete.front();
  EXPECT_EQ(Ways(r),
            "account uid 1001, shell /bin/bash (login shell), password no_shadow_entry "
            "@/etc/passwd:2\n"
            "group member of vendor_ops (gid 1001, primary) @/etc/passwd:2\n"
            "group! member of sudo (gid 27) @/etc/passwd:2\n"
            "sudo! group:sudo on ALL as user:root: /usr/bin/systemctl @/etc/sudoers.d/ops:1\n"
            "sudo! uid:1001 on ALL as ALL: /usr/bin/id @/etc/sudoers.d/ops:2\n"
            "sudo! user:vendor_ops on ALL as ALL: ALL (NOPASSWD) @/etc/sudoers.d/vendor:3\n"
            "cron runs /opt/vendor/sync at 0 3 * * * @/etc/crontab:1\n");

  // The key, by its fingerprint and by its comment's name; the group.
  std::string fingerprint = Query(*db, "SELECT fingerprint FROM ssh_keys")[0];
  fingerprint = fingerprint.substr(2, fingerprint.size() - 4);  // ["..."]
  EXPECT_EQ(Ways(Find(*db, fingerprint)),
            "key! opens root: ssh-ed25519 " + fingerprint +
                " vendor@example.org @/root/.ssh/authorized_keys:1\n");
  EXPECT_EQ(Ways(Find(*db, "vendor")), "key! a key named so opens root: ssh-ed25519 " +
                                           fingerprint +
                                           " vendor@example.org @/root/.ssh/authorized_keys:1\n");
  EXPECT_EQ(Ways(Find(*db, "group:sudo")),
            "group gid 27, members [\"vendor_ops\"] @/etc/group:2\n"
            "group! member vendor_ops @/etc/passwd:2\n"
            "sudo! group:sudo on ALL as user:root: /usr/bin/systemctl @/etc/sudoers.d/ops:1\n"
            "sudo! group:sudo on ALL as ALL: /usr/bin/passwd @/etc/sudoers.d/ops:3\n");

  // After the clean-up: nothing; without the sudo section, that absence is not proof.
  TempRoot clean;
  WriteRoot(clean, true);
  auto after = fixtures::Loaded(fixtures::Collect(clean.path(), kWhoSections));
  ASSERT_NE(after, nullptr);
  WhoResult none = Find(*after, "vendor_ops");
  EXPECT_EQ(Ways(none), "");
  EXPECT_TRUE(none.incomplete.empty());
  auto partial = fixtures::Loaded(fixtures::Collect(clean.path(), {"accounts", "ssh_keys"}));
  ASSERT_NE(partial, nullptr);
  WhoResult unsure = Find(*partial, "vendor_ops");
  EXPECT_EQ(Ways(unsure), "");
  EXPECT_EQ(unsure.incomplete,
            (std::vector<std::string>{
                "section cron is not in the snapshot", "section services is not in the snapshot",
                "section sshd is not in the snapshot", "section sudo is not in the snapshot"}));
  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"", "a user name, group:NAME or SHA256:... is needed"},
           {"group:", "a user name, group:NAME or SHA256:... is needed"},
           {"SHA256:", "a user name, group:NAME or SHA256:... is needed"},
           {"bad\x1b[2Kname", "holds a control character"}}) {
    auto id = ParseIdentity(text);
    EXPECT_FALSE(id.ok()) << text;
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(id.status().message(), "IDENTITY: " + why) << text;
  }
}

// ---------------------------------------------------------------------------------------------
// drift: by id, ignoring what changes by itself and where an item is written.

TEST(DriftTest, ChangesByIdWithTheStateFromWhichOnTheyHeld) {
  using json = nlohmann::json;
  auto file = [](int64_t mtime, const std::string& sha, int line) {
    return json{{"id", "file:/etc/passwd"},
                {"source_file", "/etc/passwd"},
                {"source_line", line},
                {"mtime", mtime},
                {"sha256", sha},
                {"mode", 420}};
  };
  StateRows a, b, c, d;
  a.sections = b.sections = c.sections = {{"files", "ok"}};
  d.sections = {{"files", "partial"}};
  a.tables["files"]["file:/etc/passwd"] = file(1, "x", 1);
  // mtime and where it is written changed: no drift.
  b.tables["files"]["file:/etc/passwd"] = file(2, "x", 7);
  EXPECT_TRUE(Diff(a, b).empty());
  std::vector<std::string> columns;
  EXPECT_FALSE(RowsDiffer("files", a.tables["files"]["file:/etc/passwd"],
                          b.tables["files"]["file:/etc/passwd"], &columns));
  // The content changed in c and stays so in d; a new file appears in d.
  c.tables["files"]["file:/etc/passwd"] = file(3, "y", 1);
  d.tables["files"]["file:/etc/passwd"] = file(4, "y", 1);
  d.tables["files"]["file:/etc/shadow"] = json{{"id", "file:/etc/shadow"}, {"mode", 416}};
  std::vector<Change> changes = DriftOver({a, b, c, d});
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].table, "sections");
  EXPECT_EQ(changes[0].kind, ChangeKind::kChanged);
  EXPECT_EQ(changes[0].first_state, 3u);
  EXPECT_EQ(changes[1].id, "file:/etc/passwd");
  EXPECT_EQ(changes[1].kind, ChangeKind::kChanged);
  EXPECT_EQ(changes[1].columns, std::vector<std::string>{"sha256"});
  EXPECT_EQ(changes[1].first_state, 2u);  // held from c on
  EXPECT_EQ(changes[2].id, "file:/etc/shadow");
  EXPECT_EQ(changes[2].kind, ChangeKind::kAdded);
  EXPECT_EQ(changes[2].first_state, 3u);
  // Back and forth: changed in b, back in c, changed again in d: held only from d on.
  StateRows e = a;
  e.tables["files"]["file:/etc/passwd"] = file(5, "z", 1);
  StateRows f = e;
  changes = DriftOver({a, e, a, f});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].first_state, 3u);
  // Removed.
  changes = Diff(a, StateRows{{}, {{"files", "ok"}}});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, ChangeKind::kRemoved);
  EXPECT_TRUE(changes[0].after.is_null());
}

}  // namespace
}  // namespace tidemark::policy
