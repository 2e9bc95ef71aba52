#!/bin/sh
# The long run of the fault tests (docs/security.md "What was run"): 100 rounds of kill -9 of
# the collector while 6 agents stream to it, and 100 rounds of kill -9 of the agents while they
# collect, spool and send. CI runs a few rounds of each (ctest fault_test).
#   tests/faults/long_run.sh [BUILD_DIR]        (default: build; ROUNDS=N to change the count)
# Prints each test's summary line and the seed that repeats it (TIDEMARK_FAULT_SEED=S).
set -eu
build="${1:-build}"
bin="$build/tests/fault_test"
if [ ! -x "$bin" ]; then
  echo "long_run: $bin not found; build it: cmake --build $build --target fault_test" >&2
  exit 2
fi
TIDEMARK_FAULT_ROUNDS="${ROUNDS:-100}" exec "$bin"
