#include "agent/sock_diag.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "agent/parsers/lines.h"
#include "common/unique_fd.h"

namespace tidemark::agent {
namespace {

// Kernel TCP states (include/net/tcp_states.h): ss -l shows TCP in LISTEN, UDP in CLOSE
// ("UNCONN": bound, not connected).
constexpr int kTcpListen = 10;
constexpr int kTcpClose = 7;

Status Errno(const std::string& what) {
  int e = errno;
  return Status(e == EACCES || e == EPERM ? StatusCode::kPermissionDenied : StatusCode::kIoError,
                what + ": " + std::strerror(e));
}

Status DumpOne(int family, int protocol, uint32_t states, size_t max_sockets,
               std::vector<DiagSocket>& out) {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (sock.get() < 0) return Errno("netlink socket(NETLINK_SOCK_DIAG)");
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = 1;
  msg.req.sdiag_family = static_cast<uint8_t>(family);
  msg.req.sdiag_protocol = static_cast<uint8_t>(protocol);
  msg.req.idiag_states = states;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  iovec iov{&msg, sizeof(msg)};
  msghdr mh{};
  mh.msg_name = &kernel;
  mh.msg_namelen = sizeof(kernel);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (::sendmsg(sock.get(), &mh, 0) < 0) return Errno("netlink sendmsg(sock_diag)");

  const char* proto = protocol == IPPROTO_TCP ? "tcp" : "udp";
  std::vector<char> buf(32768);
  for (;;) {
    ssize_t n = ::recv(sock.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("netlink recv(sock_diag)");
    }
    if (n == 0) return Status(StatusCode::kIoError, "netlink: sock_diag dump ended early");
    // The messages and their attributes are copied out with memcpy at the offsets the netlink
    // macros would compute: no cast of the byte buffer to a more aligned type.
    const size_t total = static_cast<size_t>(n);
    for (size_t off = 0; off < total && total - off >= sizeof(nlmsghdr);) {
      nlmsghdr h;
      std::memcpy(&h, buf.data() + off, sizeof(h));
      if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > total - off) break;  // as NLMSG_OK
      const char* payload = buf.data() + off + NLMSG_HDRLEN;
      const size_t payload_len = h.nlmsg_len - NLMSG_HDRLEN;
      off += NLMSG_ALIGN(h.nlmsg_len);
      if (h.nlmsg_type == NLMSG_DONE) return Status::Ok();
      if (h.nlmsg_type == NLMSG_ERROR) {
        int error = 0;
        if (payload_len >= sizeof(error)) std::memcpy(&error, payload, sizeof(error));
        errno = -error;
        return Errno(std::string("sock_diag dump of ") + proto + (family == AF_INET6 ? "6" : "4"));
      }
      if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (payload_len < sizeof(inet_diag_msg)) continue;
      inet_diag_msg m;
      std::memcpy(&m, payload, sizeof(m));
      if (out.size() >= max_sockets) {
        return Status(StatusCode::kTooLarge,
                      "more than " + std::to_string(max_sockets) + " listening sockets");
      }
      DiagSocket s;
      s.proto = proto;
      s.family = m.idiag_family == AF_INET6 ? 6 : 4;
      char addr[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(m.idiag_family, m.id.idiag_src, addr, sizeof(addr));
      s.address = addr;
      s.port = ntohs(m.id.idiag_sport);
      s.ifindex = m.id.idiag_if;
      s.uid = m.idiag_uid;
      s.inode = m.idiag_inode;
      // Attributes follow the message (inet_diag_msg_attrs_fill), each RTA_ALIGNed.
      const size_t attrs_at = NLMSG_ALIGN(sizeof(inet_diag_msg));
      for (size_t a = attrs_at; a < payload_len && payload_len - a >= sizeof(rtattr);) {
        rtattr attr;
        std::memcpy(&attr, payload + a, sizeof(attr));
        if (attr.rta_len < sizeof(rtattr) || attr.rta_len > payload_len - a) break;  // as RTA_OK
        if (attr.rta_type == INET_DIAG_SKV6ONLY && attr.rta_len >= RTA_LENGTH(1)) {
          s.v6only = payload[a + RTA_LENGTH(0)] != 0;
        }
        a += RTA_ALIGN(attr.rta_len);
      }
      out.push_back(std::move(s));
    }
  }
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// systemd unit name suffixes (unit-name.c unit_type_table).
bool HasUnitSuffix(std::string_view name) {
  static constexpr std::string_view kSuffixes[] = {".service", ".socket",    ".target", ".device",
                                                   ".mount",   ".automount", ".swap",   ".timer",
                                                   ".path",    ".slice",     ".scope"};
  size_t dot = name.rfind('.');
  if (dot == 0 || dot == std::string_view::npos) return false;
  std::string_view suffix = name.substr(dot);
  return std::find(std::begin(kSuffixes), std::end(kSuffixes), suffix) != std::end(kSuffixes);
}

}  // namespace

StatusOr<std::vector<DiagSocket>> DumpListeningSockets(size_t max_sockets) {
  std::vector<DiagSocket> out;
  for (int family : {AF_INET, AF_INET6}) {
    Status s = DumpOne(family, IPPROTO_TCP, 1u << kTcpListen, max_sockets, out);
    if (!s.ok()) return s;
    s = DumpOne(family, IPPROTO_UDP, 1u << kTcpClose, max_sockets, out);
    if (!s.ok()) return s;
  }
  return out;
}

std::optional<std::string> UnitFromCgroupPath(std::string_view path) {
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view comp = path.substr(pos, next - pos);
    pos = next + 1;
    if (comp.empty()) continue;
    if (comp.size() > 6 && comp.substr(comp.size() - 6) == ".slice") continue;
    if (HasUnitSuffix(comp)) return std::string(comp);
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> SystemdCgroupPath(std::string_view text) {
  std::optional<std::string> v1;
  std::optional<std::string> v2;
  ForEachLine(text, [&](std::string_view line, int64_t) {
    // hierarchy-ID:controller-list:cgroup-path (cgroups(7))
    size_t a = line.find(':');
    if (a == std::string_view::npos) return true;
    size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) return true;
    std::string_view id = line.substr(0, a), ctrl = line.substr(a + 1, b - a - 1);
    std::string_view path = line.substr(b + 1);
    if (id == "0" && ctrl.empty()) v2 = std::string(path);
    if (ctrl == "name=systemd") v1 = std::string(path);
    return true;
  });
  // Hybrid hosts: systemd tracks units in the name=systemd hierarchy when it exists.
  if (v1) return v1;
  return v2;
}

ProcScan ScanProcessSockets(const Fs& fs, const std::vector<uint64_t>& wanted_inodes,
                            size_t max_processes, size_t max_fds) {
  ProcScan scan;
  if (wanted_inodes.empty()) return scan;
  std::set<uint64_t> wanted(wanted_inodes.begin(), wanted_inodes.end());
  auto pids = fs.ListDir("/proc");
  if (!pids.ok()) {
    scan.truncated = true;
    return scan;
  }
  std::vector<int64_t> numeric;
  for (const auto& name : *pids) {
    if (IsDigits(name) && name.size() < 12) numeric.push_back(std::stoll(name));
  }
  std::sort(numeric.begin(), numeric.end());
  for (int64_t pid : numeric) {
    if (scan.processes_seen >= max_processes) {
      scan.truncated = true;
      break;
    }
    ++scan.processes_seen;
    std::string base = "/proc/" + std::to_string(pid);
    auto fds = fs.ListDir(base + "/fd");
    if (!fds.ok()) {
      if (fds.status().code() == StatusCode::kNotFound) continue;  // exited meanwhile
      ++scan.processes_unreadable;
      continue;
    }
    if (fds->size() > max_fds) scan.truncated = true;
    std::vector<std::pair<uint64_t, int>> hits;
    size_t count = 0;
    bool links_hidden = false;
    for (const auto& fd : *fds) {
      if (++count > max_fds) break;
      auto target = fs.ReadLink(base + "/fd/" + fd);
      if (!target.ok()) {
        // A descriptor closed since the listing is gone, not hidden.
        if (target.status().code() != StatusCode::kNotFound) {
          ++scan.fd_links_unreadable;
          links_hidden = true;
        }
        continue;
      }
      std::string_view t = *target;
      if (t.size() < 10 || t.substr(0, 8) != "socket:[" || t.back() != ']') continue;
      std::string_view num = t.substr(8, t.size() - 9);
      if (!IsDigits(num) || num.size() > 19) continue;
      uint64_t inode = std::stoull(std::string(num));
      if (wanted.count(inode) && IsDigits(fd) && fd.size() < 10) {
        hits.emplace_back(inode, std::stoi(fd));
      }
    }
    if (links_hidden) ++scan.processes_unreadable;
    if (hits.empty()) continue;
    ProcessInfo info;
    info.pid = pid;
    ReadOptions small;
    small.max_bytes = 1 << 16;
    if (auto comm = fs.ReadFile(base + "/comm", small); comm.ok()) {
      std::string c = comm->data;
      while (!c.empty() && c.back() == '\n') c.pop_back();
      info.comm = c;
    }
    if (auto status = fs.ReadFile(base + "/status", small); status.ok()) {
      ForEachLine(status->data, [&](std::string_view line, int64_t) {
        if (line.substr(0, 4) != "Uid:") return true;
        // Uid: real effective saved fs (proc(5))
        std::string_view rest = line.substr(4);
        size_t p = rest.find_first_not_of(" \t");
        if (p != std::string_view::npos) p = rest.find_first_of(" \t", p);
        if (p != std::string_view::npos) p = rest.find_first_not_of(" \t", p);
        if (p != std::string_view::npos) {
          size_t e = rest.find_first_of(" \t", p);
          std::string_view euid = rest.substr(p, e == std::string_view::npos ? e : e - p);
          if (IsDigits(euid) && euid.size() < 11)
            info.uid = static_cast<uint32_t>(std::stoul(std::string(euid)));
        }
        return false;
      });
    }
    if (auto cg = fs.ReadFile(base + "/cgroup", small); cg.ok()) {
      if (auto path = SystemdCgroupPath(cg->data)) info.unit = UnitFromCgroupPath(*path);
    }
    std::sort(hits.begin(), hits.end());
    for (size_t i = 0; i < hits.size(); ++i) {
      if (i > 0 && hits[i].first == hits[i - 1].first) continue;
      ProcessInfo p = info;
      for (const auto& h : hits) {
        if (h.first == hits[i].first) p.fds.push_back(h.second);
      }
      std::sort(p.fds.begin(), p.fds.end());
      scan.by_inode[hits[i].first].push_back(std::move(p));
    }
  }
  return scan;
}

}  // namespace tidemark::agent
