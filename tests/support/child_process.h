// Waiting for a test's child process with a bound: a child that does not exit is a failure
// message, never a test that hangs until ctest's timeout.
#pragma once

#include <sys/types.h>

namespace tidemark::testing {

// Waits up to `timeout_s` for child `pid` to exit and reaps it. Returns its exit code, 128 +
// the signal that ended it, or -1 when it did not exit in time (it is then killed with SIGKILL
// and reaped, so that no test leaves it behind).
int WaitChild(pid_t pid, int timeout_s);

}  // namespace tidemark::testing
