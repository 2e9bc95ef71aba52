// Tables of the `network` section(s) (docs/sections/). Not defined yet (issue 10).
#include "common/policy/tables.h"

namespace tidemark::policy {

void AddNetworkTables(std::vector<Table>& out) { (void)out; }

}  // namespace tidemark::policy
