#!/bin/bash
# Collector memory per snapshot in flight (issue 9, defect 3; docs/collector.md "Memory per
# snapshot"): starts tidemark-collector on loopback, sends it ONE synthetic snapshot of BYTES
# bytes over mutual TLS (the load generator's ingest mode, waits for the ack) and prints the
# collector's peak RSS (VmHWM) before and after, and the growth per byte of snapshot. With
# POLICIES (a file or directory, e.g. policies/) the collector judges what it stores, as an
# installed one does, and the peak is read once the evaluator has judged the snapshot.
#   bench/snapshot_memory.sh [BUILD_DIR] [BYTES] [POLICIES]  (default: build 60000000 none)
set -euo pipefail
build=${1:-build}
bytes=${2:-60000000}
policies=${3:-none}
ctl=$build/collector/tidemarkctl
collector=$build/collector/tidemark-collector
loadgen=$build/bench/tidemark_bench_loadgen
for b in "$ctl" "$collector" "$loadgen"; do
  [ -x "$b" ] || { echo "snapshot_memory.sh: $b is missing; build first" >&2; exit 1; }
done
work=$(mktemp -d)
cpid=
cleanup() {
  [ -n "$cpid" ] && kill -TERM "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$ctl" pki init --dir "$work/pki" >/dev/null
"$loadgen" make-certs --pki "$work/pki" --count 1 --out "$work/agents.pem"
: >"$work/collector.log"
"$collector" --listen 127.0.0.1:0 --ca "$work/pki/ca.crt" --cert "$work/pki/collector.crt" \
  --key "$work/pki/collector.key" --db "$work/c.db" --policies "$policies" \
  2>>"$work/collector.log" &
cpid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^info listening .* port=\([0-9]*\).*/\1/p' "$work/collector.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "snapshot_memory.sh: the collector did not start" >&2; exit 1; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
before=$(hwm_kb "$cpid")
start=$(date +%s.%N)
out=$(timeout 600 "$loadgen" ingest --count 1 --per-agent 1 --bytes "$bytes" \
  --collector "127.0.0.1:$port" --server-name localhost --ca "$work/pki/ca.crt" \
  --agents "$work/agents.pem" --time-limit 590)
end=$(date +%s.%N)
judged=
if [ "$policies" != none ]; then
  for _ in $(seq 1200); do
    grep -qE '^(info evaluated|error evaluation_failed)' "$work/collector.log" && break
    sleep 0.5
  done
  judged=$(date +%s.%N)
  grep -E '^(info evaluated|error evaluation_failed)' "$work/collector.log" | head -n 1
fi
after=$(hwm_kb "$cpid")
echo "$out"
grep -E 'snapshot_refused|ack' "$work/collector.log" | head -n 3
echo "collector peak RSS: ${before} kB idle -> ${after} kB after one $bytes-byte snapshot;" \
  "growth $(( (after - before) * 1024 / bytes )).$(( (after - before) * 10240 / bytes % 10 ))x" \
  "the snapshot; $(echo "$end - $start" | bc) s until the ack${judged:+, $(echo "$judged - $end" | bc) s more until judged}"
