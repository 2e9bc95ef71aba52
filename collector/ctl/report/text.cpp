// `tidemarkctl report --format text`: the summary and the leftovers, for a terminal or a mail.
#include "collector/ctl/common.h"
#include "collector/ctl/report/report.h"
#include "common/policy/exception_output.h"

namespace tidemark::ctl::report {

using json = nlohmann::json;
using policy::ExceptionStatus;
using policy::Severity;

void WriteText(const Report& r, std::ostream& out) {
  Counts c = Count(r);
  out << "tidemark report at " << FormatRfc3339(r.now) << ": " << r.hosts.size() << " host(s), "
      << r.hosts.size() - c.stale.size() << " reporting, " << c.stale.size() << " stale\n";
  if (!c.stale.empty()) {
    out << "stale (no report within " << r.stale_after / 3600 << " h):";
    for (const std::string& h : c.stale) out << " " << Safe(h);
    out << "\n";
  }
  if (r.since_at) {
    json revoked = RevokedSince(r);
    out << (r.since_given ? "since " : "since the previous report (") << FormatRfc3339(*r.since_at)
        << (r.since_given ? "" : ")") << ": " << Changed(r).size() << " host(s) changed, "
        << revoked.size() << " exception verdict(s) newly revoked";
    if (r.since_given) {
      out << (r.previous_at ? " (since the report of " + FormatRfc3339(*r.previous_at) + ")"
                            : " (no report recorded by then)");
    }
    out << "\n";
    for (const json& v : revoked) {
      out << "revoked since: " << Safe(v["exception"].get<std::string>()) << " on "
          << Safe(v["host"].get<std::string>()) << "\n";
    }
  }
  if (!c.not_judged.empty()) {
    out << "not judged yet (the collector judges with --policies):";
    for (const std::string& h : c.not_judged) out << " " << Safe(h);
    out << "\n";
  }
  if (auto [findings, hosts] = BaselineFindings(r); findings > 0) {
    out << "since the approved baselines: " << findings << " finding(s) on " << hosts
        << " host(s) (a UID 0 account, sudo grant, key for root, listener, SUID file or sshd "
           "setting not covered by an exception)\n";
  }
  out << "findings:";
  for (Severity s : kSeverities)
    out << " " << c.failing[s] << " " << policy::SeverityName(s) << ",";
  out << " " << c.tolerated << " tolerated, " << c.unknown << " unknown\n";
  if (r.reg) {
    out << "exceptions: " << c.statuses[static_cast<size_t>(ExceptionStatus::kLeftover)]
        << " leftover, " << c.statuses[static_cast<size_t>(ExceptionStatus::kUnverified)]
        << " unverified, " << c.statuses[static_cast<size_t>(ExceptionStatus::kActive)]
        << " active, " << c.statuses[static_cast<size_t>(ExceptionStatus::kRevoked)]
        << " revoked\n";
    std::vector<policy::ExceptionVerdict> leftovers;
    for (const auto& v : r.verdicts) {
      if (v.status == ExceptionStatus::kLeftover) leftovers.push_back(v);
    }
    if (!leftovers.empty()) {
      out << "\n";
      policy::PrintVerdictsText(leftovers, r.now, out);
    }
  }
}

}  // namespace tidemark::ctl::report
