// A fake /proc inside a fixture root, and listening sockets as sock_diag reports them: what the
// network section's tests (tests/agent/network_test.cpp, the listeners table's test) map to
// processes, users and units.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "agent/sock_diag.h"
#include "tests/support/temp_root.h"

namespace tidemark::testing {

// Writes /proc/PID/{comm,status,cgroup} and an empty fd/ directory for one process.
inline void WriteFakeProc(TempRoot& root, int pid, const std::string& comm, int uid,
                          const std::string& cgroup) {
  std::string base = "/proc/" + std::to_string(pid);
  root.Mkdir(base + "/fd");
  root.Write(base + "/comm", comm + "\n");
  std::string u = std::to_string(uid);
  root.Write(base + "/status",
             "Name:\t" + comm + "\nUid:\t" + u + "\t" + u + "\t" + u + "\t" + u + "\n");
  root.Write(base + "/cgroup", cgroup);
}

// Returns a listening socket as sock_diag reports it (IPv6 sockets not v6only).
inline agent::DiagSocket FakeSocket(std::string proto, int family, std::string addr, uint16_t port,
                                    uint64_t inode, uint32_t uid = 0) {
  agent::DiagSocket s;
  s.proto = std::move(proto);
  s.family = family;
  s.address = std::move(addr);
  s.port = port;
  s.inode = inode;
  s.uid = uid;
  if (family == 6) s.v6only = false;
  return s;
}

}  // namespace tidemark::testing
