// The fixtures of the rules over the files, sweep, services, packages, cron and network tables.
#include "tests/policies/cases.h"

namespace tidemark::policy::cases {

Root SystemBase() { return {}; }

std::string BaseListeners() { return "[]"; }

std::vector<Case> SystemCases() { return {}; }

}  // namespace tidemark::policy::cases
