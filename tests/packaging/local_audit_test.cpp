// The README's main job (packaging/local-audit.sh) end to end on this machine: throwaway PKI,
// collector on loopback, agent send over mutual TLS, the stored snapshot summarised and the
// findings the collector stored when it judged it. Run twice
// on the same state folder: the CA is kept and the second snapshot is stored beside the first.
// The test bounds its own work: every section but the sweep (TIDEMARK_ONLY), which walks all of
// "/" and took over 120 s on a machine whose /tmp held a million files; the sweep has its own
// tests over fixture trees (sweep_test, sweep_find_test).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using testing::ReadHostFile;
using testing::RunCommand;
using testing::ShellQuote;

// Every section but `sweep` (agent/registry.cpp).
constexpr const char* kBoundedSections =
    "accounts,ssh_keys,sshd,sudo,files,network,services,pam,sysctl,login,cron,packages";

TEST(LocalAuditTest, MainJobRunsAgentToCollectorAndCanBeRunAgain) {
  testing::TempRoot tmp;
  std::string state = tmp.path() + "/state";
  std::string cmd = std::string("TIDEMARK_ONLY=") + kBoundedSections +
                    " TIDEMARK_PORT=0 TIDEMARK_STATE=" + ShellQuote(state) + " " +
                    ShellQuote(std::string(TIDEMARK_SOURCE_DIR) + "/packaging/local-audit.sh") +
                    " " + ShellQuote(TIDEMARK_BUILD_DIR);
  std::string out, err;
  ASSERT_EQ(RunCommand(cmd, &out, &err), 0) << out << err;
  EXPECT_NE(err.find("acknowledged (stored"), std::string::npos) << err;
  EXPECT_NE(out.find("tidemark audit of "), std::string::npos) << out;
  EXPECT_NE(out.find("Sudo grants:"), std::string::npos) << out;
  // The collector judged the stored state against the shipped baseline on arrival, and the
  // findings it stored follow, with their summary line; no rule errs.
  EXPECT_NE(out.find("judged by the collector against "), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(host \S+: snapshot \S+ received \S+, judged \S+: \d+ fail, \d+ unknown, )"
                      R"(0 error, \d+ pass)")))
      << out;
  EXPECT_NE(ReadHostFile(state + "/collector.log").find("info evaluated host="), std::string::npos);
  std::string ca = ReadHostFile(state + "/pki/ca.crt");
  ASSERT_FALSE(ca.empty());
  struct stat st {};
  ASSERT_EQ(stat((state + "/pki/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);

  // It ends with this machine's report: the text summary, and the HTML page's path.
  EXPECT_NE(out.find("\ntidemark report at "), std::string::npos) << out;
  EXPECT_NE(out.find("\nreport: " + state + "/report.html (open it in a browser"),
            std::string::npos)
      << out;
  std::string page = ReadHostFile(state + "/report.html");
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<svg id=\"chart\""), std::string::npos);
  EXPECT_NE(page.find("data-host=\"" +
                      ReadHostFile("/proc/sys/kernel/hostname")
                          .substr(0, ReadHostFile("/proc/sys/kernel/hostname").find('\n')) +
                      "\""),
            std::string::npos);

  // (A report compares with the last one recorded strictly before it: a second later.)
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_EQ(RunCommand(cmd, &out, &err), 0) << out << err;
  EXPECT_EQ(ReadHostFile(state + "/pki/ca.crt"), ca);  // kept, not remade
  // The second run's report compares with the first one's.
  EXPECT_NE(out.find("\nsince the previous report ("), std::string::npos) << out;

  std::string hist;
  ASSERT_EQ(RunCommand(std::string(TIDEMARK_BUILD_DIR) + "/collector/tidemarkctl --db " +
                           ShellQuote(state + "/tidemark.db") + " hosts --format json",
                       &hist),
            0);
  auto hosts = nlohmann::json::parse(hist)["hosts"];
  ASSERT_EQ(hosts.size(), 1u) << hist;
  // Two runs: two snapshots, or one and a "seen" record when nothing changed in between.
  EXPECT_EQ(hosts[0]["snapshots"].get<int>() + hosts[0]["seen"].get<int>(), 2) << hist;
  std::string latest = ReadHostFile(state + "/latest.json");
  ASSERT_FALSE(latest.empty());
  auto doc = nlohmann::json::parse(latest, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(doc.is_object());
  EXPECT_FALSE(doc.contains("sweep")) << "the test's run must not sweep the whole machine";
  EXPECT_TRUE(doc.contains("sudo"));
}

}  // namespace
}  // namespace tidemark
