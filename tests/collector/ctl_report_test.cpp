// `tidemarkctl report` golden tests (issue 12): the fleet of report_fixture.h reported on its
// third night in JSON, CSV, text and JUnit XML, each compared whole with
// tests/fixtures/report/night2.*. The JUnit file is also read by a real XML parser (libxml2's
// xmllint) and validated against the JUnit schema's required elements
// (tests/fixtures/report/junit.xsd). TIDEMARK_UPDATE_GOLDEN=1 rewrites the golden files (then
// read the diff before committing it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "collector/ctl/report/html.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "tests/collector/report_fixture.h"
#include "tests/support/require.h"

namespace tidemark::ctl {
namespace {

using json = nlohmann::json;

const std::string kGoldenDir = std::string(TIDEMARK_FIXTURES_DIR) + "/report";

std::string ReadFile(const std::string& path) {
  StatusOr<std::string> text = ReadRegularFile(path, 16 << 20);
  EXPECT_TRUE(text.ok()) << path << ": " << text.status().ToString();
  return text.ok() ? *text : std::string();
}

// Compares `actual` with the golden file `name`, or rewrites it (TIDEMARK_UPDATE_GOLDEN=1).
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = kGoldenDir + "/" + name;
  const char* update = std::getenv("TIDEMARK_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::string golden = ReadFile(path);
  if (name.size() > 5 && name.substr(name.size() - 5) == ".json") {
    // Compared as documents, so that a difference is shown as a JSON patch, not two documents.
    json a = json::parse(actual, nullptr, false), g = json::parse(golden, nullptr, false);
    ASSERT_FALSE(a.is_discarded()) << actual;
    EXPECT_TRUE(a == g) << name << " differs (TIDEMARK_UPDATE_GOLDEN=1 rewrites it); the patch "
                        << "from golden to actual:\n"
                        << json::diff(g, a).dump(2);
    EXPECT_TRUE(actual == golden) << name << " differs in its layout";
    return;
  }
  EXPECT_EQ(actual, golden) << name << " differs (TIDEMARK_UPDATE_GOLDEN=1 rewrites it)";
}

class CtlReportTest : public testing::ReportFleetTest {};

TEST_F(CtlReportTest, EveryFormatMatchesItsGoldenFile) {
  const std::string out = dir_.Host("/out");
  CtlRun r = Report(testing::kNight2, {"--no-record", "--format", "json", "--out", out + ".json",
                                       "--format", "csv", "--out", out + ".csv", "--format",
                                       "junit", "--out", out + ".xml", "--format", "text"});
  EXPECT_EQ(r.code, 5) << r.err;  // MIG-2 is a leftover
  ExpectGolden("night2.txt", Normalized(r.out));
  ExpectGolden("night2.json", Normalized(ReadFile(out + ".json")));
  ExpectGolden("night2.csv", Normalized(ReadFile(out + ".csv")));
  ExpectGolden("night2.xml", Normalized(ReadFile(out + ".xml")));

  // What the golden files must show, asserted by name so that a rewrite cannot lose it.
  json j = json::parse(ReadFile(out + ".json"));
  const json& s = j["summary"];
  EXPECT_EQ(s["hosts_stale"], json::array({"db01"}));
  EXPECT_EQ(s["exceptions"],
            json({{"leftover", 1}, {"unverified", 1}, {"active", 1}, {"revoked", 1}}));
  EXPECT_EQ(s["previous_report"], testing::kNight1);
  EXPECT_EQ(s["hosts_changed_since_previous"], json::array({"app01", "web02"}));  // web01 same
  EXPECT_EQ(s["revoked_since_previous"],
            json::array({{{"exception", "MIG-3"}, {"host", "app01"}}}));
  EXPECT_EQ(s["baseline_findings"], 1);  // operator, UID 0, on web02 since its baseline
  std::vector<std::string> order;
  for (const json& v : j["exceptions"]) order.push_back(v["status"].get<std::string>());
  EXPECT_EQ(order, (std::vector<std::string>{"leftover", "unverified", "active", "revoked"}));
  // The contacts: the register's owners and contacts, and who approved web02's baseline.
  ASSERT_EQ(j["contacts"].size(), 4u);
  EXPECT_EQ(j["contacts"][3]["role"], "baseline approver");
  EXPECT_EQ(j["contacts"][3]["name"], "Jane Roe");
  EXPECT_EQ(j["contacts"][3]["baselines"], json::array({"web02"}));
}

// Each host's access rights on the page, each with the open exception that covers it; a part
// whose section was not collected says so instead of "none".
TEST_F(CtlReportTest, ThePageShowsAccessRightsAndWhoseTheyAre) {
  CtlRun r = Report(testing::kNight2, {"--no-record", "--format", "html"});
  ASSERT_EQ(r.code, 5) << r.err;
  const std::string& page = r.out;
  size_t web01 = page.find("<section class=\"host f\" id=\"host-2\" data-host=\"web01\"");
  ASSERT_NE(web01, std::string::npos);
  std::string section = page.substr(web01, page.find("</section>", web01) - web01);
  EXPECT_NE(section.find("<caption>Accounts with UID 0 (2)</caption>"), std::string::npos)
      << section;
  EXPECT_NE(
      section.find("<td><code>toor</code></td><td><code>/etc/passwd:7</code></td><td><span "
                   "class=\"st t-active\">\u25F7 active</span> MIG-1<br>Jane Roe, CHG-1</td>"),
      std::string::npos)
      << section;
  EXPECT_NE(section.find("<strong>sudo grants: not known in full</strong> (section sudo is not "
                         "in the snapshot)."),
            std::string::npos)
      << section;
  EXPECT_EQ(section.find("sudo grants: none"), std::string::npos);
  // --access none leaves them out, and the page says so.
  CtlRun none = Report(testing::kNight2, {"--no-record", "--format", "html", "--access", "none"});
  EXPECT_EQ(none.out.find("<caption>Accounts with UID 0"), std::string::npos);
  EXPECT_NE(none.out.find("Access rights: not in this report"), std::string::npos);
  json j = json::parse(
      Report(testing::kNight2, {"--no-record", "--format", "json", "--access", "none"}).out);
  EXPECT_FALSE(j["summary"]["access_included"]);
  EXPECT_TRUE(j["hosts"][0]["access"].is_null());
  // An added row shows the columns that have a value.
  EXPECT_NE(page.find("<code>{&quot;gid&quot;:1000,&quot;id&quot;:&quot;user:alice&quot;,"),
            std::string::npos);
  EXPECT_EQ(page.find("&quot;gecos&quot;:null"), std::string::npos);
}

// Each night's report compares with the one recorded before it: night 1 saw the first states
// of three hosts as new, night 2 their changes.
TEST_F(CtlReportTest, EachNightComparesWithTheNightBefore) {
  json n1 = json::parse(ReadFile(dir_.Host("/n1.json")));
  EXPECT_EQ(n1["summary"]["previous_report"], testing::kNight0);
  EXPECT_EQ(n1["summary"]["hosts_changed_since_previous"],
            json::array({"app01", "web01", "web02"}));  // new since night 0
  EXPECT_EQ(n1["summary"]["exceptions"]["active"], 2);  // MIG-1; MIG-3 not yet expired
  CtlRun r = Report(testing::kNight2, {"--format", "json"});
  json n2 = json::parse(r.out);
  for (const json& h : n2["hosts"]) {
    if (h["host"] == "web01") {
      EXPECT_EQ(h["changes_since_previous"], json::array());  // seen again, unchanged
    }
    if (h["host"] == "app01") {
      ASSERT_EQ(h["changes_since_previous"].size(), 1u);
      EXPECT_EQ(h["changes_since_previous"][0]["id"], "user:vendor");
      EXPECT_EQ(h["changes_since_previous"][0]["change"], "removed");
    }
  }
}

// --since counts what changed from another time than the previous report: a time, or a
// duration before --now; the exceptions revoked since compare with the last report recorded by
// then.
TEST_F(CtlReportTest, SinceCountsChangesFromAGivenTime) {
  json j = json::parse(
      Report(testing::kNight2, {"--no-record", "--format", "json", "--since", "2025-11-29"}).out);
  EXPECT_EQ(j["summary"]["changes_since"], "2025-11-29T00:00:00Z");
  EXPECT_TRUE(j["summary"]["previous_report"].is_null());  // none recorded by then
  EXPECT_EQ(j["summary"]["hosts_changed_since_previous"],
            json::array({"app01", "web01", "web02"}));  // new since
  EXPECT_EQ(j["summary"]["revoked_since_previous"], json::array());
  j = json::parse(
      Report(testing::kNight2, {"--no-record", "--format", "json", "--since", "12h"}).out);
  EXPECT_EQ(j["summary"]["changes_since"], "2025-12-01T14:30:00Z");
  EXPECT_EQ(j["summary"]["previous_report"], testing::kNight1);
  EXPECT_EQ(j["summary"]["hosts_changed_since_previous"], json::array({"app01", "web02"}));
  EXPECT_EQ(j["summary"]["revoked_since_previous"].size(), 1u);
  CtlRun text = Report(testing::kNight2, {"--no-record", "--since", "12h"});
  EXPECT_NE(text.out.find("\nsince 2025-12-01T14:30:00Z: 2 host(s) changed, 1 exception "
                          "verdict(s) newly revoked (since the report of 2025-12-01T02:30:00Z)\n"),
            std::string::npos)
      << text.out;
  CtlRun bad = Report(testing::kNight2, {"--no-record", "--since", "2099-01-01"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("--since 2099-01-01 is after --now"), std::string::npos) << bad.err;
  EXPECT_EQ(Report(testing::kNight2, {"--no-record", "--since", "soon"}).code, 1);
}

TEST_F(CtlReportTest, JunitIsValidForAnXmlParserAndTheSchema) {
  TIDEMARK_REQUIRE(testing::HaveProgram("xmllint"), "xmllint (libxml2-utils) not installed");
  const std::string xml = dir_.Host("/r.xml");
  ASSERT_EQ(Report(testing::kNight2, {"--no-record", "--format", "junit", "--out", xml}).code, 5);
  std::string out, err;
  int rc = testing::RunCommand("xmllint --noout --schema " +
                                   testing::ShellQuote(kGoldenDir + "/junit.xsd") + " " +
                                   testing::ShellQuote(xml),
                               &out, &err);
  EXPECT_EQ(rc, 0) << err;
  // One case per (host, rule) and per (host, exception): 4 hosts x 3 rules + 4 exceptions.
  auto xpath = [&](const std::string& expr) {
    std::string value;
    testing::RunCommand(
        "xmllint --xpath " + testing::ShellQuote(expr) + " " + testing::ShellQuote(xml), &value);
    return value.substr(0, value.find('\n'));
  };
  EXPECT_EQ(xpath("count(//testcase)"), "16");
  EXPECT_EQ(xpath("string(/testsuites/@tests)"), "16");
  // Failures: web02's operator (critical) and games (low), the leftover MIG-2, db01's games (its
  // MIG-4 is unverified, which tolerates nothing); web01's toor is tolerated by MIG-1.
  EXPECT_EQ(xpath("count(//testcase[failure])"), "4");
  EXPECT_EQ(xpath("string(//testcase[@name='exception:MIG-2']/failure/@type)"), "leftover");
  EXPECT_EQ(xpath("count(//testcase[@name='exception:MIG-4']/skipped)"), "1");  // unverified
  EXPECT_EQ(xpath("count(//testcase[@classname='web01'][@name='accounts-uid0-only-root']/*)"), "0");
}

// Text a host wrote (here a user name with markup and an escape sequence) is text in every
// format, never markup.
TEST_F(CtlReportTest, HostTextIsEscapedInEveryFormat) {
  Put("web01", "web01-3",
      json::array({testing::User("root", 0, 1),
                   testing::User("<img src=x onerror=alert(1)>&\"\x1b", 0, 2)}),
      1764619300);
  Judge(testing::kReportPolicies);
  CtlRun html = Report(testing::kNight2, {"--no-record", "--format", "html"});
  EXPECT_EQ(html.out.find("<img"), std::string::npos);
  EXPECT_NE(html.out.find("user:&lt;img src=x onerror=alert(1)&gt;&amp;&quot;\\x1b"),
            std::string::npos);
  CtlRun xml = Report(testing::kNight2, {"--no-record", "--format", "junit"});
  EXPECT_EQ(xml.out.find("<img"), std::string::npos);
  EXPECT_NE(xml.out.find("user:&lt;img src=x onerror=alert(1)&gt;&amp;&quot;\\x1b"),
            std::string::npos);
  CtlRun csv = Report(testing::kNight2, {"--no-record", "--format", "csv"});
  EXPECT_NE(csv.out.find(",\"user:<img src=x onerror=alert(1)>&\"\"\\x1b\","), std::string::npos)
      << csv.out;
}

TEST_F(CtlReportTest, BaselineApprovalTakesNowButNeverTheFutureOrBeforeItsState) {
  CtlRun r = Ctl({"--db", db_, "baseline", "approve", "web01", "--by", "x", "--note", "y", "--now",
                  "2099-01-01"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--now is in the future"), std::string::npos) << r.err;
  r = Ctl({"--db", db_, "baseline", "approve", "web01", "--by", "x", "--note", "y", "--snapshot",
           "web01-2", "--now", "2025-12-01T00:00:00Z"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("snapshot web01-2 was received at 2025-12-01T20:00:00Z"), std::string::npos)
      << r.err;
  // Without --snapshot, the latest state as at --now.
  r = Ctl({"--db", db_, "baseline", "approve", "web01", "--by", "x", "--note", "y", "--now",
           "2025-12-01T00:00:00Z"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "approved web01 snapshot web01-1 by x at 2025-12-01T00:00:00Z\n");
}

// The page stays small for large fleets: revocations proved before the previous report are one
// row per exception, hosts with nothing to act on are one collapsed list, and the details are
// limited to the most urgent --html-hosts hosts.
TEST(ReportHtmlTest, LargeFleetsStayReadable) {
  json doc = {{"generated_at", "2025-12-02T02:30:00Z"},
              {"summary", {{"findings", {{"high", 1}}}, {"exceptions", {{"revoked", 3}}}}},
              {"exceptions", json::array()},
              {"hosts", json::array()}};
  for (const char* host : {"a1", "a2", "a3"}) {
    doc["exceptions"].push_back({{"exception", "MIG-9"},
                                 {"host", host},
                                 {"status", "revoked"},
                                 {"owner", {{"name", "Jane Roe"}}},
                                 {"ticket", "CHG-9"}});
    doc["hosts"].push_back({{"host", host}, {"failing", json::array()}});
  }
  for (const char* host : {"b1", "b2"}) {
    doc["hosts"].push_back(
        {{"host", host},
         {"failing", {{{"rule", "r1"}, {"severity", "high"}, {"items", {{{"id", "x"}}}}}}}});
  }
  std::string page = report::RenderHtml(doc, {}, {1});
  EXPECT_NE(page.find("<h3>Revoked earlier</h3>"), std::string::npos);
  EXPECT_NE(page.find("data-host=\"a1 a2 a3\" data-status=\"revoked\""), std::string::npos);
  EXPECT_NE(page.find("\u2714 revoked</span> a1, a2, a3</td>"), std::string::npos);
  // a1..a3 have nothing to act on: no row in the hosts table, one line in the collapsed list.
  EXPECT_EQ(page.find("<tr class=\"f hostrow\" data-host=\"a1\""), std::string::npos);
  EXPECT_NE(page.find("3 host(s) without findings, open exceptions or changes</summary><p>a1, "
                      "a2, a3</p>"),
            std::string::npos);
  EXPECT_NE(page.find("<tr class=\"f hostrow\" data-host=\"b2\""), std::string::npos);
  // One host in detail (b1, with a link from its row); b2 has its row without a link.
  EXPECT_NE(page.find("<section class=\"host f\" id=\"host-3\""), std::string::npos);
  EXPECT_EQ(page.find("id=\"host-4\""), std::string::npos);
  EXPECT_NE(page.find("<a href=\"#host-3\">b1</a>"), std::string::npos);
  EXPECT_NE(page.find("1 more host(s) are not shown in detail here"), std::string::npos);
  EXPECT_NE(report::RenderHtml(doc, {}, {0}).find("id=\"host-4\""), std::string::npos);  // 0: all
}

// A recorded summary is read defensively: a count out of range (a damaged store) is not drawn,
// a good one the day before is.
TEST(ReportHtmlTest, TheChartSkipsDamagedSummaries) {
  json doc = {{"generated_at", "2025-12-02T02:30:00Z"},
              {"summary", {{"findings", {{"high", 1}}}, {"exceptions", {{"active", 1}}}}}};
  std::vector<ReportRecord> history = {
      {1764556200, "", R"({"findings": {"high": 2}, "exceptions": {"active": 1}})", ""},
      {1764560000, "", R"({"findings": {"high": 9000000000000000000}, "exceptions": {}})", ""},
      {1764470000, "", "not json", ""}};
  std::string page = report::RenderHtml(doc, history, {});
  EXPECT_NE(page.find("The chart's numbers (2 day(s) with a report)"), std::string::npos);
  EXPECT_EQ(page.find("9000000000000000000"), std::string::npos);
}

// A right added since the approved baseline that no exception covers fails the report as a high
// finding, even where no rule says so.
class CtlReportBaselineTest : public testing::JudgedStoreTest {};

TEST_F(CtlReportBaselineTest, AnUnapprovedRightSinceTheBaselineFailsAsHigh) {
  const char* policies =
      "rules:\n  - id: no-games\n    title: No games\n    severity: low\n"
      "    query: SELECT id FROM users WHERE name = 'games'\n";
  Put("h1", "h1-1", json::array({testing::User("root", 0, 1)}), 1764504000);
  Judge(policies);
  ASSERT_EQ(Ctl({"--db", db_, "baseline", "approve", "h1", "--by", "Jane Roe", "--note", "n",
                 "--now", "2025-11-30T13:00:00Z"})
                .code,
            0);
  Put("h1", "h1-2", json::array({testing::User("root", 0, 1), testing::User("op", 0, 2)}),
      1764619200);
  Judge(policies);
  std::vector<std::string> args = {
      "--db", db_, "report", "--now", "2025-12-02T02:30:00Z", "--no-record", "--format", "json"};
  CtlRun r = Ctl(args);
  EXPECT_EQ(r.code, 3) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["summary"]["baseline_findings"], 1);
  EXPECT_EQ(j["summary"]["findings"]["critical"], 0);  // no rule about UID 0 here
  args.insert(args.end(), {"--fail-on", "critical"});
  EXPECT_EQ(Ctl(args).code, 0);
}

// The previous report's document is read defensively: a damaged one (wrong types, missing
// keys) gives no statuses to compare with, never a crash.
TEST_F(CtlReportBaselineTest, ADamagedPreviousReportIsReadWithoutStatuses) {
  Put("h1", "h1-1", json::array({testing::User("root", 0, 1)}), 1764504000);
  Judge(testing::kUserPolicies);
  ASSERT_TRUE(store_
                  ->PutReport({1764504100, "{}", "{}",
                               R"({"exceptions": [{"exception": 5, "status": []}, 7, {}]})"})
                  .ok());
  CtlRun r = Ctl(
      {"--db", db_, "report", "--now", "2025-12-01T02:30:00Z", "--no-record", "--format", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["summary"]["previous_report"], "2025-11-30T12:01:40Z");
  EXPECT_EQ(j["summary"]["revoked_since_previous"], json::array());
}

// A section not collected fully: the report names it and the errors it reported, on the page
// too; rules reading it are unknown, never passed.
TEST_F(CtlReportBaselineTest, CollectionErrorsAreShownWithTheSectionNotCollectedFully) {
  Snapshot s;
  s.host = {"h2", "h2", "/"};
  s.collected_at = "2025-12-01T00:00:00Z";
  s.agent_version = "test";
  s.sections["accounts"].data = {{"users", json::array({testing::User("root", 0, 1)})}};
  Section& sudo = s.sections["sudo"];
  sudo.data = {{"grants", json::array()}, {"defaults", json::array()}, {"files", json::array()}};
  sudo.AddError("/etc/sudoers.d/vendor", std::nullopt, "cannot open: Permission denied");
  sudo.Finish();
  std::string text = SerializeSnapshot(s);
  ASSERT_TRUE(store_->PutSnapshot(MakeSnapshotInput("h2", "h2-1", s, text, 1764504000)).ok());
  Judge(testing::kUserPolicies);
  CtlRun r = Ctl(
      {"--db", db_, "report", "--now", "2025-12-01T02:30:00Z", "--no-record", "--format", "json"});
  json j = json::parse(r.out);
  const json& h = j["hosts"][0];
  EXPECT_EQ(h["incomplete_sections"], json({{"sudo", "partial"}}));
  EXPECT_EQ(h["collection_errors"], json::array({{{"section", "sudo"},
                                                  {"path", "/etc/sudoers.d/vendor"},
                                                  {"line", nullptr},
                                                  {"message", "cannot open: Permission denied"}}}));
  EXPECT_EQ(h["unknown"][0]["rule"], "sudo-no-nopasswd");
  EXPECT_EQ(h["access"]["sudo_grants"]["incomplete"].get<std::string>().find("section sudo is "
                                                                             "partial"),
            0u)
      << h["access"].dump();
  std::string page = Ctl({"--db", db_, "report", "--now", "2025-12-01T02:30:00Z", "--no-record",
                          "--format", "html"})
                         .out;
  EXPECT_NE(page.find("<li>sudo: <code>/etc/sudoers.d/vendor</code> cannot open: Permission "
                      "denied</li>"),
            std::string::npos);
}

}  // namespace
}  // namespace tidemark::ctl
