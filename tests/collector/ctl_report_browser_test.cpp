// The report's HTML page in a real browser (issue 12): Debian's headless Chromium loads the page
// of report_fixture.h's fleet and the test reads the DOM after the page's script ran
// (--dump-dom): the hosts, the leftover with its owner and ticket, the chart; a filter given in
// the address hides the other hosts when JavaScript runs, and nothing is hidden without it. The
// page must make no request (Chromium's NetLog; a control page with one external image must
// show one). The screenshot is kept for people to look at: build/test-artifacts/report.png.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "common/read_file.h"
#include "tests/collector/report_fixture.h"
#include "tests/support/require.h"

namespace tidemark::ctl {
namespace {

class ReportBrowserTest : public testing::ReportFleetTest {
 protected:
  // Runs headless Chromium on `url` with `flags`; returns its standard output (the DOM with
  // --dump-dom) and fills `page_requests` with the URLs of the requests the page made (read
  // from Chromium's NetLog: a request a page starts has the page's origin as its initiator,
  // Chromium's own background requests have none). Every request goes to a proxy on a closed
  // loopback port, so none leaves the machine.
  std::string Chromium(const std::string& url, const std::string& flags,
                       std::vector<std::string>* page_requests = nullptr) {
    const std::string netlog = dir_.Host("/netlog.json");
    std::string out, err;
    int rc = testing::RunCommand(
        "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
        "--no-first-run "
        "--no-default-browser-check --disable-background-networking --disable-component-update "
        "--disable-sync --disable-default-apps --disable-extensions --user-data-dir=" +
            testing::ShellQuote(dir_.Host("/profile")) +
            " --proxy-server=http://127.0.0.1:9 --proxy-bypass-list='<-loopback>' "
            "--log-net-log=" +
            testing::ShellQuote(netlog) + " " + flags + " " + testing::ShellQuote(url),
        &out, &err);
    EXPECT_EQ(rc, 0) << err;
    if (page_requests != nullptr) *page_requests = PageRequests(netlog);
    return out;
  }

  static std::vector<std::string> PageRequests(const std::string& netlog) {
    StatusOr<std::string> text = ReadRegularFile(netlog, 64 << 20);
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    nlohmann::json log = nlohmann::json::parse(text.ok() ? *text : "", nullptr, false);
    EXPECT_TRUE(log.is_object()) << "Chromium's NetLog cannot be read";
    std::vector<std::string> out;
    if (!log.is_object()) return out;
    int alive = log["constants"]["logEventTypes"].value("REQUEST_ALIVE", -1);
    int start = log["constants"]["logEventTypes"].value("URL_REQUEST_START_JOB", -1);
    EXPECT_GE(start, 0);
    std::map<int64_t, std::string> urls;  // source id -> url
    for (const nlohmann::json& e : log["events"]) {
      const nlohmann::json& params = e.contains("params") ? e["params"] : nlohmann::json();
      int64_t source = e["source"].value("id", int64_t{-1});
      if (e["type"] == alive && params.contains("url")) urls[source] = params["url"];
      if (e["type"] == start && params.contains("initiator") &&
          params["initiator"] != "not an origin") {
        out.push_back(urls[source] + " (initiator " + params["initiator"].dump() + ")");
      }
    }
    return out;
  }
};

// The <tr> of the hosts table for `host` in a dumped DOM ("" when absent).
std::string HostRow(const std::string& dom, const std::string& host) {
  std::smatch m;
  std::regex row("<tr class=\"f hostrow\" data-host=\"" + host + "\"[^>]*>");
  return std::regex_search(dom, m, row) ? m.str() : "";
}

TEST_F(ReportBrowserTest, ThePageShowsTheFleetFiltersWithScriptAndRequestsNothing) {
  TIDEMARK_REQUIRE(testing::HaveProgram("chromium"), "chromium not installed");
  const std::string page = dir_.Host("/report.html");
  ASSERT_EQ(Report(testing::kNight2, {"--no-record", "--format", "html", "--out", page}).code, 5);

  // The control: a page with an external image is seen to make a request.
  const std::string control = dir_.Host("/control.html");
  std::ofstream(control) << "<!DOCTYPE html><img src=\"http://tidemark.invalid/x.png\">";
  std::vector<std::string> requests;
  Chromium("file://" + control, "--dump-dom", &requests);
  ASSERT_EQ(requests.size(), 1u) << "the control page's request was not seen";
  EXPECT_EQ(requests[0].rfind("http://tidemark.invalid/x.png", 0), 0u) << requests[0];

  std::string dom = Chromium("file://" + page, "--dump-dom", &requests);
  EXPECT_TRUE(requests.empty()) << "the report page made a request: " << requests[0];
  for (const char* host : {"db01", "web01", "web02", "app01"}) {
    EXPECT_NE(HostRow(dom, host), "") << host;
    EXPECT_EQ(HostRow(dom, host).find(" hidden"), std::string::npos) << HostRow(dom, host);
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      dom, m,
      std::regex("<tr class=\"f exception\" data-host=\"web02\" data-status=\"leftover\">"
                 "[\\s\\S]*?</tr>")))
      << dom.substr(0, 4000);
  const std::string leftover = m.str();
  EXPECT_NE(leftover.find("MIG-2"), std::string::npos) << leftover;
  EXPECT_NE(leftover.find("Jane Roe"), std::string::npos) << leftover;
  EXPECT_NE(leftover.find("CHG-2"), std::string::npos) << leftover;
  EXPECT_NE(leftover.find("user:games"), std::string::npos) << leftover;
  EXPECT_NE(dom.find("<svg id=\"chart\""), std::string::npos);
  // Three nights: 11-30 (recorded), 12-01 (recorded), 12-02 (this one).
  EXPECT_NE(dom.find("The chart's numbers (3 day(s) with a report)"), std::string::npos);
  // The script ran: the filters are shown and count the hosts.
  EXPECT_NE(dom.find("<div id=\"controls\">"), std::string::npos);
  EXPECT_NE(dom.find("4 of 4 hosts in the table shown"), std::string::npos);

  // A filter in the address: only web02's row stays.
  dom = Chromium("file://" + page + "#host=web02", "--dump-dom");
  EXPECT_EQ(HostRow(dom, "web02").find(" hidden"), std::string::npos) << HostRow(dom, "web02");
  for (const char* host : {"db01", "web01", "app01"}) {
    EXPECT_NE(HostRow(dom, host).find(" hidden"), std::string::npos) << HostRow(dom, host);
  }
  EXPECT_NE(dom.find("1 of 4 hosts in the table shown"), std::string::npos);
  dom = Chromium("file://" + page + "#status=leftover", "--dump-dom");
  EXPECT_EQ(HostRow(dom, "web02").find(" hidden"), std::string::npos);
  EXPECT_NE(HostRow(dom, "web01").find(" hidden"), std::string::npos);

  // Without JavaScript: everything readable, the filter controls stay hidden. (Headless
  // Chromium reads the DOM through script, so the page's own script is kept from running by
  // its Content-Security-Policy instead: the same page with a script-src allowing nothing.
  // That also shows that a script the page did not ship, e.g. one injected through host text,
  // would not run.)
  StatusOr<std::string> html = ReadRegularFile(page, 64 << 20);
  ASSERT_TRUE(html.ok());
  std::string no_script =
      std::regex_replace(*html, std::regex("script-src '[^']*'"), "script-src 'none'");
  ASSERT_NE(no_script, *html);
  no_script.insert(no_script.find("</body>"), "<script>document.title = 'injected';</script>");
  const std::string page_no_script = dir_.Host("/no-script.html");
  std::ofstream(page_no_script) << no_script;
  dom = Chromium("file://" + page_no_script + "#host=web02", "--dump-dom");
  EXPECT_NE(dom.find("<div id=\"controls\" hidden=\"\">"), std::string::npos);
  EXPECT_EQ(dom.find("<title>injected"), std::string::npos);
  for (const char* host : {"db01", "web01", "web02", "app01"}) {
    EXPECT_NE(HostRow(dom, host), "") << host;
    EXPECT_EQ(HostRow(dom, host).find(" hidden"), std::string::npos) << HostRow(dom, host);
  }
  EXPECT_NE(dom.find("CHG-2"), std::string::npos);

  // The screenshot, for people to look at.
  std::filesystem::create_directories(TIDEMARK_ARTIFACTS_DIR);
  const std::string shot = std::string(TIDEMARK_ARTIFACTS_DIR) + "/report.png";
  std::filesystem::remove(shot);
  Chromium("file://" + page, "--screenshot=" + testing::ShellQuote(shot) +
                                 " --window-size=1280,2400 --hide-scrollbars");
  EXPECT_TRUE(std::filesystem::exists(shot) && std::filesystem::file_size(shot) > 10000);
  std::filesystem::copy_file(page, std::string(TIDEMARK_ARTIFACTS_DIR) + "/report.html",
                             std::filesystem::copy_options::overwrite_existing);
}

}  // namespace
}  // namespace tidemark::ctl
