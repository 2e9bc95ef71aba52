// The network section against ss(8) on this machine: the test opens its own loopback listeners
// (TCP and UDP, IPv4 and IPv6 when available) and checks that the collector reports them with
// this process as owner exactly as `ss -lntup` does, and that the set of (proto, endpoint) on the
// machine equals ss's (sockets that come and go between the reads are retried once).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "agent/sections/network.h"
#include "common/snapshot.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

struct Listener {
  int fd = -1;
  std::string proto;
  std::string endpoint;  // as ss prints it
};

// Opens a socket bound to loopback port 0 (TCP: listening). Returns fd -1 when unsupported.
Listener Open(int family, int type) {
  Listener l;
  l.proto = type == SOCK_STREAM ? "tcp" : "udp";
  l.fd = ::socket(family, type | SOCK_CLOEXEC, 0);
  if (l.fd < 0) return l;
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof(*a);
  }
  if (::bind(l.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      (type == SOCK_STREAM && ::listen(l.fd, 4) != 0) ||
      ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    ::close(l.fd);
    l.fd = -1;
    return l;
  }
  uint16_t port = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                    : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  l.endpoint = (family == AF_INET ? "127.0.0.1:" : "[::1]:") + std::to_string(port);
  return l;
}

json Collect(Section* section_out = nullptr) {
  auto fs = OpenRootFs("/");
  EXPECT_TRUE(fs.ok());
  CollectContext ctx(**fs, "h");
  NetworkReader c;
  Section local;
  Section& s = section_out ? *section_out : local;
  c.Collect(ctx, s);
  s.Finish();
  s.Materialize();
  EXPECT_NE(s.status, SectionStatus::kError) << (s.errors.empty() ? "" : s.errors[0].message);
  return s.data;
}

// proto + " " + endpoint, with ss's "*" (IPv6 wildcard accepting IPv4 too) written as "[::]".
std::set<std::string> CollectedSet(const json& d) {
  std::set<std::string> out;
  for (const auto& l : d["listeners"]) {
    out.insert(l["proto"].get<std::string>() + " " + l["endpoint"].get<std::string>());
  }
  return out;
}

struct SsLine {
  std::string key;
  std::string users;  // users:((...)) column, may be empty
};

std::vector<SsLine> RunSs() {
  std::string out;
  EXPECT_EQ(testing::RunCommand("ss -ltnupH", &out), 0);
  std::vector<SsLine> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string netid, state, rq, sq, local, peer, users;
    f >> netid >> state >> rq >> sq >> local >> peer;
    std::getline(f, users);
    if (local.rfind("*:", 0) == 0) local = "[::]" + local.substr(1);
    if (local.rfind("*%", 0) == 0) local = "[::]" + local.substr(1);
    lines.push_back({netid + " " + local, users});
  }
  return lines;
}

TEST(NetworkHost, OwnListenersMatchSs) {
  TIDEMARK_REQUIRE(testing::HaveProgram("ss"), "ss (iproute2) not installed");
  std::vector<Listener> mine = {Open(AF_INET, SOCK_STREAM), Open(AF_INET, SOCK_DGRAM),
                                Open(AF_INET6, SOCK_STREAM), Open(AF_INET6, SOCK_DGRAM)};
  ASSERT_GE(mine[0].fd, 0);
  ASSERT_GE(mine[1].fd, 0);
  Section section;
  json d = Collect(&section);
  std::vector<SsLine> ss = RunSs();
  std::string comm = testing::ReadHostFile("/proc/self/comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  for (const Listener& l : mine) {
    if (l.fd < 0) continue;  // no IPv6 on this machine
    std::string key = l.proto + " " + l.endpoint;
    SCOPED_TRACE(key);
    const json* item = nullptr;
    for (const auto& x : d["listeners"]) {
      if (x["proto"].get<std::string>() + " " + x["endpoint"].get<std::string>() == key) item = &x;
    }
    ASSERT_NE(item, nullptr);
    EXPECT_EQ((*item)["id"], "listen:" + l.proto + ":" + l.endpoint);
    EXPECT_EQ((*item)["scope"], "loopback");
    ASSERT_EQ((*item)["processes"].size(), 1u);
    const json& p = (*item)["processes"][0];
    EXPECT_EQ(p["name"], comm);
    EXPECT_EQ(p["uid"], ::geteuid());
    const json& v = section.volatile_data["listener_pids"][(*item)["id"].get<std::string>()];
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0]["pid"], ::getpid());
    EXPECT_EQ(v[0]["fds"], json::array({l.fd}));
    // ss agrees: same endpoint, same pid and fd.
    const SsLine* s = nullptr;
    for (const auto& x : ss) {
      if (x.key == key) s = &x;
    }
    ASSERT_NE(s, nullptr);
    std::string owner = "pid=" + std::to_string(::getpid()) + ",fd=" + std::to_string(l.fd) + ")";
    EXPECT_NE(s->users.find(owner), std::string::npos) << s->users;
    EXPECT_NE(s->users.find("\"" + comm + "\""), std::string::npos) << s->users;
  }
  for (const Listener& l : mine) {
    if (l.fd >= 0) ::close(l.fd);
  }
}

TEST(NetworkHost, AllListenersMatchSs) {
  TIDEMARK_REQUIRE(testing::HaveProgram("ss"), "ss (iproute2) not installed");
  Listener own = Open(AF_INET, SOCK_STREAM);
  ASSERT_GE(own.fd, 0);
  std::set<std::string> ours, theirs, again;
  for (int attempt = 0; attempt < 2; ++attempt) {
    ours = CollectedSet(Collect());
    theirs.clear();
    for (const auto& l : RunSs()) theirs.insert(l.key);
    again = CollectedSet(Collect());
    if (ours == theirs && theirs == again) break;
  }
  // Stable sockets (in both of our reads) must be in ss's; ss's must be in one of ours.
  for (const auto& k : ours) {
    if (again.count(k)) {
      EXPECT_TRUE(theirs.count(k)) << k << " not in ss";
    }
  }
  for (const auto& k : theirs) {
    EXPECT_TRUE(ours.count(k) || again.count(k)) << k << " in ss, not collected";
  }
  EXPECT_TRUE(theirs.count("tcp " + own.endpoint));
  ::close(own.fd);
}

// ---- the content hash on an unchanged host (issue 9, defect 7) ------------------------------

// A child process that holds a TCP listener on 127.0.0.1:`port` (0: any) until killed; writes
// the bound port to `ready`.
struct ListenerChild {
  pid_t pid = -1;
  uint16_t port = 0;
};

ListenerChild StartListenerChild(uint16_t port) {
  int fds[2];
  ListenerChild c;
  if (::pipe(fds) != 0) return c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::close(fds[0]);
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    socklen_t len = sizeof(a);
    uint16_t bound = 0;
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), len) == 0 && ::listen(s, 4) == 0 &&
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      bound = ntohs(a.sin_port);
    }
    if (::write(fds[1], &bound, sizeof(bound)) != sizeof(bound)) _exit(1);
    ::pause();  // until killed
    _exit(0);
  }
  ::close(fds[1]);
  if (c.pid > 0 && ::read(fds[0], &c.port, sizeof(c.port)) != sizeof(c.port)) c.port = 0;
  ::close(fds[0]);
  return c;
}

void StopChild(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// Collects the network section of this host, restricted to the sockets on `port` (so that
// other programs' listeners coming and going on a shared machine do not count), and returns
// the content hash of a snapshot holding it.
std::string HashOfNetworkSection(uint16_t port) {
  auto fs = OpenRootFs("/");
  EXPECT_TRUE(fs.ok());
  CollectContext ctx(**fs, "h");
  NetworkReader c(
      [port]() -> StatusOr<std::vector<DiagSocket>> {
        auto all = DumpListeningSockets();
        if (!all.ok()) return all.status();
        std::vector<DiagSocket> mine;
        for (auto& s : *all) {
          if (s.port == port && s.proto == "tcp") mine.push_back(std::move(s));
        }
        return mine;
      },
      /*require_live=*/true);
  Snapshot snap;
  snap.host = {"h", "h", "/"};
  Section& s = snap.sections["network"];
  c.Collect(ctx, s);
  s.Finish();
  EXPECT_EQ(s.items["listeners"].size(), 1u) << s.items["listeners"].text();
  return ContentHash(snap);
}

TEST(NetworkHost, ContentHashIsStableWhileProcessesComeAndGo) {
  ListenerChild first = StartListenerChild(0);
  ASSERT_GT(first.pid, 0);
  ASSERT_NE(first.port, 0);
  std::string before = HashOfNetworkSection(first.port);
  // Processes start and stop in between (the /proc scan sees other counts)...
  for (int i = 0; i < 5; ++i) {
    pid_t p = ::fork();
    if (p == 0) _exit(0);
    ASSERT_GT(p, 0);
    ::waitpid(p, nullptr, 0);
  }
  // ... and the listener is restarted: same program, same port, new pid.
  StopChild(first.pid);
  ListenerChild second = StartListenerChild(first.port);
  ASSERT_GT(second.pid, 0);
  ASSERT_EQ(second.port, first.port);
  ASSERT_NE(second.pid, first.pid);
  std::string after = HashOfNetworkSection(first.port);
  StopChild(second.pid);
  EXPECT_EQ(before, after);
}

}  // namespace
}  // namespace tidemark::agent
