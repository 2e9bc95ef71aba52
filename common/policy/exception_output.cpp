#include "common/policy/exception_output.h"

#include <array>
#include <cctype>
#include <string>

#include "common/text.h"
#include "common/time.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxField = 256;
constexpr size_t kMaxText = 1024;

std::string Safe(const std::string& text, size_t max = kMaxField) {
  return EscapeControlBounded(text, max);
}

json PersonJson(const Person& p) {
  return {{"name", p.name},
          {"organisation", p.organisation},
          {"email", p.email},
          {"phone", p.phone},
          {"availability", p.availability}};
}

// "Jane Roe (Example Provider) <jane.roe@example.org> +49 30 1234567"
std::string PersonText(const Person& p) {
  std::string out = Safe(p.name);
  if (!p.organisation.empty()) out += " (" + Safe(p.organisation) + ")";
  if (!p.email.empty()) out += " <" + Safe(p.email) + ">";
  if (!p.phone.empty()) out += " " + Safe(p.phone);
  if (!p.availability.empty()) out += ", " + Safe(p.availability);
  return out;
}

// Whole days from `from` to `to`, rounded down (0 within the first day).
int64_t Days(int64_t from, int64_t to) { return (to - from) / 86400; }

std::string DaysText(int64_t n) { return std::to_string(n) + (n == 1 ? " day" : " days"); }

std::string Where(const CoveredItem& i) { return SourceLocation(i.source_file, i.source_line); }

}  // namespace

json VerdictJson(const ExceptionVerdict& v, int64_t now) {
  const MigrationException& e = *v.exception;
  json items = json::array();
  for (const CoveredItem& i : v.items) {
    if (items.size() == kMaxVerdictItems) break;
    items.push_back({{"table", i.table.empty() ? json() : json(i.table)},
                     {"rule", i.rule.empty() ? json() : json(i.rule)},
                     {"id", i.id},
                     {"source_file", i.source_file ? json(*i.source_file) : json()},
                     {"source_line", i.source_line ? json(*i.source_line) : json()},
                     {"register_line", i.cover_line}});
  }
  json evidence;
  if (v.evidence) {
    evidence = {{"snapshot", v.evidence->snapshot_id},
                {"received_at", FormatRfc3339(v.evidence->received_at)},
                {"last_reported_at", FormatRfc3339(v.evidence->confirmed_at)},
                {"clock", v.evidence->agent_clock ? "agent" : "collector"}};
  }
  bool expired = now >= e.effective_expiry;
  return {{"exception", e.id},
          {"title", e.title},
          {"host", v.host.empty() ? json() : json(v.host)},
          {"status", ExceptionStatusName(v.status)},
          {"reason", v.reason},
          {"early", v.early},
          {"absent_since", v.absent_since ? json(FormatRfc3339(*v.absent_since)) : json()},
          {"effective_expiry", FormatRfc3339(e.effective_expiry)},
          {"expires", FormatRfc3339(e.expires)},
          {"phase", e.phase.empty() ? json() : json(e.phase)},
          {"granted", e.granted ? json(FormatRfc3339(*e.granted)) : json()},
          {"days_left", expired ? json() : json(Days(now, e.effective_expiry))},
          {"days_overdue", expired ? json(Days(e.effective_expiry, now)) : json()},
          {"owner", PersonJson(e.owner)},
          {"contact", e.contact ? PersonJson(*e.contact) : json()},
          {"ticket", e.ticket},
          {"reason_granted", e.reason},
          {"register", e.file + ":" + std::to_string(e.line)},
          {"evidence", evidence},
          {"items", std::move(items)},
          {"items_total", v.items.size()}};
}

json VerdictsJson(const std::vector<ExceptionVerdict>& verdicts, int64_t now) {
  json summary = {{"leftover", 0}, {"unverified", 0}, {"active", 0}, {"revoked", 0}};
  json list = json::array();
  for (const ExceptionVerdict& v : verdicts) {
    summary[std::string(ExceptionStatusName(v.status))] =
        summary[std::string(ExceptionStatusName(v.status))].get<int>() + 1;
    list.push_back(VerdictJson(v, now));
  }
  return {{"now", FormatRfc3339(now)}, {"summary", summary}, {"verdicts", std::move(list)}};
}

void PrintVerdictsText(const std::vector<ExceptionVerdict>& verdicts, int64_t now,
                       std::ostream& out) {
  std::array<int, 4> counts{};
  for (const ExceptionVerdict& v : verdicts) ++counts[static_cast<size_t>(v.status)];
  out << "exceptions at " << FormatRfc3339(now) << ": "
      << counts[static_cast<size_t>(ExceptionStatus::kLeftover)] << " leftover, "
      << counts[static_cast<size_t>(ExceptionStatus::kUnverified)] << " unverified, "
      << counts[static_cast<size_t>(ExceptionStatus::kActive)] << " active, "
      << counts[static_cast<size_t>(ExceptionStatus::kRevoked)] << " revoked\n";
  for (const ExceptionVerdict& v : verdicts) {
    const MigrationException& e = *v.exception;
    out << AsciiUpper(ExceptionStatusName(v.status)) << "\t" << Safe(e.id) << "\t"
        << (v.host.empty() ? "(no host)" : Safe(v.host)) << "\t";
    if (now >= e.effective_expiry) {
      out << "expired " << FormatRfc3339(e.effective_expiry) << " ("
          << DaysText(Days(e.effective_expiry, now)) << " ago)";
    } else {
      out << "expires " << FormatRfc3339(e.effective_expiry) << " (in "
          << DaysText(Days(now, e.effective_expiry)) << ")";
    }
    if (!e.title.empty()) out << "\t" << Safe(e.title, kMaxText);
    out << "\n\towner " << PersonText(e.owner);
    if (e.contact) out << "; contact " << PersonText(*e.contact);
    out << "; ticket " << Safe(e.ticket) << "\n";
    out << "\t" << Safe(v.reason, kMaxText) << "\n";
    if (v.evidence) {
      out << "\tevidence: snapshot " << Safe(v.evidence->snapshot_id) << " received "
          << FormatRfc3339(v.evidence->received_at) << ", last reported "
          << FormatRfc3339(v.evidence->confirmed_at)
          << (v.evidence->agent_clock ? " (the agent's clock)" : "") << "\n";
    }
    size_t shown = 0;
    for (const CoveredItem& i : v.items) {
      if (shown++ == kMaxVerdictItems) {
        out << "\t(and " << v.items.size() - kMaxVerdictItems << " more items)\n";
        break;
      }
      out << "\t" << (i.table.empty() ? "rule " + Safe(i.rule) : Safe(i.table)) << "\t"
          << Safe(i.id, 512);
      if (std::string at = Where(i); !at.empty()) out << "\t" << Safe(at, 512);
      out << "\n";
    }
  }
}

void PrintVerdictsCsv(const std::vector<ExceptionVerdict>& verdicts, int64_t now,
                      std::ostream& out) {
  out << "exception,host,status,effective_expiry,days_left,days_overdue,owner,owner_email,"
         "owner_phone,contact,contact_email,ticket,snapshot,received_at,last_reported_at,"
         "items,reason\n";
  for (const ExceptionVerdict& v : verdicts) {
    const MigrationException& e = *v.exception;
    bool expired = now >= e.effective_expiry;
    std::string items;
    size_t shown = 0;
    for (const CoveredItem& i : v.items) {
      if (shown++ == kMaxVerdictItems) {
        items += " (and " + std::to_string(v.items.size() - kMaxVerdictItems) + " more)";
        break;
      }
      items += (items.empty() ? "" : " ") + i.id;
    }
    out << CsvField(e.id) << "," << CsvField(v.host) << "," << ExceptionStatusName(v.status) << ","
        << FormatRfc3339(e.effective_expiry) << ","
        << (expired ? "" : std::to_string(Days(now, e.effective_expiry))) << ","
        << (expired ? std::to_string(Days(e.effective_expiry, now)) : "") << ","
        << CsvField(e.owner.name) << "," << CsvField(e.owner.email) << ","
        << CsvField(e.owner.phone) << "," << CsvField(e.contact ? e.contact->name : "") << ","
        << CsvField(e.contact ? e.contact->email : "") << "," << CsvField(e.ticket) << ","
        << CsvField(v.evidence ? v.evidence->snapshot_id : "") << ","
        << (v.evidence ? FormatRfc3339(v.evidence->received_at) : "") << ","
        << (v.evidence ? FormatRfc3339(v.evidence->confirmed_at) : "") << "," << CsvField(items)
        << "," << CsvField(v.reason) << "\n";
  }
}

int RevocationExitCode(const std::vector<ExceptionVerdict>& verdicts) {
  bool unverified = false;
  for (const ExceptionVerdict& v : verdicts) {
    if (v.status == ExceptionStatus::kLeftover) return 5;
    unverified |= v.status == ExceptionStatus::kUnverified;
  }
  return unverified ? 6 : 0;
}

}  // namespace tidemark::policy
