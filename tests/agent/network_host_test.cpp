// The network section against ss(8) on this machine: the test opens its own loopback listeners
// (TCP and UDP, IPv4 and IPv6 when available) and checks that the collector reports them with
// this process as owner exactly as `ss -lntup` does, and that the set of (proto, endpoint) on the
// machine equals ss's (sockets that come and go between the reads are retried once).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "agent/collectors/network.h"
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

json Collect() {
  auto fs = OpenRootFs("/");
  EXPECT_TRUE(fs.ok());
  CollectContext ctx(**fs, "h");
  NetworkCollector c;
  Section s;
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
  json d = Collect();
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
    EXPECT_EQ(p["pid"], ::getpid());
    EXPECT_EQ(p["name"], comm);
    EXPECT_EQ(p["uid"], ::geteuid());
    EXPECT_EQ(p["fds"], json::array({l.fd}));
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

}  // namespace
}  // namespace tidemark::agent
