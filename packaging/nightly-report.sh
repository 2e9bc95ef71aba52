#!/bin/sh
# The nightly report (docs/report.md): `tidemarkctl report` in every format into a dated folder
# under the report directory, a `latest` link to it, and the newest TIDEMARK_REPORT_KEEP folders
# kept. Run by tidemark-report.service (packaging/systemd/), or by hand. Environment:
#   TIDEMARK_CTL          tidemarkctl to run (default: tidemarkctl on PATH)
#   TIDEMARK_DB           the collector's store (default /var/lib/tidemark/tidemark.db)
#   TIDEMARK_REGISTER     the exception register, used when the file exists
#                         (default /etc/tidemark/register.yaml)
#   TIDEMARK_REPORT_DIR   where the dated folders go (default /var/lib/tidemark/reports)
#   TIDEMARK_REPORT_KEEP  how many folders to keep (default 30)
#   TIDEMARK_NOW          the report's time (default: now; RFC 3339)
# Exits 0 when the report was written (whatever it found: its text summary goes to standard
# output, the journal under systemd), non-zero when it could not be written.
set -eu
ctl=${TIDEMARK_CTL:-tidemarkctl}
db=${TIDEMARK_DB:-/var/lib/tidemark/tidemark.db}
register=${TIDEMARK_REGISTER:-/etc/tidemark/register.yaml}
dir=${TIDEMARK_REPORT_DIR:-/var/lib/tidemark/reports}
keep=${TIDEMARK_REPORT_KEEP:-30}
now=${TIDEMARK_NOW:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
case $keep in '' | *[!0-9]* | 0) echo "nightly-report: TIDEMARK_REPORT_KEEP must be a positive number: '$keep'" >&2; exit 2 ;; esac

stamp=$(date -u -d "$now" +%Y-%m-%dT%H%M%SZ) || { echo "nightly-report: not a time: '$now'" >&2; exit 2; }
out=$dir/$stamp
umask 027
mkdir -p "$out"
set -- --db "$db" report --now "$now"
[ -f "$register" ] && set -- "$@" --register "$register"
rc=0
"$ctl" "$@" --format json --out "$out/report.json" --format html --out "$out/report.html" \
  --format csv --out "$out/report.csv" --format junit --out "$out/report.xml" \
  --format text --out "$out/report.txt" || rc=$?
case $rc in
  0 | 3 | 5) ;; # written: nothing found, failing findings, a leftover exception
  *)
    echo "nightly-report: tidemarkctl report failed (exit $rc); nothing kept in $out" >&2
    rm -rf "$out"
    exit 1
    ;;
esac
ln -sfn "$stamp" "$dir/latest"
# The newest $keep dated folders stay (their names sort by time).
find "$dir" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*Z' | sort | head -n "-$keep" |
  while read -r old; do rm -rf "$old"; done
cat "$out/report.txt"
echo "nightly-report: written to $out (tidemarkctl report exit $rc)"
