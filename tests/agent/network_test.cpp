// The network collector on fixture roots: cgroup -> unit rules, the /proc fd scan that maps
// socket inodes to processes, endpoint grouping and ids, not_applicable under --root, errors.
#include "agent/sections/network.h"

#include <gtest/gtest.h>

#include "agent/sock_diag.h"
#include "tests/support/fake_proc.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

TEST(UnitFromCgroupPath, FirstNonSliceComponent) {
  EXPECT_EQ(UnitFromCgroupPath("/system.slice/ssh.service"), "ssh.service");
  EXPECT_EQ(UnitFromCgroupPath("/user.slice/user-1000.slice/session-3.scope"), "session-3.scope");
  EXPECT_EQ(UnitFromCgroupPath("/system.slice/docker-ab.scope/init"), "docker-ab.scope");
  EXPECT_EQ(UnitFromCgroupPath("/system.slice/system-getty.slice/getty@tty1.service"),
            "getty@tty1.service");
  EXPECT_EQ(UnitFromCgroupPath("/"), std::nullopt);
  EXPECT_EQ(UnitFromCgroupPath("/system.slice"), std::nullopt);
  EXPECT_EQ(UnitFromCgroupPath("/process_api/6fd80b"), std::nullopt);
  EXPECT_EQ(UnitFromCgroupPath("/init.scope"), "init.scope");
}

TEST(SystemdCgroupPath, V2AndV1) {
  EXPECT_EQ(SystemdCgroupPath("0::/system.slice/cron.service\n"), "/system.slice/cron.service");
  EXPECT_EQ(SystemdCgroupPath("12:cpu:/x\n1:name=systemd:/system.slice/a.service\n0::/\n"),
            "/system.slice/a.service");
  EXPECT_EQ(SystemdCgroupPath("garbage\n"), std::nullopt);
}

class NetworkFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n");
    root_.Write("/etc/group", "root:x:0:\n");
    // pid 100 (nginx, uid 33, nginx.service) holds socket 555 on fds 3 and 7, pid 101 on fd 4.
    Proc(100, "nginx", 33, "0::/system.slice/nginx.service\n");
    root_.Symlink("/proc/100/fd/3", "socket:[555]");
    root_.Symlink("/proc/100/fd/7", "socket:[555]");
    root_.Symlink("/proc/100/fd/5", "socket:[999]");  // not a listener
    root_.Symlink("/proc/100/fd/0", "/dev/null");
    Proc(101, "nginx", 33, "0::/system.slice/nginx.service\n");
    root_.Symlink("/proc/101/fd/4", "socket:[555]");
    Proc(200, "sshd", 0, "1:name=systemd:/system.slice/ssh.service\n0::/\n");
    root_.Symlink("/proc/200/fd/3", "socket:[777]");
    root_.Write("/proc/self", "not a process");  // non-numeric entries are ignored
  }
  void Proc(int pid, const std::string& comm, int uid, const std::string& cgroup) {
    testing::WriteFakeProc(root_, pid, comm, uid, cgroup);
  }
  json Run(SocketSource source, Section* section_out = nullptr) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok());
    CollectContext ctx(**fs, "h");
    NetworkReader c(std::move(source), /*require_live=*/false);
    Section s;
    c.Collect(ctx, s);
    s.Finish();
    s.Materialize();
    if (section_out) *section_out = s;
    return s.data;
  }
  testing::TempRoot root_;
};

DiagSocket Sock(std::string proto, int family, std::string addr, uint16_t port, uint64_t inode,
                uint32_t uid = 0) {
  return testing::FakeSocket(std::move(proto), family, std::move(addr), port, inode, uid);
}

TEST_F(NetworkFixture, MapsSocketsToProcessesUsersAndUnits) {
  Section s;
  json d = Run(
      [] {
        return StatusOr<std::vector<DiagSocket>>(std::vector<DiagSocket>{
            Sock("tcp", 4, "0.0.0.0", 80, 555, 33), Sock("tcp", 6, "::", 22, 777),
            Sock("udp", 4, "127.0.0.1", 53, 888)});
      },
      &s);
  EXPECT_EQ(s.status, SectionStatus::kOk);
  const json& l = d["listeners"];
  ASSERT_EQ(l.size(), 3u);
  // Sorted by protocol, family, port.
  EXPECT_EQ(l[0]["id"], "listen:tcp:0.0.0.0:80");
  EXPECT_EQ(l[1]["id"], "listen:tcp:[::]:22");
  EXPECT_EQ(l[2]["id"], "listen:udp:127.0.0.1:53");
  EXPECT_EQ(l[0]["scope"], "any");
  EXPECT_EQ(l[2]["scope"], "loopback");
  // Two nginx processes are one owner; their pids and fds are volatile.
  ASSERT_EQ(l[0]["processes"].size(), 1u);
  EXPECT_EQ(l[0]["processes"][0],
            json({{"name", "nginx"}, {"uid", 33}, {"user", "www"}, {"unit", "nginx.service"}}));
  const json& pids = s.volatile_data["listener_pids"]["listen:tcp:0.0.0.0:80"];
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_EQ(pids[0], json({{"pid", 100}, {"name", "nginx"}, {"fds", {3, 7}}}));
  EXPECT_EQ(pids[1]["pid"], 101);
  EXPECT_EQ(l[0]["units"], json::array({"nginx.service"}));
  EXPECT_EQ(l[0]["socket_owners"][0]["user"], "www");
  EXPECT_EQ(l[1]["processes"][0]["unit"], "ssh.service");
  EXPECT_EQ(l[1]["v6only"], false);
  EXPECT_EQ(l[2]["processes"].size(), 0u);
  EXPECT_EQ(l[2]["owner_state"], "none");
  EXPECT_EQ(l[0]["owner_state"], "found");
  EXPECT_FALSE(d.contains("process_scan"));
  EXPECT_EQ(s.volatile_data["process_scan"]["processes_seen"], 3);
  for (const auto& item : l) {
    EXPECT_TRUE(item["source"].contains("file"));
    EXPECT_TRUE(item["source"].contains("line"));
  }
}

TEST_F(NetworkFixture, SharedEndpointIsOneItemWithSocketCount) {
  json d = Run([] {
    return StatusOr<std::vector<DiagSocket>>(std::vector<DiagSocket>{
        Sock("tcp", 4, "0.0.0.0", 80, 555), Sock("tcp", 4, "0.0.0.0", 80, 777)});
  });
  ASSERT_EQ(d["listeners"].size(), 1u);
  EXPECT_EQ(d["listeners"][0]["sockets"], 2);
  EXPECT_EQ(d["listeners"][0]["processes"].size(), 2u);  // nginx (pids 100, 101) and sshd
}

// A user's flood of listeners is cut at 10,000 endpoints with the true count; a system
// account's listener on a high port is kept (docs/sections/network.md "Bounds").
TEST_F(NetworkFixture, ListenerFloodIsCutButKeepsSystemListeners) {
  Section s;
  json d = Run(
      [] {
        std::vector<DiagSocket> v;
        for (int i = 0; i < 10050; ++i) {
          v.push_back(Sock("tcp", 4, "127.0.0." + std::to_string(1 + i / 5000),
                           static_cast<uint16_t>(1024 + i % 5000), 0, 1000));
        }
        v.push_back(Sock("tcp", 4, "0.0.0.0", 65000, 777, 0));
        return StatusOr<std::vector<DiagSocket>>(std::move(v));
      },
      &s);
  EXPECT_EQ(d["listeners"].size(), 10000u);
  EXPECT_EQ(d["truncated"]["listeners"], json({{"limit", 10000}, {"total", 10051}}));
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  bool kept = false;
  for (const auto& l : d["listeners"]) kept = kept || l["id"] == "listen:tcp:0.0.0.0:65000";
  EXPECT_TRUE(kept);
}

TEST_F(NetworkFixture, UnreadableFdDirectoryMakesOwnersUnknown) {
  root_.Mkdir("/proc/300");
  root_.Write("/proc/300/fd", "a file where a directory should be");
  Section s;
  json d = Run(
      [] {
        return StatusOr<std::vector<DiagSocket>>(
            std::vector<DiagSocket>{Sock("udp", 4, "0.0.0.0", 5353, 4242)});
      },
      &s);
  EXPECT_EQ(s.volatile_data["process_scan"]["processes_unreadable"], 1);
  EXPECT_EQ(d["listeners"][0]["owner_state"], "unknown");
}

TEST_F(NetworkFixture, SocketTableFailureIsAnErrorNotEmpty) {
  Section s;
  Run([] { return StatusOr<std::vector<DiagSocket>>(Status(StatusCode::kPermissionDenied, "no")); },
      &s);
  EXPECT_EQ(s.status, SectionStatus::kError);
  ASSERT_EQ(s.errors.size(), 1u);
}

TEST(NetworkReader, NotApplicableUnderRoot) {
  testing::TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  auto fs = OpenRootFs(root.path());
  ASSERT_TRUE(fs.ok());
  CollectContext ctx(**fs, "h");
  NetworkReader c;
  Section s;
  c.Collect(ctx, s);
  s.Finish();
  EXPECT_EQ(s.status, SectionStatus::kNotApplicable);
}

}  // namespace
}  // namespace tidemark::agent
