// sock_diag: the kernel's table of listening TCP and bound UDP sockets, read over netlink
// (NETLINK_SOCK_DIAG, sock_diag(7), inet_diag_req_v2) as `ss -ltu` reads it, instead of parsing
// /proc/net/{tcp,udp}{,6} whose cost grows with the connection table. Live host only.
// Also: mapping socket inodes to processes through /proc/PID/fd links, and a process's systemd
// unit from /proc/PID/cgroup (systemd's cg_path_get_unit rules).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace tidemark::agent {

struct DiagSocket {
  std::string proto;    // "tcp" or "udp"
  int family = 4;       // 4 or 6
  std::string address;  // "0.0.0.0", "127.0.0.1", "::", "::1" (inet_ntop)
  uint16_t port = 0;
  uint32_t ifindex = 0;  // SO_BINDTODEVICE / scope, 0 = any
  uint32_t uid = 0;      // the socket's owner uid (sock_i_uid)
  uint64_t inode = 0;
  std::optional<bool> v6only;  // INET_DIAG_SKV6ONLY, AF_INET6 only
};

// Dumps listening TCP sockets (state LISTEN) and unconnected UDP sockets (state CLOSE, ss's
// "UNCONN") of both families. At most `max_sockets` are returned; more is kTooLarge.
StatusOr<std::vector<DiagSocket>> DumpListeningSockets(size_t max_sockets = 1'000'000);

struct ProcessInfo {
  int64_t pid = 0;
  std::string comm;                 // /proc/PID/comm without the newline
  std::optional<uint32_t> uid;      // effective uid from /proc/PID/status "Uid:"
  std::optional<std::string> unit;  // systemd unit from /proc/PID/cgroup
  std::vector<int> fds;             // the fds that point at the socket
};

struct ProcScan {
  std::map<uint64_t, std::vector<ProcessInfo>> by_inode;  // socket inode -> owners, by pid
  size_t processes_seen = 0;
  // Processes whose fd directory or some fd link could not be read (permission; a process
  // that exited meanwhile counts too): their sockets' owners may be missing.
  size_t processes_unreadable = 0;
  size_t fd_links_unreadable = 0;  // fd links that could not be read, other than vanished ones
  bool truncated = false;          // limits reached
};

// Scans /proc/*/fd of `fs` (the live host) for "socket:[INODE]" links whose inode is wanted.
// Processes that vanish or cannot be read are counted, never fatal.
ProcScan ScanProcessSockets(const Fs& fs, const std::vector<uint64_t>& wanted_inodes,
                            size_t max_processes = 1'000'000, size_t max_fds = 1 << 16);

// Returns the systemd unit a cgroup path belongs to, as systemd's cg_path_get_unit does: the
// first path component that is not a slice, when it is a unit name ("/system.slice/ssh.service"
// -> "ssh.service", "/user.slice/user-1000.slice/session-3.scope" -> "session-3.scope").
std::optional<std::string> UnitFromCgroupPath(std::string_view path);

// Returns the cgroup path from /proc/PID/cgroup text: the v2 line "0::PATH", else the v1
// "name=systemd" hierarchy.
std::optional<std::string> SystemdCgroupPath(std::string_view cgroup_text);

}  // namespace tidemark::agent
