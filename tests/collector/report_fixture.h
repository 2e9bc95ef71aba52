// The report tests' fleet (issue 12): a store on a real SQLite file with four hosts over three
// nights, judged by the collector's evaluator, and a register with an exception of every
// status. Used by the golden tests (ctl_report_test.cpp) and the browser test
// (ctl_report_browser_test.cpp).
//   db01   reported last on 2025-11-20: stale; MIG-4 (expired 11-25) cannot be verified.
//   web01  toor (UID 0) tolerated by MIG-1 (active until 12-10); reports again on 12-01.
//   web02  games still present after MIG-2 expired (11-25): a leftover. Its baseline was
//          approved on 11-30; on 12-01 it gains operator (UID 0: a finding, critical) and
//          alice.
//   app01  vendor removed on 12-01 after MIG-3 expired (12-01 12:00): revoked since the
//          previous report.
// Reports are recorded at 02:30 on 11-30 and 12-01 (the nights before); the one under test is
// 12-02 02:30 (kNight2).
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "tests/collector/ctl_run.h"
#include "tests/collector/judged_store.h"

namespace tidemark::testing {

// The rules the fleet is judged by (judged_store.h).
inline constexpr const char* kReportPolicies = kUserPolicies;

inline constexpr const char* kReportRegister = R"(exceptions:
  - id: MIG-1
    title: Vendor root account for the migration
    hosts: [web01]
    ticket: CHG-1
    owner: {name: Jane Roe, organisation: Example Provider, email: jane.roe@example.org}
    contact: {name: John Doe, phone: "+49 30 2"}
    expires: 2025-12-10T00:00:00Z
    covers: [{table: users, where: {name: toor}}]
  - id: MIG-2
    title: Games account for the load test
    hosts: [web02]
    ticket: CHG-2
    owner: {name: Jane Roe, organisation: Example Provider, email: jane.roe@example.org}
    expires: 2025-11-25T00:00:00Z
    covers: [{table: users, where: {name: games}}]
  - id: MIG-3
    title: Vendor login during the cut-over
    hosts: [app01]
    ticket: CHG-3
    owner: {name: Max Mustermann, email: max@example.com}
    expires: 2025-12-01T12:00:00Z
    covers: [{table: users, where: {name: vendor}}]
  - id: MIG-4
    title: Games account on the database
    hosts: [db01]
    ticket: CHG-4
    owner: {name: Max Mustermann, email: max@example.com}
    expires: 2025-11-25T00:00:00Z
    covers: [{table: users, where: {name: games}}]
)";

inline constexpr const char* kNight0 = "2025-11-30T02:30:00Z";
inline constexpr const char* kNight1 = "2025-12-01T02:30:00Z";
inline constexpr const char* kNight2 = "2025-12-02T02:30:00Z";

class ReportFleetTest : public JudgedStoreTest {
 protected:
  void SetUp() override {
    JudgedStoreTest::SetUp();
    register_ = dir_.Host("/register.yaml");
    std::ofstream(register_) << kReportRegister;
    constexpr int64_t k1120 = 1763596800;  // 2025-11-20T00:00:00Z
    constexpr int64_t k1130 = 1764504000;  // 2025-11-30T12:00:00Z
    constexpr int64_t k1201 = 1764619200;  // 2025-12-01T20:00:00Z
    Put("db01", "db01-1", nlohmann::json::array({User("root", 0, 1), User("games", 5, 2)}), k1120);
    Put("web01", "web01-1", nlohmann::json::array({User("root", 0, 1), User("toor", 0, 7)}), k1130);
    Put("web02", "web02-1", nlohmann::json::array({User("root", 0, 1), User("games", 5, 2)}),
        k1130);
    Put("app01", "app01-1", nlohmann::json::array({User("root", 0, 1), User("vendor", 1001, 3)}),
        k1130);
    Judge(kReportPolicies);
    ASSERT_EQ(ctl::Ctl({"--db", db_, "baseline", "approve", "web02", "--by", "Jane Roe", "--note",
                        "cut-over state", "--now", "2025-11-30T13:00:00Z"})
                  .code,
              0);
    ASSERT_EQ(Report(kNight0, {"--format", "json", "--out", dir_.Host("/n0.json")}).code, 0);
    ASSERT_EQ(Report(kNight1, {"--format", "json", "--out", dir_.Host("/n1.json")}).code, 5);
    // The day after night 1: web01 the same again, web02 and app01 changed.
    Put("web01", "web01-2", nlohmann::json::array({User("root", 0, 1), User("toor", 0, 7)}), k1201);
    Put("web02", "web02-2",
        nlohmann::json::array({User("root", 0, 1), User("games", 5, 2), User("operator", 0, 3),
                               User("alice", 1000, 4)}),
        k1201);
    Put("app01", "app01-2", nlohmann::json::array({User("root", 0, 1)}), k1201);
    Judge(kReportPolicies);
  }

  // `tidemarkctl report` over the fleet as at `now`, with the register and `more` options.
  ctl::CtlRun Report(const char* now, const std::vector<std::string>& more) {
    std::vector<std::string> args = {"--db", db_, "report", "--register", register_, "--now", now};
    args.insert(args.end(), more.begin(), more.end());
    return ctl::Ctl(args);
  }

  // Output with the temp directory's path (the register's) replaced by @DIR@.
  std::string Normalized(std::string text) const {
    const std::string dir = dir_.Host("");
    for (size_t at = text.find(dir); at != std::string::npos; at = text.find(dir, at)) {
      text.replace(at, dir.size(), "@DIR@");
    }
    return text;
  }

  std::string register_;
};

}  // namespace tidemark::testing
