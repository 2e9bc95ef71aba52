#!/bin/sh
# The README's main job: audit this machine end to end on the embedded default store.
#   1. a throwaway CA, the collector's and this host's certificates (tidemarkctl pki, OpenSSL
#      API) in the state folder — kept on the next run;
#   2. tidemark-collector on loopback with the SQLite store in the state folder;
#   3. tidemark-agent send: collect this host, send the snapshot over mutual TLS, wait for the
#      ack (given only after the snapshot is committed);
#   4. what the collector stored: the host's history and the summary of its latest snapshot;
#   5. the judgement: the collector judges every state it stores against the shipped baseline
#      (policies/); the findings it stored for this machine (tidemarkctl findings);
#   6. the report of this machine (tidemarkctl report): one HTML page in the state folder
#      (report.html: findings, exceptions of the register when there is one, what changed since
#      the previous run, the last 30 days), its path and the text summary.
# Safe to run again: each run adds one snapshot, or a "seen" record when nothing changed.
#   packaging/local-audit.sh [BUILD_DIR]
#   environment: TIDEMARK_STATE (default ./tidemark-state), TIDEMARK_PORT (default 7411; 0 picks
#   a free port), TIDEMARK_POLICIES (default: policies/ of this checkout), TIDEMARK_REGISTER
#   (the exception register, docs/exceptions.md; default: register.yaml in the state folder, used
#   when it exists), TIDEMARK_ONLY (a section list for `send --only`; default: every section,
#   the whole machine. Tests set it to bound their work: the sweep walks all of /.)
set -eu
build=${1:-build}
state=${TIDEMARK_STATE:-$PWD/tidemark-state}
port=${TIDEMARK_PORT:-7411}
only=${TIDEMARK_ONLY:-}
ctl=$build/collector/tidemarkctl
collector=$build/collector/tidemark-collector
agent=$build/agent/tidemark-agent
for b in "$ctl" "$collector" "$agent"; do
  [ -x "$b" ] || { echo "local-audit: $b is missing; build first (see README)" >&2; exit 1; }
done

# The host id is this machine's name; the agent takes it from its certificate's CN.
host=$(hostname)
case $host in
  ''|-*|.*|*..*|*[!A-Za-z0-9._-]*)
    echo "local-audit: host name '$host' is not a valid host id; set one with hostname(1)" >&2
    exit 1 ;;
esac

umask 077
mkdir -p "$state"
pki=$state/pki
"$ctl" pki init --dir "$pki" >/dev/null
"$ctl" pki issue --dir "$pki" "$host" >/dev/null
echo "state: $state (CA and certificates in $pki)"

policies=${TIDEMARK_POLICIES:-$(cd "$(dirname "$0")/.." && pwd)/policies}
log=$state/collector.log
: >"$log"
"$collector" --listen "127.0.0.1:$port" --ca "$pki/ca.crt" --cert "$pki/collector.crt" \
  --key "$pki/collector.key" --crl "$pki/crl.pem" --db "$state/tidemark.db" \
  --policies "$policies" 2>>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT INT TERM
# Wait (at most 10 s) until the collector listens, or say why it stopped.
i=0
until grep -q "^info listening " "$log"; do
  if ! kill -0 $pid 2>/dev/null; then
    echo "local-audit: the collector did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  i=$((i + 1))
  [ $i -le 100 ] || { echo "local-audit: the collector is not listening after 10 s" >&2; exit 1; }
  sleep 0.1
done
port=$(sed -n 's/^info listening .* port=\([0-9]*\).*/\1/p' "$log" | head -n 1)
echo "collector: listening on 127.0.0.1:$port (pid $pid, log $log)"

rc=0
"$agent" send --collector "127.0.0.1:$port" --ca "$pki/ca.crt" \
  --cert "$pki/agents/$host.crt" --key "$pki/agents/$host.key" --spool "$state/spool" \
  ${only:+--only "$only"} || rc=$?
if [ $rc -ne 0 ]; then
  echo "local-audit: tidemark-agent send exited $rc; collector log:" >&2
  cat "$log" >&2
  exit 1
fi

echo
echo "stored by the collector (tidemarkctl --db $state/tidemark.db history $host):"
"$ctl" --db "$state/tidemark.db" history "$host" | tail -n 5
"$ctl" --db "$state/tidemark.db" show "$host" --format snapshot >"$state/latest.json"
echo
"$agent" summary "$state/latest.json"
# The collector judges what it stored on its own thread (acks never wait for it): wait (at most
# 60 s) until the state this run stored or confirmed has its evaluation.
echo
echo "judged by the collector against $policies (tidemarkctl findings --host $host):"
i=0
frc=0
while :; do
  frc=0
  "$ctl" --db "$state/tidemark.db" findings --host "$host" >"$state/findings.txt" || frc=$?
  grep -q ': not judged yet$' "$state/findings.txt" || break
  i=$((i + 1))
  [ $i -le 600 ] || { echo "local-audit: the collector did not judge the state in 60 s" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
cat "$state/findings.txt"
# 3 (failures) and 4 (unknown results) are findings, not a failure of the audit itself.
case $frc in
  0 | 3 | 4) ;;
  *) echo "local-audit: tidemarkctl findings exited $frc; collector log:" >&2; cat "$log" >&2; exit 1 ;;
esac

# The report of this machine: the HTML page (and the text summary here). Each run is recorded,
# so the next one says what changed since this one.
echo
register=${TIDEMARK_REGISTER:-$state/register.yaml}
report=$state/report.html
rrc=0
if [ -f "$register" ]; then
  "$ctl" --db "$state/tidemark.db" report --host "$host" --register "$register" \
    --policies "$policies" --format html --out "$report" --format text || rrc=$?
else
  "$ctl" --db "$state/tidemark.db" report --host "$host" --format html --out "$report" \
    --format text || rrc=$?
fi
# 3 (failing findings) and 5 (a leftover exception) are what the report found, not a failure.
case $rrc in
  0 | 3 | 5) ;;
  *) echo "local-audit: tidemarkctl report exited $rrc" >&2; exit 1 ;;
esac
echo
echo "report: $report (open it in a browser; register: $( [ -f "$register" ] && echo "$register" || echo "none, see docs/exceptions.md"))"
