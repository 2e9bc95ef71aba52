#!/bin/sh
# Benchmarks of the agent's collection, with peers measured the same way in the same run.
#   bench/run.sh [BUILD_DIR]      (default: build; build it first, see README)
# Prints a Markdown table: median and minimum wall time over the runs, peak RSS (kernel rusage).
# Uses a generated root (bench/gen_root.cpp) in a temp dir that is removed afterwards.
set -eu
build=${1:-build}
agent=$build/agent/tidemark-agent
measure=$build/bench/tidemark_bench_measure
gen=$build/bench/tidemark_bench_gen_root
for b in "$agent" "$measure" "$gen"; do
  [ -x "$b" ] || { echo "bench: $b is missing; build first (cmake --build $build)" >&2; exit 1; }
done
no_sweep=accounts,cron,files,login,network,packages,pam,services,ssh_keys,sshd,sudo,sysctl
# Sizes first: the generated root below (files of uids this host does not know) would be
# swept too while it exists.
size_all=$("$agent" collect | wc -c)
size_no_sweep=$("$agent" collect --only "$no_sweep" | wc -c)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gen" "$work/large" 10000 2000 500 1000 >&2

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
echo "Machine: $(nproc) cores ($cpu), $mem, Linux $(uname -r), $(date -u +%Y-%m-%d)"
echo
echo "| what | median | min | peak RSS | exit | command |"
echo "| --- | --- | --- | --- | --- | --- |"
runs=${RUNS:-10}
# Start-up: the process floor, the agent doing nothing (--version), and a short collection.
"$measure" --runs 50 --label "floor: /bin/true" -- /bin/true
"$measure" --runs 50 --label "tidemark-agent --version" -- "$agent" --version
"$measure" --runs 50 --label "tidemark: this host, accounts + sudo + ssh_keys + sshd" -- \
  "$agent" collect --only accounts,sudo,ssh_keys,sshd
"$measure" --runs "$runs" --label "tidemark: this host, accounts + sudo + ssh_keys" -- \
  "$agent" collect --only accounts,sudo,ssh_keys
"$measure" --runs "$runs" --label "tidemark: this host, all sections but sweep" -- \
  "$agent" collect --only "$no_sweep"
for s in $(echo "$no_sweep" | tr , ' '); do
  "$measure" --runs "$runs" --label "tidemark: this host, $s" -- "$agent" collect --only "$s"
done
"$measure" --runs "$runs" --label "peer: getent passwd + group (this host)" -- \
  sh -c 'getent passwd; getent group'
# sweep: one walk of / next to one find doing the same checks; warm caches: each runs once first.
# The bare walk (find -printf '' stats directories only: d_type tells it the rest) and a walk
# that stats every entry as any check of mode and owner must.
sweep_find='find / -xdev ( -perm -4000 -o -perm -2000 -o -perm -0002 -o -nouser -o -nogroup )'
"$agent" collect --only sweep >/dev/null 2>&1 || true
$sweep_find >/dev/null 2>&1 || true
"$measure" --runs 5 --label "tidemark: this host, all sections" -- "$agent" collect
"$measure" --runs 5 --label "tidemark: this host, sweep" -- "$agent" collect --only sweep
"$measure" --runs 5 --label "peer: find / -xdev -printf ''" -- find / -xdev -printf ''
"$measure" --runs 5 --label "peer: find / -xdev -printf '%m%U%G'" -- find / -xdev -printf '%m%U%G'
"$measure" --runs 5 --label "peer: $sweep_find" -- $sweep_find
"$measure" --runs 5 --label "tidemark: large root, all sections" -- "$agent" collect --root "$work/large"
"$measure" --runs 5 --label "tidemark: large root, accounts + sudo + ssh_keys" -- \
  "$agent" collect --root "$work/large" --only accounts,sudo,ssh_keys
for s in accounts sudo ssh_keys; do
  "$measure" --runs 5 --label "tidemark: large root, $s" -- "$agent" collect --root "$work/large" --only "$s"
done
if command -v cvtsudoers >/dev/null 2>&1; then
  "$measure" --runs 5 --label "peer: cvtsudoers -e -f json (large root's sudoers)" -- \
    cvtsudoers -e -f json "$work/large/etc/sudoers"
fi
if command -v ssh-keygen >/dev/null 2>&1; then
  "$measure" --runs 3 --label "peer: ssh-keygen -lf per authorized_keys (large root)" -- \
    sh -c "for f in $work/large/root/.ssh/authorized_keys $work/large/home/*/.ssh/authorized_keys; do ssh-keygen -lf \"\$f\"; done"
fi
# sshd: effective settings of the stock config + 20 drop-ins; the real sshd -T reads the same
# files through a private mount of the root's etc/ssh over /etc/ssh (root only; never started).
"$measure" --runs "$runs" --label "tidemark: sshd --root (stock + 20 drop-ins)" -- "$agent" sshd --root "$work/large"
"$build/bench/tidemark_bench_sshd_eval" "$work/large" 200
if [ -x /usr/sbin/sshd ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
  ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey" && mkdir -p /run/sshd
  "$measure" --runs "$runs" --label "peer: sshd -T -f (same files, private mount)" -- \
    unshare --mount --propagation private sh -c "mount --bind $work/large/etc/ssh /etc/ssh && /usr/sbin/sshd -T -f /etc/ssh/sshd_config -h $work/hostkey"
fi
echo
echo "Snapshot size on this host: $size_all bytes (all sections), $size_no_sweep bytes without the sweep"
