#include "agent/sections/network.h"

#include <net/if.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace tidemark::agent {
namespace {

using nlohmann::json;

// Caps (docs/sections/network.md, "Bounds"): any user can open listeners (on 16M loopback
// addresses x 64,511 ports) and fork processes that share them.
constexpr size_t kMaxListeners = 10000;
constexpr size_t kMaxOwnersPerListener = 64;  // distinct (name, uid, unit) listed per endpoint
constexpr size_t kMaxPidsPerListener = 64;    // in the volatile part
// Endpoints with a socket of a system account (uid below this, Debian's FIRST_UID) are kept
// first when listeners are cut, so that a user's flood cannot push them out of the list.
constexpr uint32_t kFirstUserUid = 1000;

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

NetworkReader::NetworkReader()
    : source_([] { return DumpListeningSockets(); }), require_live_(true) {}

NetworkReader::NetworkReader(SocketSource source, bool require_live)
    : source_(std::move(source)), require_live_(require_live) {}

namespace {

// One item per endpoint; several sockets may share one (SO_REUSEPORT, per-CPU workers).
struct Group {
  std::vector<const DiagSocket*> sockets;
  std::string iface;
};
using Key = std::tuple<std::string, int, std::string, uint16_t, std::string>;
using Groups = std::map<Key, Group>;

Groups GroupByEndpoint(const std::vector<DiagSocket>& sockets) {
  Groups groups;
  for (const auto& s : sockets) {
    std::string iface = InterfaceName(s.ifindex);
    Group& g = groups[Key{s.proto, s.family, s.address, s.port, iface}];
    g.iface = iface;
    g.sockets.push_back(&s);
  }
  return groups;
}

// The endpoints in the order a reader scans them (protocol, family, port, address); over
// kMaxListeners, those with a system account's socket are kept first.
std::vector<const Groups::value_type*> OrderEndpoints(const Groups& groups, Section& out) {
  std::vector<const Groups::value_type*> ordered;
  for (const auto& kv : groups) ordered.push_back(&kv);
  auto by_port = [](auto* a, auto* b) {
    const Key& x = a->first;
    const Key& y = b->first;
    return std::tie(std::get<0>(x), std::get<1>(x), std::get<3>(x), std::get<2>(x),
                    std::get<4>(x)) <
           std::tie(std::get<0>(y), std::get<1>(y), std::get<3>(y), std::get<2>(y), std::get<4>(y));
  };
  std::sort(ordered.begin(), ordered.end(), by_port);
  if (ordered.size() > kMaxListeners) {
    std::stable_partition(ordered.begin(), ordered.end(), [](auto* kv) {
      for (const DiagSocket* s : kv->second.sockets) {
        if (s->uid < kFirstUserUid) return true;
      }
      return false;
    });
    ordered.resize(kMaxListeners);
    std::sort(ordered.begin(), ordered.end(), by_port);
    out.NoteTruncated("listeners", kMaxListeners, groups.size());
  }
  return ordered;
}

// One endpoint's item, and what of it stays outside the content hash.
struct Listener {
  json item;
  json pids = json::array();  // volatile: {pid, name, fds}, at most kMaxPidsPerListener
  size_t owners_total = 0;    // distinct owners before the cut to kMaxOwnersPerListener
  bool has_owner = false;
};

Listener MakeListener(const Group& g, const ProcScan& scan, const AccountDb& db) {
  Listener out;
  const DiagSocket& first = *g.sockets.front();
  std::string endpoint = Endpoint(first, g.iface);
  json& j = out.item;
  j["id"] = "listen:" + first.proto + ":" + endpoint;
  j["proto"] = first.proto;
  j["family"] = first.family == 6 ? "ipv6" : "ipv4";
  j["address"] = first.address;
  j["port"] = first.port;
  j["interface"] = g.iface.empty() ? json(nullptr) : json(g.iface);
  j["endpoint"] = endpoint;
  j["v6only"] = first.v6only ? json(*first.v6only) : json(nullptr);
  bool loopback = first.family == 4 ? first.address.rfind("127.", 0) == 0 : first.address == "::1";
  bool wildcard = first.address == "0.0.0.0" || first.address == "::";
  j["scope"] = loopback ? "loopback" : wildcard ? "any" : "address";
  j["sockets"] = g.sockets.size();
  std::set<uint32_t> uids;
  // Canonical: who holds the endpoint (program, user, unit), not which pid - a restart or
  // a pre-forked worker changes pids and fds, not the host's configuration.
  using Owner = std::tuple<std::string, int64_t, std::string, bool>;  // name, uid, unit
  std::map<Owner, json> owners;
  std::map<int64_t, json> pids;  // volatile: pid -> {pid, name, fds}
  for (const DiagSocket* s : g.sockets) {
    uids.insert(s->uid);
    auto it = scan.by_inode.find(s->inode);
    if (it == scan.by_inode.end()) continue;
    for (const ProcessInfo& p : it->second) {
      Owner key{p.comm, p.uid ? static_cast<int64_t>(*p.uid) : -1, p.unit.value_or(""),
                p.unit.has_value()};
      json& jo = owners[key];
      if (jo.is_null()) {
        jo["name"] = p.comm;
        jo["uid"] = p.uid ? json(*p.uid) : json(nullptr);
        const PasswdEntry* u = p.uid ? db.FindUserById(*p.uid) : nullptr;
        jo["user"] = u ? json(u->name) : json(nullptr);
        jo["unit"] = p.unit ? json(*p.unit) : json(nullptr);
      }
      json& jp = pids[p.pid];
      if (jp.is_null()) {
        jp["pid"] = p.pid;
        jp["name"] = p.comm;
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
  for (auto& [key, jo] : owners) {
    if (!jo["unit"].is_null()) units.insert(jo["unit"].get<std::string>());
    if (plist.size() < kMaxOwnersPerListener) plist.push_back(std::move(jo));
  }
  out.owners_total = owners.size();
  json vp = json::array();
  for (auto& [pid, jp] : pids) {
    if (vp.size() >= kMaxPidsPerListener) break;
    vp.push_back(std::move(jp));
  }
  out.pids = std::move(vp);
  out.has_owner = !plist.empty();
  bool complete = scan.processes_unreadable == 0 && !scan.truncated;
  j["owner_state"] = !plist.empty() ? "found" : complete ? "none" : "unknown";
  j["processes"] = std::move(plist);
  j["units"] = units;
  j["source"] = {{"file", "sock_diag:" + first.proto + std::to_string(first.family)},
                 {"line", nullptr}};
  return out;
}

}  // namespace

void NetworkReader::Collect(CollectContext& ctx, Section& out) {
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
  Groups groups = GroupByEndpoint(*sockets);
  size_t without_owner = 0;
  size_t owners_cut_total = 0;  // the most owners of one endpoint that was cut
  json volatile_pids = json::object();
  for (const auto* kv : OrderEndpoints(groups, out)) {
    Listener l = MakeListener(kv->second, scan, db);
    if (l.owners_total > kMaxOwnersPerListener) {
      owners_cut_total = std::max(owners_cut_total, l.owners_total);
    }
    if (!l.pids.empty()) volatile_pids[l.item["id"].get<std::string>()] = std::move(l.pids);
    if (!l.has_owner) ++without_owner;
    items.push_back(std::move(l.item));
  }
  out.items["listeners"] = std::move(items);
  if (owners_cut_total > 0) {
    out.NoteTruncated("listeners.processes", kMaxOwnersPerListener, owners_cut_total);
  }
  // Volatile (outside the content hash): what changes while the configuration does not.
  out.volatile_data["process_scan"] = {{"processes_seen", scan.processes_seen},
                                       {"processes_unreadable", scan.processes_unreadable},
                                       {"fd_links_unreadable", scan.fd_links_unreadable},
                                       {"truncated", scan.truncated},
                                       {"listeners_without_process", without_owner}};
  out.volatile_data["listener_pids"] = std::move(volatile_pids);
  if (scan.truncated) {
    out.AddError("/proc", std::nullopt,
                 "process scan incomplete (/proc unreadable or limits reached); some owners "
                 "may be missing");
  }
}

}  // namespace tidemark::agent
