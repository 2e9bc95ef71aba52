#!/bin/bash
# The judgement's benchmarks (issue 10), in one run on this machine:
#   1. evaluating this machine's full snapshot against the shipped baseline, in process, beside
#      nlohmann/json parsing the same text (bench/policy_bench.cpp eval: median of 21);
#   2. the same for the transport benchmark's synthetic 20 KB snapshot (throughput, one core);
#   3. `tidemarkctl query` over HOSTS hosts' latest states (a generated store whose every host
#      holds this machine's accounts, sudo, sshd, ssh_keys, login, pam, sysctl and cron
#      sections), `SELECT host, principal, command FROM sudo_grants WHERE nopasswd`: wall time
#      and peak RSS (bench/measure.cpp, median of 3), and the store's size per host; the hosts
#      are judged by the collector's evaluator first (states judged per second, one thread),
#      which writes the facts file the query reads.
#   bench/policy.sh [BUILD_DIR] [HOSTS]      (default: build 10000)
set -euo pipefail
build=${1:-build}
hosts=${2:-10000}
agent=$build/agent/tidemark-agent
ctl=$build/collector/tidemarkctl
bench=$build/bench/tidemark_bench_policy
measure=$build/bench/tidemark_bench_measure
for b in "$agent" "$ctl" "$bench" "$measure"; do
  [ -x "$b" ] || { echo "policy.sh: $b is missing; build first" >&2; exit 1; }
done
policies=$(cd "$(dirname "$0")/.." && pwd)/policies
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$agent" collect --output "$work/full.json" 2>/dev/null
"$agent" collect --only accounts,sudo,sshd,ssh_keys,login,pam,sysctl,cron \
  --output "$work/small.json" 2>/dev/null
"$bench" eval "$work/full.json" --policies "$policies" --runs 21
"$bench" synthetic --bytes 20000 --policies "$policies" --runs 51
"$bench" make-store "$work/small.json" --hosts "$hosts" --db "$work/fleet.db" --policies "$policies"
"$measure" --runs 3 --label "tidemarkctl query over $hosts hosts" -- "$ctl" --db "$work/fleet.db" \
  query "SELECT host, principal, command FROM sudo_grants WHERE nopasswd"
