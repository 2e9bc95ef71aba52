#!/bin/sh
# Builds the libFuzzer targets (clang 14, ASan+UBSan) into build-fuzz/ and runs each for a given
# time; exits non-zero when any target crashed, leaked, timed out or ran out of memory.
#   fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]     default: 60 s each, every target
# Corpora grow in build-fuzz/corpus/TARGET (kept between runs; seeds are rebuilt from
# tests/fixtures each run); crash inputs land in build-fuzz/artifacts/. Each run appends one
# line per target to build-fuzz/fuzz-stats.log: date, target, seconds, executions, result.
# A crash input that was fixed goes to fuzz/regressions/TARGET/ (replayed by
# `ctest --test-dir build-fuzz`) together with a unit test.
# Environment: TIDEMARK_FUZZ_RUNS (stop a target after this many executions, as well as after
# SECONDS: `TIDEMARK_FUZZ_RUNS=10000000 fuzz/run.sh 7200 sudoers`), TIDEMARK_FUZZ_BUILD (build dir),
# TIDEMARK_FUZZ_JOBS (targets run at once, default nproc), TIDEMARK_FUZZ_FORK (N: each target
# runs as one libFuzzer run of N worker processes, -fork=N, stopping at the first crash, timeout
# or out-of-memory as a plain run does; TIDEMARK_FUZZ_JOBS then defaults to 1: the long runs,
# `TIDEMARK_FUZZ_FORK=2 TIDEMARK_FUZZ_RUNS=10000000 fuzz/run.sh 9000 dpkg_status`),
# A long run (TIDEMARK_FUZZ_FORK) also reads the committed corpus fuzz/corpus/TARGET and, when it
# ends clean, merges into it what it found that adds coverage (libFuzzer's -merge=1), so that the
# next long run, on this machine or a fresh one, continues where this one stopped (fuzz/README.md,
# "Long runs"); commit fuzz/corpus/ afterwards.
# TIDEMARK_FUZZ_TIMEOUT (s per input, default 25),
# TIDEMARK_FUZZ_RSS_MB (default 2048), ASAN_OPTIONS (default
# malloc_context_size=0:quarantine_size_mb=64: no stack recorded per allocation, which was a
# tenth of the time per input, and a quarter of ASan's default 256 MB quarantine of freed
# memory, so that fresh pages are not faulted in for every input: a section target's fixed
# cost per input fell by 15-50% (fuzz/README.md, "Speed"); memory freed within the last 64 MB
# of frees is still caught when used. Replay a crash input with ASAN_OPTIONS= to see where the
# memory it touched was allocated and freed).
set -eu
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0:quarantine_size_mb=64}
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
build=${TIDEMARK_FUZZ_BUILD:-$src/build-fuzz}
timeout=${TIDEMARK_FUZZ_TIMEOUT:-25}
fork=${TIDEMARK_FUZZ_FORK:-}
jobs=${TIDEMARK_FUZZ_JOBS:-$(if [ -n "$fork" ]; then echo 1; else nproc; fi)}
runs=${TIDEMARK_FUZZ_RUNS:-}
rss=${TIDEMARK_FUZZ_RSS_MB:-2048}
case $jobs in
  '' | *[!0-9]* | 0) echo "fuzz: TIDEMARK_FUZZ_JOBS must be a positive number, not '$jobs'" >&2; exit 2 ;;
esac
case $fork in
  *[!0-9]* | 0) echo "fuzz: TIDEMARK_FUZZ_FORK must be a positive number, not '$fork'" >&2; exit 2 ;;
esac
all="protocol snapshot sudoers facts sshd_config accounts authorized_keys crontab pam unit_file
dpkg_status sysctl login_defs nsswitch shells"
targets=${*:-$all}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DTIDEMARK_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
    -DTIDEMARK_BUILD_TESTS=OFF -DTIDEMARK_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target fuzz_all
rm -rf "$build/seeds"
"$src/fuzz/make_seeds.sh" "$build" "$build/seeds" >/dev/null

# One target: its log in $build/logs/TARGET.log, its line in fuzz-stats.log; non-zero on failure.
run_target() {
  t=$1
  bin=$build/fuzz/${t}_fuzz
  mkdir -p "$build/corpus/$t"
  dict=""
  case $t in
    protocol | snapshot) dict=$src/fuzz/dicts/json.dict ;;
    sudoers | sshd_config | pam) dict=$src/fuzz/dicts/$t.dict ;;
  esac
  log=$build/logs/$t.log
  kept=""
  if [ -n "$fork" ]; then
    kept=$src/fuzz/corpus/$t
    mkdir -p "$kept"
  fi
  rc=0
  "$bin" -max_total_time="$secs" -timeout="$timeout" -rss_limit_mb="$rss" -print_final_stats=1 \
    ${runs:+-runs="$runs"} -artifact_prefix="$build/artifacts/$t-" ${dict:+-dict="$dict"} \
    ${fork:+-fork=$fork -ignore_crashes=0 -ignore_timeouts=0 -ignore_ooms=0} \
    "$build/corpus/$t" "$build/seeds/$t" ${kept:+"$kept"} >"$log" 2>&1 || rc=$?
  if [ -n "$kept" ] && [ $rc -eq 0 ]; then
    before=$(find "$kept" -type f | wc -l)
    "$bin" -merge=1 -timeout="$timeout" -rss_limit_mb="$rss" "$kept" "$build/corpus/$t" \
      >"$build/logs/$t.merge.log" 2>&1 || rc=$?
    echo "fuzz: $t: fuzz/corpus/$t has $(find "$kept" -type f | wc -l) inputs ($before before)"
  fi
  # Fork mode prints no final statistics of its own (a failed worker's log, quoted after its
  # lines, has the worker's): its last "#N: cov: ..." line counts every worker's executions.
  if [ -n "$fork" ]; then
    execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -n 1)
  else
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  fi
  result=ok
  [ $rc -eq 0 ] || result="FAILED (exit $rc)"
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $t ${secs}s ${execs:-?} executions $result"
  echo "$line"
  echo "$line" >>"$build/fuzz-stats.log"
  return $rc
}

# The targets run in $jobs lanes at once (one per core by default: each target is one process
# of one thread, and CI's fuzz stage left a core idle), the i-th target in lane i mod $jobs
# ($all puts facts, whose seeds alone take ~30 s at -O0, in the lane with one target fewer).
for t in $targets; do
  [ -x "$build/fuzz/${t}_fuzz" ] || { echo "fuzz: no target $t" >&2; exit 2; }
done
mkdir -p "$build/artifacts" "$build/logs"
failed_list=$build/logs/failed.$$
: >"$failed_list"
lane=0
while [ $lane -lt "$jobs" ]; do
  (
    i=0
    for t in $targets; do
      if [ $((i % jobs)) -eq $lane ]; then
        run_target "$t" || echo "$t" >>"$failed_list"
      fi
      i=$((i + 1))
    done
  ) &
  lane=$((lane + 1))
done
wait
failed=$(tr '\n' ' ' <"$failed_list")
rm -f "$failed_list"
if [ -n "$failed" ]; then
  for t in $failed; do
    grep -E '^==[0-9]+==ERROR|SUMMARY|^artifact_prefix|Test unit written|fuzz invariant' \
      "$build/logs/$t.log" >&2 || true
    echo "fuzz: $t failed; full log $build/logs/$t.log" >&2
  done
  echo "fuzz: failed: $failed" >&2
  exit 1
fi
