#!/bin/bash
# The exceptions' benchmark (issue 11), in one run on this machine: a store of HOSTS hosts with
# DAYS days of history (each host reports daily; a tenth add and later drop the vendor's
# account, a tenth keep it), judged by the collector's evaluator (the facts file), and a
# register of HOSTS/20 exceptions (bench/history_bench.cpp). Then, with bench/measure.cpp
# (median of 3: wall time and peak RSS):
#   tidemarkctl verify-revocations --register R --now NOW     (target <= 10 s)
#   tidemarkctl who vendor_ops --now                          (target <= 2 s)
#   tidemarkctl drift host0 --since 30 days before NOW        (target <= 0.5 s)
#   tidemarkctl report, json + html + csv + junit + text       (target <= 10 s; issue 12), the
#     night after a recorded report (so each host's changes since it are computed)
#   headless Chromium loading the HTML page (DOM ready, the page's script run), when installed
#   bench/exceptions.sh [BUILD_DIR] [HOSTS] [DAYS]     (default: build 10000 30)
set -euo pipefail
build=${1:-build}
hosts=${2:-10000}
days=${3:-30}
agent=$build/agent/tidemark-agent
ctl=$build/collector/tidemarkctl
gen=$build/bench/tidemark_bench_history
measure=$build/bench/tidemark_bench_measure
for b in "$agent" "$ctl" "$gen" "$measure"; do
  [ -x "$b" ] || { echo "exceptions.sh: $b is missing; build first" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now=$(date -u +%Y-%m-%dT12:30:00Z)
since=$(date -u -d "$days days ago" +%Y-%m-%dT00:00:00Z)

"$agent" collect --only accounts,sudo,sshd,ssh_keys,login,pam,sysctl,cron \
  --output "$work/small.json" 2>/dev/null
"$gen" "$work/small.json" --hosts "$hosts" --days "$days" --db "$work/fleet.db" \
  --register "$work/register.yaml" --now "$now"
"$measure" --runs 3 --label "verify-revocations, $hosts hosts, $((hosts / 20)) exceptions" -- \
  "$ctl" --db "$work/fleet.db" verify-revocations --register "$work/register.yaml" --now "$now" \
  --format json
"$measure" --runs 3 --label "who vendor_ops over $hosts hosts" -- \
  "$ctl" --db "$work/fleet.db" who vendor_ops --format json
"$measure" --runs 3 --label "drift host0 over $days days" -- \
  "$ctl" --db "$work/fleet.db" drift host0 --since "$since" --format json
rc=0
"$ctl" --db "$work/fleet.db" report --register "$work/register.yaml" \
  --now "$(date -u -d "1 day ago" +%Y-%m-%dT02:30:00Z)" --format json --out "$work/previous.json" \
  || rc=$?
case $rc in 0 | 3 | 5) ;; *) echo "exceptions.sh: the previous report failed ($rc)" >&2; exit 1 ;; esac
"$measure" --runs 3 --label "report, all formats, $hosts hosts" -- \
  "$ctl" --db "$work/fleet.db" report --register "$work/register.yaml" --now "$now" --no-record \
  --format json --out "$work/report.json" --format html --out "$work/report.html" \
  --format csv --out "$work/report.csv" --format junit --out "$work/report.xml" \
  --format text --out "$work/report.txt"
ls -l "$work"/report.* | awk '{print $5, $9}'
if command -v chromium >/dev/null; then
  "$measure" --runs 3 --label "headless chromium --dump-dom of the HTML page" -- \
    chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$work/profile" --proxy-server=http://127.0.0.1:9 \
    --dump-dom "file://$work/report.html"
fi
