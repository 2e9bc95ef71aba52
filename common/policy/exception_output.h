// The exception statuses (exceptions.h) as people and programs read them: text (one block per
// exception and host, leftovers first), JSON (docs/exceptions.md, "Output") and CSV (one row
// per exception and host). Shared by `tidemarkctl exceptions`, `verify-revocations` and
// `evaluate --register`. Text a register's author or a host wrote is escaped (common/text.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "common/policy/exceptions.h"

namespace tidemark::policy {

// The most covered items an output lists per verdict (a cover can match up to a query's
// 100,000 rows); `items_total` in JSON, "(and N more)" in text and CSV say how many there were.
// The verdict itself keeps all of them (ApplyVerdicts tolerates each failing item it covers).
inline constexpr size_t kMaxVerdictItems = 1000;

// One verdict as JSON: exception, title, host, status, reason, expiry (effective, as written,
// phase), days_left or days_overdue at `now`, owner, contact, ticket, evidence, items.
nlohmann::json VerdictJson(const ExceptionVerdict& v, int64_t now);

// {"now", "summary": {status: count}, "verdicts": [...]}
nlohmann::json VerdictsJson(const std::vector<ExceptionVerdict>& verdicts, int64_t now);

void PrintVerdictsText(const std::vector<ExceptionVerdict>& verdicts, int64_t now,
                       std::ostream& out);
void PrintVerdictsCsv(const std::vector<ExceptionVerdict>& verdicts, int64_t now,
                      std::ostream& out);

// The exit code of verify-revocations: 5 when a verdict is leftover, else 6 when one is
// unverified, else 0 (every one revoked, or none to verify).
int RevocationExitCode(const std::vector<ExceptionVerdict>& verdicts);

}  // namespace tidemark::policy
