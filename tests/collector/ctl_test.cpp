#include "collector/ctl.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/snapshot.h"
#include "tests/support/temp_root.h"

namespace tidemark::ctl {
namespace {

TEST(CtlTest, VerifyAcceptsGoodAndRejectsTampered) {
  Snapshot s;
  s.host.id = "h1";
  s.collected_at = "2026-11-28T00:00:00Z";
  s.sections["accounts"].data["users"] = nlohmann::json::array();
  testing::TempRoot dir;
  nlohmann::json j = EncodeSnapshot(s);
  dir.Write("good.json", j.dump());
  j["accounts"]["users"].push_back("x");
  dir.Write("bad.json", j.dump());
  std::ostringstream out, err;
  EXPECT_EQ(RunCtl({"verify", dir.Host("good.json")}, out, err), 0);
  EXPECT_NE(out.str().find("ok h1 sha256:"), std::string::npos);
  std::ostringstream out2, err2;
  EXPECT_EQ(RunCtl({"verify", dir.Host("bad.json")}, out2, err2), 1);
  EXPECT_NE(err2.str().find("content_hash does not match"), std::string::npos);
  std::ostringstream out3, err3;
  EXPECT_EQ(RunCtl({"nope"}, out3, err3), 2);
}

}  // namespace
}  // namespace tidemark::ctl
