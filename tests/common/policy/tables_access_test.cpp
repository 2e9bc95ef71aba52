// Fact tables over sections the real agent collects from fixture roots (issue 10). Filled in by
// the tables' definitions (common/policy/tables/).
#include <gtest/gtest.h>

#include "common/policy/fact_db.h"
#include "common/policy/tables.h"

namespace tidemark::policy {
namespace {}  // namespace
}  // namespace tidemark::policy
