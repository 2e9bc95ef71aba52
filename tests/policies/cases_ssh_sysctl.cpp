// The fixtures of the rules over the sshd, ssh_keys, sysctl, login and pam tables.
#include "tests/policies/cases.h"

namespace tidemark::policy::cases {

Root SshSysctlBase() { return {}; }

std::vector<Case> SshSysctlCases() { return {}; }

}  // namespace tidemark::policy::cases
