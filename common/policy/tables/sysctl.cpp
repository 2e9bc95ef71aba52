// Tables of the `sysctl` section(s) (docs/sections/). Not defined yet (issue 10).
#include "common/policy/tables.h"

namespace tidemark::policy {

void AddSysctlTables(std::vector<Table>& out) { (void)out; }

}  // namespace tidemark::policy
