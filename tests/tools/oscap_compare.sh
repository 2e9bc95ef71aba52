#!/bin/sh
# tests/tools/oscap_compare.sh [--root ROOT] [--ids FILE] [--exclude FILE] [--only SECTIONS]
#                              BUILD_DIR OUT_DIR
#
# Compares tidemark's verdicts on THIS machine with OpenSCAP's for the shipped rules that
# name an `ssg:` reference (ComplianceAsCode rule ids):
#   --root ROOT  judge the host root ROOT instead of this machine: tidemark-agent collect
#                --root ROOT, and oscap with OSCAP_PROBE_ROOT=ROOT (honoured by OpenSCAP's
#                textfilecontent, file and dpkginfo probes only; docs/policies.md)
#   --ids FILE   compare only the ssg ids listed in FILE (one per line, `#` comments)
#   --exclude FILE  leave out the ssg ids listed in FILE (same format)
#   --only SECTIONS  collect only these sections (tidemark-agent collect --only)
#   1. BUILD_DIR/agent/tidemark-agent collect            -> OUT_DIR/snap.json   (needs root)
#   2. BUILD_DIR/collector/tidemarkctl evaluate (json)   -> OUT_DIR/tidemark.json
#      (policies: $POLICIES, default the checkout's policies/)
#   3. prepares a patched copy of the ssg-debian data stream -> OUT_DIR/ds.xml
#   4. oscap xccdf eval --rule ... for every referenced ssg id that exists in the data stream
#      -> OUT_DIR/oscap-results.xml, OUT_DIR/oscap-time.txt (/usr/bin/time -v when present)
#   5. prints one line per (tidemark rule, ssg id):
#        TIDEMARK_RULE  SSG_ID  TIDEMARK_RESULT  OSCAP_RESULT  VERDICT
#      (also written to OUT_DIR/compare.tsv). A reference such as "a, b" gives one line each.
#      OSCAP_RESULT is oscap's (pass/fail/notapplicable/notchecked/error/unknown/notselected...)
#      or `absent` when the id is not a rule of the data stream at all.
#      VERDICT: AGREE (same pass/fail), DISAGREE (pass vs fail), N/A (either side is anything
#      else: notapplicable, notchecked, absent, unknown, error).
#   Exits 0 once the table is printed; 2 on usage or a missing prerequisite.
#
# Prerequisites (Debian 12): apt-get install -y openscap-scanner ssg-debian jq
#   (openscap-scanner 1.3.7+dfsg-1+deb12u1, ssg-debian 0.1.65-1). ssg-debian 0.1.65 ships no
#   Debian 12 content, only ssg-debian10/11-ds.xml (355 rules each, no CIS profile).
#
# What this changes in the data stream (a copy; the installed file is untouched). When
# $SSG_DS is unset and ssg-debian12-ds.xml exists it is used as is and nothing is changed;
# otherwise ssg-debian11-ds.xml is copied and:
#   a) OS version (always): the textfilecontent54_object oval:ssg-obj_debian_11:obj:1 (in the
#      OVAL and in the CPE-OVAL component) matches /etc/debian_version with the pattern
#      `^11.[0-9]+$`; it becomes `^1[12]\.[0-9]+$`. That is the whole test behind the
#      benchmark platform cpe:/o:debian:debian_linux:11 (installed_OS_is_debian11), without which
#      every rule is `notapplicable` on Debian 12. (Effect 2 lines.)
#   b) Container (only with TREAT_CONTAINER_AS_MACHINE=1, the default): the CPE `#machine`
#      (installed_env_is_a_machine = NOT installed_env_is_a_container) looks for /.dockerenv
#      and /run/.containerenv; both file_object paths get the suffix `.ignored-by-tidemark`,
#      so a container is judged like a machine (tidemark judges it too). Without it the
#      sshd, sysctl, cron, shadow and SSH key rules are `notapplicable` in Docker/Podman.
#      (Effect 4 lines.) Set TREAT_CONTAINER_AS_MACHINE=0 to keep SSG's own behaviour.
# XCCDF Values: tests/tools/oscap_tailoring.xml ($TAILORING; empty for none) sets those the
# compared rules read to the defaults of tidemark's rules (CIS Debian 12) through a profile that
# extends none, so rules keep the data stream's selection. Without it SSG 0.1.65 judges
# STIG-like values (ClientAliveCountMax 0, PASS_MAX_DAYS 60, PASS_MIN_DAYS 7, ...).
set -eu

usage() {
  echo "usage: $0 [--root ROOT] [--ids FILE] [--exclude FILE] [--only SECTIONS] BUILD_DIR OUT_DIR" >&2
  exit 2
}
ROOT=""
IDS=""
EXCLUDE=""
ONLY=""
while [ $# -gt 0 ]; do
  case $1 in
    --root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
    --ids) [ $# -ge 2 ] || usage; IDS=$2; shift 2 ;;
    --exclude) [ $# -ge 2 ] || usage; EXCLUDE=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || usage; ONLY=$2; shift 2 ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
BUILD=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
POLICIES=${POLICIES:-$HERE/../../policies}
SSG_DIR=/usr/share/xml/scap/ssg/content
TREAT_CONTAINER_AS_MACHINE=${TREAT_CONTAINER_AS_MACHINE:-1}
TAILORING=${TAILORING-$HERE/oscap_tailoring.xml}
PREFIX=xccdf_org.ssgproject.content_rule_

for c in oscap jq awk sed; do
  command -v "$c" >/dev/null 2>&1 || { echo "$0: $c not found (apt-get install -y openscap-scanner ssg-debian jq)" >&2; exit 2; }
done
if [ ! -x "$BUILD/agent/tidemark-agent" ] || [ ! -x "$BUILD/collector/tidemarkctl" ]; then
  echo "$0: no tidemark-agent/tidemarkctl under $BUILD" >&2; exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (collect and oscap read root-only files)" >&2; exit 2; }
mkdir -p "$OUT"

# 1-2: tidemark
set -- collect --output "$OUT/snap.json"
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || { echo "$0: $ROOT is not a directory" >&2; exit 2; }
  set -- "$@" --root "$ROOT"
fi
[ -z "$ONLY" ] || set -- "$@" --only "$ONLY"
rc=0
"$BUILD/agent/tidemark-agent" "$@" >"$OUT/collect.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || { echo "$0: tidemark-agent collect exited $rc (see $OUT/collect.log)" >&2; exit 2; }
rc=0
"$BUILD/collector/tidemarkctl" evaluate --snapshot "$OUT/snap.json" --policies "$POLICIES" \
  --format json >"$OUT/tidemark.json" 2>"$OUT/evaluate.log" || rc=$?
case $rc in 0|3|4) ;; *) echo "$0: tidemarkctl evaluate exited $rc (see $OUT/evaluate.log)" >&2; exit 2 ;; esac

# (tidemark rule, ssg id, result), one line per ssg id
jq -r '.results[] | select((.references.ssg // "") != "") | .rule as $r | .result as $res
       | (.references.ssg | split(",")[] | gsub("^ +| +$"; "")) | select(. != "")
       | [$r, ., $res] | @tsv' "$OUT/tidemark.json" >"$OUT/tidemark-all.tsv"
# ids of FILE: the first word of each line, without `#` comments
ids_of() { sed 's/#.*//' "$1" | awk 'NF { print $1 }' | sort -u; }
cp "$OUT/tidemark-all.tsv" "$OUT/tidemark.tsv"
rm -f "$OUT/ids-excluded.txt"
if [ -n "$IDS" ]; then
  ids_of "$IDS" >"$OUT/ids-wanted.txt"
  awk -F'\t' 'FNR == NR { want[$1] = 1; next } $2 in want' "$OUT/ids-wanted.txt" \
    "$OUT/tidemark-all.tsv" >"$OUT/tidemark.tsv"
fi
[ -z "$EXCLUDE" ] || ids_of "$EXCLUDE" >"$OUT/ids-excluded.txt"
if [ -s "$OUT/ids-excluded.txt" ]; then  # (awk's FNR == NR would match all of an empty one)
  awk -F'\t' 'FNR == NR { skip[$1] = 1; next } !($2 in skip)' "$OUT/ids-excluded.txt" \
    "$OUT/tidemark.tsv" >"$OUT/tidemark.tsv.new"
  mv "$OUT/tidemark.tsv.new" "$OUT/tidemark.tsv"
fi

# 3: data stream
DS=${SSG_DS:-}
if [ -z "$DS" ] && [ -f "$SSG_DIR/ssg-debian12-ds.xml" ]; then
  DS=$SSG_DIR/ssg-debian12-ds.xml
  cp "$DS" "$OUT/ds.xml"
else
  DS=${DS:-$SSG_DIR/ssg-debian11-ds.xml}
  [ -f "$DS" ] || { echo "$0: $DS not found (apt-get install -y ssg-debian)" >&2; exit 2; }
  sed 's|<ind:pattern operation="pattern match">^11\.\[0-9\]+\$</ind:pattern>|<ind:pattern operation="pattern match">^1[12]\\.[0-9]+$</ind:pattern>|' \
    "$DS" >"$OUT/ds.xml"
  n=$(grep -c '\^1\[12\]\\\.\[0-9\]+\$' "$OUT/ds.xml" || true)
  [ "$n" -ge 1 ] || echo "$0: warning: Debian version pattern not found in $DS; rules may be notapplicable" >&2
fi
if [ "$TREAT_CONTAINER_AS_MACHINE" = 1 ]; then
  sed -i -e 's|<unix:filepath datatype="string">/\.dockerenv</unix:filepath>|<unix:filepath datatype="string">/.dockerenv.ignored-by-tidemark</unix:filepath>|' \
         -e 's|<unix:filepath datatype="string">/run/\.containerenv</unix:filepath>|<unix:filepath datatype="string">/run/.containerenv.ignored-by-tidemark</unix:filepath>|' \
    "$OUT/ds.xml"
fi

# 4: oscap, for the referenced ids that are rules of the data stream
grep -o "id=\"${PREFIX}[^\"]*\"" "$OUT/ds.xml" | sed "s/^id=\"$PREFIX//; s/\"\$//" | sort -u >"$OUT/ds-rules.txt"
cut -f2 "$OUT/tidemark.tsv" | sort -u >"$OUT/ssg-ids.txt"
set --
[ -z "$TAILORING" ] || set -- --tailoring-file "$TAILORING" --profile xccdf_org.tidemark_profile_cis_values
comm -12 "$OUT/ssg-ids.txt" "$OUT/ds-rules.txt" >"$OUT/oscap-ids.txt"
while read -r id; do set -- "$@" --rule "$PREFIX$id"; done <"$OUT/oscap-ids.txt"
rm -f "$OUT/oscap-results.xml"
if [ -s "$OUT/oscap-ids.txt" ]; then
  timer=""
  [ -x /usr/bin/time ] && timer="/usr/bin/time -v -o $OUT/oscap-time.txt"
  if [ -n "$ROOT" ]; then
    # The dpkginfo probe opens the root's dpkg status through libapt, which reads the
    # machine's /etc/apt configuration first: Debian's Docker images set Dir::Cache::pkgcache
    # "" there, and apt then fails to build its cache in the root. APT_CONFIG is read before
    # it; pointing its directories away keeps apt on its defaults inside the root.
    printf 'Dir::Etc::Parts "/nonexistent-tidemark";\nDir::Etc::Main "/nonexistent-tidemark";\n' \
      >"$OUT/apt.conf"
    OSCAP_PROBE_ROOT=$ROOT APT_CONFIG=$OUT/apt.conf
    export OSCAP_PROBE_ROOT APT_CONFIG
  fi
  rc=0
  # shellcheck disable=SC2086
  $timer oscap xccdf eval --results "$OUT/oscap-results.xml" "$@" "$OUT/ds.xml" \
    >"$OUT/oscap.log" 2>"$OUT/oscap.err" || rc=$?
  # 0 all passed, 2 some rule failed; anything else is an error, but results may still exist
  case $rc in 0|2) ;; *) echo "$0: oscap exited $rc (see $OUT/oscap.err)" >&2 ;; esac
fi
: >"$OUT/oscap.tsv"
if [ -f "$OUT/oscap-results.xml" ]; then
  awk -v p="$PREFIX" '
    /<rule-result / { id = $0; sub(/.*idref="/, "", id); sub(/".*/, "", id); sub(p, "", id) }
    /<result>/ && id != "" { r = $0; sub(/.*<result>/, "", r); sub(/<\/result>.*/, "", r); print id "\t" r; id = "" }
  ' "$OUT/oscap-results.xml" >"$OUT/oscap.tsv"
fi

# 5: the table
awk -F'\t' -v OFS='\t' '
  FNR == NR { os[$1] = $2; next }
  {
    o = ($2 in os) ? os[$2] : "absent"
    if (($3 == "pass" || $3 == "fail") && (o == "pass" || o == "fail")) v = ($3 == o) ? "AGREE" : "DISAGREE"
    else v = "N/A"
    print $1, $2, $3, o, v
  }' "$OUT/oscap.tsv" "$OUT/tidemark.tsv" | sort >"$OUT/compare.tsv"

printf '%-42s %-48s %-8s %-14s %s\n' TIDEMARK_RULE SSG_ID TIDEMARK OSCAP VERDICT
awk -F'\t' '{ printf "%-42s %-48s %-8s %-14s %s\n", $1, $2, $3, $4, $5 }' "$OUT/compare.tsv"
awk -F'\t' '{ n[$5]++ } END { printf "# %d lines: %d AGREE, %d DISAGREE, %d N/A\n", NR, n["AGREE"], n["DISAGREE"], n["N/A"] }' "$OUT/compare.tsv"
if [ -f "$OUT/oscap-time.txt" ]; then
  awk -F': ' '/Elapsed \(wall clock\)/ { w = $2 } /Maximum resident set size/ { m = $2 }
    END { printf "# oscap: %s wall, peak RSS %d MiB\n", w, m / 1024 }' "$OUT/oscap-time.txt"
fi
exit 0
