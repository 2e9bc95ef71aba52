#!/bin/bash
# Boots a real systemd as PID 1 of private PID, mount, UTS, IPC and cgroup namespaces, for the
# services tool test, and stops it again. Needs root.
#   private_systemd.sh start DIR   DIR/etc and DIR/lib become /etc/systemd/system and
#                                  /usr/lib/systemd/system inside; the manager starts
#                                  tidemark-test.target. Prints the PID of that systemd (as seen
#                                  from here) once `systemctl is-system-running` answers.
#   private_systemd.sh stop DIR    Kills every process started by `start` and removes the
#                                  cgroups it made; bounded time.
# Isolation: /run and /sys/fs/cgroup are fresh tmpfs inside (systemd remounts the latter
# read-only: that must not reach the host's), its cgroups live under a child cgroup made here in
# every hierarchy, and only the two unit directories are visible to it.
set -u
cmd=${1:?start|stop}
dir=${2:?directory}

cgroup_mountpoint() {  # $1: controllers from /proc/self/cgroup ("" for cgroup2)
  local want=$1
  while read -r _ mnt type opts _; do
    if [ -z "$want" ] && [ "$type" = cgroup2 ]; then echo "$mnt"; return 0; fi
    [ "$type" = cgroup ] || continue
    local ok=1 c
    for c in ${want//,/ }; do
      case ",$opts," in *",$c,"*) ;; *) ok=0 ;; esac
    done
    if [ $ok = 1 ] && [ -n "$want" ]; then echo "$mnt"; return 0; fi
  done </proc/self/mounts
  return 1
}

stop() {
  local pid
  if [ -f "$dir/unshare.pid" ]; then
    pid=$(cat "$dir/unshare.pid")
    kill -KILL "$pid" 2>/dev/null  # --kill-child: PID 1 inside, hence all inside, die with it
  fi
  # Anything left in our cgroups is ours too.
  if [ -f "$dir/cgroups" ]; then
    for _ in $(seq 100); do
      local left=0 cg
      while read -r cg; do
        [ -d "$cg" ] || continue
        while read -r p; do
          [ -n "$p" ] && { kill -KILL "$p" 2>/dev/null; left=1; }
        done < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
      done <"$dir/cgroups"
      [ $left = 0 ] && break
      sleep 0.1
    done
    while read -r cg; do
      [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    done <"$dir/cgroups"
    rm -f "$dir/cgroups"
  fi
  rm -f "$dir/unshare.pid"
}

inner() {  # runs as PID 1 of the new namespaces, then becomes systemd
  set -e
  mount --make-rprivate /
  mount -t tmpfs -o mode=755 tmpfs /run
  local v2=$1
  mount -t tmpfs -o mode=755 tidemark-cgroup /sys/fs/cgroup
  if [ "$v2" = pure ]; then
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
  else
    mkdir /sys/fs/cgroup/systemd
    mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
    if [ "$v2" = hybrid ]; then
      mkdir /sys/fs/cgroup/unified
      mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
    fi
  fi
  mount --bind "$dir/etc" /etc/systemd/system
  mount --bind "$dir/lib" /usr/lib/systemd/system
  export container=tidemark-test
  exec /lib/systemd/systemd --system --unit=tidemark-test.target --log-target=null \
    </dev/null >/dev/null 2>&1
}

start() {
  [ "$(id -u)" = 0 ] || { echo "not root" >&2; return 1; }
  command -v unshare >/dev/null && command -v nsenter >/dev/null ||
    { echo "unshare/nsenter missing" >&2; return 1; }
  [ -x /lib/systemd/systemd ] || { echo "/lib/systemd/systemd missing" >&2; return 1; }
  local name="tidemark-sd-$$" v2=none line ctrls path mnt
  : >"$dir/cgroups"
  while IFS=: read -r _ ctrls path; do
    mnt=$(cgroup_mountpoint "$ctrls") || continue
    if [ -z "$ctrls" ]; then
      if [ "$mnt" = /sys/fs/cgroup ]; then v2=pure; else v2=hybrid; fi
    fi
    local cg="$mnt${path%/}/$name"
    mkdir "$cg" || { echo "cannot create cgroup $cg" >&2; return 1; }
    echo "$cg" >>"$dir/cgroups"
    # A v1 cpuset child has no CPUs or memory nodes until given its parent's.
    if [ -f "$cg/cpuset.cpus" ]; then
      cat "$(dirname "$cg")/cpuset.cpus" >"$cg/cpuset.cpus"
      cat "$(dirname "$cg")/cpuset.mems" >"$cg/cpuset.mems"
    fi
  done </proc/self/cgroup
  grep -q '^[^:]*:name=systemd:' /proc/self/cgroup || [ "$v2" = pure ] ||
    { echo "no name=systemd or cgroup2 hierarchy" >&2; return 1; }
  (
    while read -r cg; do echo "$BASHPID" >"$cg/cgroup.procs" || exit 1; done <"$dir/cgroups"
    exec unshare --pid --fork --kill-child --mount --uts --ipc --cgroup --mount-proc \
      "$0" inner "$dir" "$v2"
  ) </dev/null >"$dir/unshare.log" 2>&1 &  # not our stdout: $(start) must not wait for it
  local upid=$!
  echo "$upid" >"$dir/unshare.pid"
  local sd="" state=""
  for _ in $(seq 100); do
    sleep 0.1
    [ -z "$sd" ] && sd=$(pgrep -P "$upid" -x systemd | head -1)
    [ -n "$sd" ] || continue
    state=$(nsenter -t "$sd" -m -p -- systemctl is-system-running 2>/dev/null)
    case "$state" in running | degraded) echo "$sd"; return 0 ;; esac
  done
  echo "systemd did not come up (state: ${state:-none})" >&2
  return 1
}

case $cmd in
  start) start || { stop; exit 1; } ;;
  stop) stop ;;
  inner) inner "$3" ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
