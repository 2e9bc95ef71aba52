#!/bin/bash
# Transport benchmarks of issue 5, side by side in one run, on loopback only, every step bounded
# in count and time:
#   1. the floor: decode + durable store of 20 KB snapshots without any network
#      (bench/ingest_floor.cpp), one commit each and in group commits of 32;
#   2. ingest over persistent mutual-TLS connections (100 agents x 20 snapshots, ack after commit),
#      with the collector's evaluation off and on (the shipped baseline, policies/), and how long
#      the evaluator needs to judge every stored state;
#   3. the unchanged-state path: offers of the content hash (100 agents x 100 offers);
#   4. a reconnect storm of AGENTS agents (each its own certificate), full handshakes and
#      TLS 1.3 resumption, at most 1000 in flight;
#   5. collector RSS with AGENTS idle connections, per connection;
#   6. server CPU per full mutual-TLS handshake: tidemark-collector and `openssl s_server`.
#   bench/transport.sh [BUILD_DIR] [AGENTS]      (default: build 10000)
# Prints the raw JSON lines of the load generator and a Markdown table.
set -euo pipefail
build=${1:-build}
n=${2:-10000}
ctl=$build/collector/tidemarkctl
collector=$build/collector/tidemark-collector
loadgen=$build/bench/tidemark_bench_loadgen
floor=$build/bench/tidemark_bench_ingest_floor
for b in "$ctl" "$collector" "$loadgen" "$floor"; do
  [ -x "$b" ] || { echo "transport.sh: $b is missing; build first" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((n + 200)) ]; then
  echo "transport.sh: open-file limit $(ulimit -n) is too low for $n agents" >&2
  exit 1
fi
work=$(mktemp -d)
cpid=
cleanup() {
  [ -n "$cpid" ] && kill -TERM "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$ctl" pki init --dir "$work/pki" >/dev/null
"$loadgen" make-certs --pki "$work/pki" --count "$n" --out "$work/agents.pem"
lg() { timeout 300 "$loadgen" "$@" --collector "127.0.0.1:$port" --server-name localhost \
  --ca "$work/pki/ca.crt" --agents "$work/agents.pem" --time-limit 240; }

# Every simulated agent connects from 127.0.0.1, one source for the limits per source
# (docs/collector.md "Limits"): they are lifted here, as for a fleet behind one NAT address.
start_collector() {  # $1: database file; $2: policies (default none: no evaluation)
  : >"$work/collector.log"
  "$collector" --listen 127.0.0.1:0 --ca "$work/pki/ca.crt" --cert "$work/pki/collector.crt" \
    --key "$work/pki/collector.key" --db "$1" --max-connections $((n + 100)) \
    --max-source-handshakes $((n + 100)) --source-connection-rate 0 \
    --max-inflight-bytes 1073741824 --policies "${2:-none}" 2>>"$work/collector.log" &
  cpid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^info listening .* port=\([0-9]*\).*/\1/p' "$work/collector.log")
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "transport.sh: the collector did not start" >&2
  cat "$work/collector.log" >&2
  exit 1
}
stop_collector() {
  kill -TERM "$cpid"
  wait "$cpid" || true
  cpid=
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1" | head -n 1; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "Machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), $(date -u +%Y-%m-%d)"

floor_out=$("$floor" "$work" --count 2000 --batch 32)
echo "$floor_out"
floor_one=$(field "$(sed -n 1p <<<"$floor_out")" rate)
floor_batch=$(field "$(sed -n 2p <<<"$floor_out")" rate)

# Ingest with the collector's evaluation on: acks never wait for it, but it takes CPU.
policies=$(cd "$(dirname "$0")/.." && pwd)/policies
start_collector "$work/ingest-eval.db" "$policies"
ingest_eval=$(lg ingest --count 100 --per-agent 20 --server-pid "$cpid")
echo "$ingest_eval"
t0=$(date +%s.%N)
for _ in $(seq 3000); do  # at most 300 s
  [ "$(grep -c '^info evaluated ' "$work/collector.log")" -ge 2000 ] && break
  sleep 0.1
done
judged=$(grep -c '^info evaluated ' "$work/collector.log" || true)
judge_wait=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
stop_collector
echo "evaluation: $judged states judged, the last $judge_wait s after the last ack"

start_collector "$work/ingest.db"
ingest=$(lg ingest --count 100 --per-agent 20 --server-pid "$cpid")
echo "$ingest"
offer=$(lg offer --count 100 --per-agent 100 --server-pid "$cpid")
echo "$offer"
storm=$(lg storm --count "$n" --concurrency 1000 --server-pid "$cpid")
echo "$storm"
stop_collector

# Idle connections: RSS before and while the load generator holds them.
start_collector "$work/hold.db"
sleep 1
rss0=$(rss_kb "$cpid")
mkfifo "$work/hold.in"
lg hold --count "$n" --concurrency 1000 <"$work/hold.in" >"$work/hold.out" &
hold_pid=$!
exec 3>"$work/hold.in"
for _ in $(seq 2400); do grep -q '^holding' "$work/hold.out" && break; sleep 0.1; done
sleep 2
rss1=$(rss_kb "$cpid")
held=$(sed -n 's/^holding \([0-9]*\)/\1/p' "$work/hold.out")
exec 3>&-
wait "$hold_pid" || true
stop_collector
echo "hold: $held connections, collector RSS ${rss0} kB idle -> ${rss1} kB"

# Bare mutual-TLS handshakes: tidemark-collector, then openssl s_server, same client.
hs=$((n < 2000 ? n : 2000))
start_collector "$work/hs.db"
hs_collector=$(lg handshake --count "$hs" --concurrency 50 --server-pid "$cpid")
echo "$hs_collector"
stop_collector
port=$((20000 + RANDOM % 20000))
openssl s_server -accept "127.0.0.1:$port" -cert "$work/pki/collector.crt" \
  -key "$work/pki/collector.key" -CAfile "$work/pki/ca.crt" -Verify 1 -verify_return_error \
  -tls1_3 -naccept "$((hs + 1))" -quiet >/dev/null 2>&1 &
spid=$!
sleep 0.5
hs_sserver=$(lg handshake --count "$hs" --concurrency 50 --server-pid "$spid")
echo "$hs_sserver"
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true

ingest_rate=$(field "$ingest" rate)
offer_rate=$(field "$offer" rate)
storm_full=$(grep 'full handshakes' <<<"$storm")
storm_res=$(grep 'resumption' <<<"$storm")
echo
echo "| what | result |"
echo "| --- | --- |"
echo "| floor: decode + store, one commit per snapshot | $floor_one snapshots/s |"
echo "| floor: decode + store, group commit of 32 | $floor_batch snapshots/s |"
echo "| ingest over mutual TLS, 100 persistent connections, 20 KB, ack after commit | $ingest_rate snapshots/s = $(awk -v a="$ingest_rate" -v b="$floor_batch" 'BEGIN{printf "%.2f", a/b}') x the group-commit floor |"
ingest_eval_rate=$(field "$ingest_eval" rate)
echo "| ingest as above with the collector's evaluation on (shipped baseline) | $ingest_eval_rate snapshots/s = $(awk -v a="$ingest_eval_rate" -v b="$ingest_rate" 'BEGIN{printf "%.2f", a/b}') x with it off; $judged states judged, the last $judge_wait s after the last ack |"
echo "| unchanged state (offer -> seen), 100 connections | $offer_rate acks/s = $(awk -v a="$offer_rate" -v b="$ingest_rate" 'BEGIN{printf "%.1f", a/b}') x ingest |"
# The load generator shares the cores: (server + load generator CPU) / cores is the floor of the
# storm's wall time on this machine.
storm_row() {  # $1: label; $2: the load generator's line
  local cpu_s
  cpu_s=$(awk -v a="$(field "$2" server_cpu_ms)" -v b="$(field "$2" client_cpu_ms)" \
    -v c="$(nproc)" 'BEGIN{printf "%.1f", (a + b) / 1000 / c}')
  echo "| reconnect storm, $n agents, $1 | $(field "$2" seconds) s until all acked ($(field "$2" ok) ok, $(field "$2" resumed) resumed, $(field "$2" failed) failed); CPU per agent: server $(field "$2" server_cpu_ms_per_op) ms, load generator $(field "$2" client_cpu_ms_per_op) ms; both over $(nproc) cores: $cpu_s s |"
}
storm_row "full handshakes" "$storm_full"
storm_row "TLS 1.3 resumption" "$storm_res"
echo "| collector RSS, $held idle mutual-TLS connections | $((rss0 / 1024)) MB idle -> $((rss1 / 1024)) MB: $(( (rss1 - rss0) / (held > 0 ? held : 1) )) kB per connection |"
echo "| server CPU per full mutual-TLS handshake: tidemark-collector | $(field "$hs_collector" server_cpu_ms_per_op) ms ($hs handshakes) |"
echo "| server CPU per full mutual-TLS handshake: openssl s_server | $(field "$hs_sserver" server_cpu_ms_per_op) ms ($hs handshakes) |"
