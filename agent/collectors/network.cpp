#include "agent/collectors/network.h"

#include <net/if.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace tidemark::agent {
namespace {

using nlohmann::json;

// The endpoint as ss(8) prints it: "0.0.0.0:22", "[::1]:631", "127.0.0.53%lo:53"; an IPv6
// wildcard that also accepts IPv4 (not v6only) is "*" in ss, kept here as "[::]" with v6only.
std::string InterfaceName(uint32_t ifindex) {
  if (ifindex == 0) return "";
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(ifindex, name) == nullptr) return "if" + std::to_string(ifindex);
  return name;
}

std::string Endpoint(const DiagSocket& s, const std::string& iface) {
  std::string host = s.family == 6 ? "[" + s.address + "]" : s.address;
  if (!iface.empty()) host += "%" + iface;
  return host + ":" + std::to_string(s.port);
}

}  // namespace

NetworkCollector::NetworkCollector()
    : source_([] { return DumpListeningSockets(); }), require_live_(true) {}

NetworkCollector::NetworkCollector(SocketSource source, bool require_live)
    : source_(std::move(source)), require_live_(require_live) {}

void NetworkCollector::Collect(CollectContext& ctx, Section& out) {
  if (require_live_ && !ctx.live()) {
    out.status = SectionStatus::kNotApplicable;
    out.data["reason"] = "listening sockets exist only on a running host; not read under --root";
    return;
  }
  auto sockets = source_();
  ItemArray items;
  if (!sockets.ok()) {
    out.AddError("", std::nullopt, "cannot read the socket table: " + sockets.status().message());
    out.status = SectionStatus::kError;
    out.items["listeners"] = std::move(items);
    return;
  }
  std::vector<uint64_t> inodes;
  for (const auto& s : *sockets) {
    if (s.inode != 0) inodes.push_back(s.inode);
  }
  ProcScan scan = ScanProcessSockets(ctx.fs(), inodes);
  const AccountDb& db = ctx.accounts();

  // One item per endpoint; several sockets may share one (SO_REUSEPORT, per-CPU workers).
  struct Group {
    std::vector<const DiagSocket*> sockets;
    std::string iface;
  };
  using Key = std::tuple<std::string, int, std::string, uint16_t, std::string>;
  std::map<Key, Group> groups;
  for (const auto& s : *sockets) {
    std::string iface = InterfaceName(s.ifindex);
    Group& g = groups[Key{s.proto, s.family, s.address, s.port, iface}];
    g.iface = iface;
    g.sockets.push_back(&s);
  }
  // Order: protocol, family, port, address (a reader scans by port).
  std::vector<const std::pair<const Key, Group>*> ordered;
  for (const auto& kv : groups) ordered.push_back(&kv);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) {
    const Key& x = a->first;
    const Key& y = b->first;
    return std::tie(std::get<0>(x), std::get<1>(x), std::get<3>(x), std::get<2>(x),
                    std::get<4>(x)) <
           std::tie(std::get<0>(y), std::get<1>(y), std::get<3>(y), std::get<2>(y), std::get<4>(y));
  });
  size_t without_owner = 0;
  for (const auto* kv : ordered) {
    const Group& g = kv->second;
    const DiagSocket& first = *g.sockets.front();
    std::string endpoint = Endpoint(first, g.iface);
    json j;
    j["id"] = "listen:" + first.proto + ":" + endpoint;
    j["proto"] = first.proto;
    j["family"] = first.family == 6 ? "ipv6" : "ipv4";
    j["address"] = first.address;
    j["port"] = first.port;
    j["interface"] = g.iface.empty() ? json(nullptr) : json(g.iface);
    j["endpoint"] = endpoint;
    j["v6only"] = first.v6only ? json(*first.v6only) : json(nullptr);
    bool loopback =
        first.family == 4 ? first.address.rfind("127.", 0) == 0 : first.address == "::1";
    bool wildcard = first.address == "0.0.0.0" || first.address == "::";
    j["scope"] = loopback ? "loopback" : wildcard ? "any" : "address";
    j["sockets"] = g.sockets.size();
    std::set<uint32_t> uids;
    std::map<int64_t, json> procs;
    for (const DiagSocket* s : g.sockets) {
      uids.insert(s->uid);
      auto it = scan.by_inode.find(s->inode);
      if (it == scan.by_inode.end()) continue;
      for (const ProcessInfo& p : it->second) {
        json& jp = procs[p.pid];
        if (jp.is_null()) {
          jp["pid"] = p.pid;
          jp["name"] = p.comm;
          jp["uid"] = p.uid ? json(*p.uid) : json(nullptr);
          const PasswdEntry* u = p.uid ? db.FindUserById(*p.uid) : nullptr;
          jp["user"] = u ? json(u->name) : json(nullptr);
          jp["unit"] = p.unit ? json(*p.unit) : json(nullptr);
          jp["fds"] = json::array();
        }
        for (int fd : p.fds) jp["fds"].push_back(fd);
      }
    }
    json socket_users = json::array();
    for (uint32_t uid : uids) {
      const PasswdEntry* u = db.FindUserById(uid);
      socket_users.push_back({{"uid", uid}, {"user", u ? json(u->name) : json(nullptr)}});
    }
    j["socket_owners"] = std::move(socket_users);
    json plist = json::array();
    std::set<std::string> units;
    for (auto& [pid, jp] : procs) {
      if (!jp["unit"].is_null()) units.insert(jp["unit"].get<std::string>());
      plist.push_back(std::move(jp));
    }
    if (plist.empty()) ++without_owner;
    bool complete = scan.processes_unreadable == 0 && !scan.truncated;
    j["owner_state"] = !plist.empty() ? "found" : complete ? "none" : "unknown";
    j["processes"] = std::move(plist);
    j["units"] = units;
    j["source"] = {{"file", "sock_diag:" + first.proto + std::to_string(first.family)},
                   {"line", nullptr}};
    items.push_back(j);
  }
  out.items["listeners"] = std::move(items);
  out.data["process_scan"] = {{"processes_seen", scan.processes_seen},
                              {"processes_unreadable", scan.processes_unreadable},
                              {"fd_links_unreadable", scan.fd_links_unreadable},
                              {"truncated", scan.truncated},
                              {"listeners_without_process", without_owner}};
  if (scan.truncated) {
    out.AddError("/proc", std::nullopt,
                 "process scan incomplete (/proc unreadable or limits reached); some owners "
                 "may be missing");
  }
}

}  // namespace tidemark::agent
