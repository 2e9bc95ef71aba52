// The nightly report's packaging (issue 12): the systemd service and timer pass
// `systemd-analyze verify` without a warning, and packaging/nightly-report.sh writes every
// format into a dated folder, links `latest`, keeps the newest N folders, and keeps nothing of
// a run whose report could not be written.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/packaging/packaging_build.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using testing::RunCommand;
using testing::ShellQuote;

using testing::kBuild;
using testing::kSource;

TEST(NightlyReportTest, TheUnitsVerifyCleanly) {
  TIDEMARK_REQUIRE(testing::HaveProgram("systemd-analyze"), "systemd-analyze not installed");
  testing::TempRoot dir;
  // ExecStart must name an executable: the script in the source tree stands for its installed
  // path.
  std::string out, err;
  ASSERT_EQ(RunCommand("sed 's|/usr/lib/tidemark/nightly-report|" + kSource +
                           "/packaging/nightly-report.sh|' " +
                           ShellQuote(kSource + "/packaging/systemd/tidemark-report.service") +
                           " > " + ShellQuote(dir.path() + "/tidemark-report.service") + " && cp " +
                           ShellQuote(kSource + "/packaging/systemd/tidemark-report.timer") + " " +
                           ShellQuote(dir.path()),
                       &out, &err),
            0)
      << err;
  int code = RunCommand("systemd-analyze verify --man=no " +
                            ShellQuote(dir.path() + "/tidemark-report.service") + " " +
                            ShellQuote(dir.path() + "/tidemark-report.timer"),
                        &out, &err);
  EXPECT_EQ(code, 0) << out << err;
  EXPECT_EQ(err.find("tidemark-report"), std::string::npos) << err;  // no warning about them
}

TEST(NightlyReportTest, DatedFoldersLatestLinkAndTheNewestKept) {
  testing::TempRoot dir;
  dir.Write("/root/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  dir.Write("/root/etc/group", "root:x:0:\n");
  std::string out, err;
  std::string snapshot = dir.Host("/web01.json");
  ASSERT_EQ(RunCommand(kBuild +
                           "/agent/tidemark-agent collect --only accounts --host-id web01 "
                           "--root " +
                           ShellQuote(dir.Host("/root")) + " --output " + ShellQuote(snapshot),
                       &out, &err),
            0)
      << err;
  std::string db = dir.Host("/store.db");
  ASSERT_EQ(RunCommand(kBuild + "/collector/tidemarkctl --db " + ShellQuote(db) + " import " +
                           ShellQuote(snapshot) + " --as web01 --received-at 2026-11-30",
                       &out, &err),
            0)
      << err;
  std::string reports = dir.Host("/reports");
  auto run = [&](const std::string& now, const std::string& ctl) {
    return RunCommand("TIDEMARK_CTL=" + ShellQuote(ctl) + " TIDEMARK_DB=" + ShellQuote(db) +
                          " TIDEMARK_REGISTER=" + ShellQuote(dir.Host("/none.yaml")) +
                          " TIDEMARK_REPORT_DIR=" + ShellQuote(reports) +
                          " TIDEMARK_REPORT_KEEP=2 TIDEMARK_NOW=" + now + " " +
                          ShellQuote(kSource + "/packaging/nightly-report.sh"),
                      &out, &err);
  };
  const std::string ctl = kBuild + "/collector/tidemarkctl";
  for (const char* night :
       {"2026-12-01T02:30:00Z", "2026-12-02T02:30:00Z", "2026-12-03T02:30:00Z"}) {
    ASSERT_EQ(run(night, ctl), 0) << out << err;
  }
  EXPECT_NE(out.find("tidemark report at 2026-12-03T02:30:00Z: 1 host(s)"), std::string::npos)
      << out;
  namespace fs = std::filesystem;
  std::vector<std::string> kept;
  for (const auto& e : fs::directory_iterator(reports)) kept.push_back(e.path().filename());
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept, (std::vector<std::string>{"2026-12-02T023000Z", "2026-12-03T023000Z", "latest"}));
  EXPECT_EQ(fs::read_symlink(reports + "/latest"), "2026-12-03T023000Z");
  for (const char* file :
       {"report.json", "report.html", "report.csv", "report.xml", "report.txt"}) {
    struct stat st {};
    ASSERT_EQ(stat((reports + "/latest/" + file).c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0640u) << file;
  }
  // A report that cannot be written leaves nothing behind and fails the run.
  EXPECT_NE(run("2026-12-04T02:30:00Z", "/bin/false"), 0);
  EXPECT_FALSE(fs::exists(reports + "/2026-12-04T023000Z"));
  EXPECT_EQ(fs::read_symlink(reports + "/latest"), "2026-12-03T023000Z");
  EXPECT_NE(err.find("tidemarkctl report failed (exit 1)"), std::string::npos) << err;
  EXPECT_EQ(run("not-a-time", ctl), 2);
}

}  // namespace
}  // namespace tidemark
