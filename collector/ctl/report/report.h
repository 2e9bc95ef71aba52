// `tidemarkctl report` (docs/report.md): the model every format is written from. Build() reads
// the store once — every host's latest judged state (fleet.h), the register's verdicts, the
// previous recorded report and each host's drift since it and since its approved baseline —
// and each format is a function of the result: ToJson (the documented document, which the HTML
// page is rendered from: html.h), WriteText, WriteCsv, WriteJunit. command.cpp is the command.
#ifndef TIDEMARK_COLLECTOR_CTL_REPORT_REPORT_H_
#define TIDEMARK_COLLECTOR_CTL_REPORT_REPORT_H_

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "collector/ctl/fleet.h"
#include "common/policy/evaluate_command.h"

namespace tidemark::ctl::report {

struct Options {
  std::vector<std::string> formats;
  std::vector<std::string> outs;
  std::string register_file;
  std::string policies = policy::kDefaultPoliciesDir;
  bool policies_given = false;
  std::optional<int64_t> now;
  int64_t stale_after = int64_t{26} * 3600;
  int64_t max_age = policy::kDefaultMaxAgeSeconds;
  std::vector<std::string> hosts;
  policy::Severity fail_on = policy::Severity::kHigh;
  bool no_record = false;
  bool previous = false;
  std::string since;     // TIME or DUR before --now: what changed is counted from then
  int html_hosts = 500;  // hosts shown in detail in the HTML page (0: all)
  // Each host's access rights (HostReport::access): "auto" for reports of at most
  // kAccessAutoHosts hosts, "all", "none".
  std::string access = "auto";
};

// --access auto includes the access rights when the report covers at most this many hosts (they
// double a fleet report's JSON: `tidemarkctl who` answers per identity across a fleet).
inline constexpr size_t kAccessAutoHosts = 500;

struct HostReport {
  JudgedHost judged;
  bool stale = false;
  std::map<std::string, std::string> incomplete_sections;  // section -> status, not ok
  // The errors those sections reported ([{section, path, line, message}]); null when there
  // are none to show, or the host is past the first 200 with incomplete sections.
  nlohmann::json collection_errors;
  // Who can get in and with which privileges (UID 0 accounts, privileged group members, sudo
  // grants, authorized keys: rows of the latest state's fact tables); null when the state
  // cannot be read or the report leaves them out (--access).
  nlohmann::json access;
  std::vector<const policy::RuleResult*> failing;  // most severe first
  std::vector<const policy::RuleResult*> unknown;  // unknown and error
  // Since the previous report (when there is one): the host's states from the one current
  // then to the latest, and what changed; `new_host`: no state of it was current then.
  std::vector<HistoryEntry> states_since;
  std::vector<policy::Change> changes_since;
  bool new_host = false;
  // Since the approved baseline (when there is one): the states from the approved one to the
  // latest, what changed, which changes are findings (policy::IsBaselineFinding, not covered
  // by an active exception) and which exception covers a change.
  std::optional<BaselineApproval> baseline;
  std::vector<HistoryEntry> states_baseline;
  std::vector<policy::Change> changes_baseline;
  std::vector<bool> baseline_finding;
  std::vector<std::string> covered_by;
};

struct Report {
  int64_t now = 0;
  int64_t stale_after = 0;
  std::vector<HostReport> hosts;
  std::optional<LoadedRegister> reg;
  std::vector<policy::ExceptionVerdict> verdicts;  // sorted
  std::optional<int64_t> previous_at;              // the previous report's time
  // What changed is counted from here: --since, or else the previous report's time.
  std::optional<int64_t> since_at;
  bool since_given = false;
  // exception id + "/" + host -> status in the previous report
  std::map<std::string, std::string> previous_statuses;
  // The summaries of the reports recorded in the 30 days before `now`, oldest first (the
  // HTML page's chart).
  std::vector<ReportRecord> history;
  bool access_included = false;
};

constexpr std::array<policy::Severity, 5> kSeverities = {
    policy::Severity::kCritical, policy::Severity::kHigh, policy::Severity::kMedium,
    policy::Severity::kLow, policy::Severity::kInfo};

// Reads everything the report holds from the store (and the register, when given).
StatusOr<Report> Build(const Options& o, SqliteStore& store, const std::string& db_path);

// Failing results by severity (tolerated ones apart), over every host.
struct Counts {
  std::map<policy::Severity, int> failing;
  int tolerated = 0;
  int unknown = 0;
  std::array<int, 4> statuses{};  // by ExceptionStatus
  std::vector<std::string> stale, not_judged;
};
Counts Count(const Report& r);

// The owners and contacts of the register and the approvers of the baselines, one row per
// person and role, with the exceptions and the hosts' baselines they answer for.
struct Contact {
  std::string role;  // owner, contact, baseline approver
  policy::Person person;
  std::vector<std::string> exceptions;
  std::vector<std::string> baselines;  // hosts
};
std::vector<Contact> Contacts(const Report& r);

// 5 a leftover, 3 a failing finding at or above `fail_on` (not tolerated) or, when `fail_on` is
// high or less, a finding since an approved baseline; else 0.
int ExitCode(const Report& r, policy::Severity fail_on);
// How many changes since the approved baselines are findings, and on how many hosts.
std::pair<int, int> BaselineFindings(const Report& r);
// The hosts whose configuration changed since the previous report, and the new ones.
nlohmann::json Changed(const Report& r);
// The verdicts revoked now that were not revoked in the previous report.
nlohmann::json RevokedSince(const Report& r);

// The formats.
nlohmann::json ToJson(const Report& r);
void WriteText(const Report& r, std::ostream& out);
void WriteCsv(const Report& r, std::ostream& out);
void WriteJunit(const Report& r, std::ostream& out);

}  // namespace tidemark::ctl::report

#endif  // TIDEMARK_COLLECTOR_CTL_REPORT_REPORT_H_
