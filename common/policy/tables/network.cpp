// Tables of the `network` section (docs/sections/network.md): listening sockets and who holds
// them. Process ids are in the section's `volatile` object, not in its data: rows name the
// program, its user and its systemd unit instead.
#include <string>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// listeners: one row per (listening endpoint, distinct owning process), so that `process`,
// `user` and `unit` are plain values; an endpoint nobody was found to hold is one row with them
// NULL. Rows of one endpoint with several owners get ids LISTENER_ID#N.
Status Listeners(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "network data is not an object"};
  auto listeners = data.find("listeners");
  // Missing under --root (not_applicable); the section's status says so.
  if (listeners == data.end() || listeners->is_null()) return Status::Ok();
  if (!listeners->is_array()) {
    return {StatusCode::kInvalidArgument, "network.listeners is not an array"};
  }
  for (const json& l : *listeners) {
    if (!l.is_object()) {
      return {StatusCode::kInvalidArgument, "network.listeners has a non-object"};
    }
    json base = l;
    base.erase("processes");
    for (const char* k : {"process", "uid", "user", "unit"}) base[k] = nullptr;
    auto processes = l.find("processes");
    if (processes == l.end() || processes->is_null() || processes->empty()) {
      sink.Add(std::move(base));
      continue;
    }
    if (!processes->is_array()) {
      return {StatusCode::kInvalidArgument, "network.listeners[].processes is not an array"};
    }
    std::string id = l.contains("id") && l["id"].is_string() ? l["id"].get<std::string>() : "";
    int n = 0;
    for (const json& p : *processes) {
      if (!p.is_object()) {
        return {StatusCode::kInvalidArgument, "network.listeners[].processes has a non-object"};
      }
      json row = base;
      ++n;
      if (processes->size() > 1) row["id"] = id + "#" + std::to_string(n);
      for (const auto& [from, to] : {std::pair<const char*, const char*>{"name", "process"},
                                     {"uid", "uid"},
                                     {"user", "user"},
                                     {"unit", "unit"}}) {
        if (auto v = p.find(from); v != p.end()) row[to] = *v;
      }
      sink.Add(std::move(row));
    }
  }
  return Status::Ok();
}

}  // namespace

void AddNetworkTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "listeners",
      .section = "network",
      .meaning =
          "Listening TCP sockets and bound, unconnected UDP sockets (what `ss -ltnp` and "
          "`ss -lunp` show), live hosts only: one row per endpoint and distinct owning process "
          "(program, user, unit; an endpoint without a known owner: one row with them NULL). "
          "The source file names the kernel table (`sock_diag:tcp4`, ...). Values are a "
          "moment's view: a UDP client's ephemeral port comes and goes.",
      .rows = Listeners,
      .columns = {
          {"proto", T::kText, "`tcp` or `udp`"},
          {"family", T::kText, "`ipv4` or `ipv6`"},
          {"address", T::kText, "the local address (`0.0.0.0`, `::`, `127.0.0.1`, ...)"},
          {"port", T::kInteger, "the local port"},
          {"interface", T::kText, "the device the socket is bound to; NULL for any"},
          {"endpoint", T::kText, "`ADDR:PORT` as `ss` prints it (IPv6 in brackets, `%IFACE`)"},
          {"scope", T::kText, "`loopback`, `any` (wildcard) or `address` (a specific one)"},
          {"v6only", T::kBoolean,
           "IPV6_V6ONLY: 0 means an IPv6 socket also accepts IPv4; NULL for IPv4"},
          {"process", T::kText,
           "the program holding the socket (`/proc/PID/comm`); NULL when none was found"},
          {"uid", T::kInteger, "the process's effective uid"},
          {"user", T::kText, "the process's user name; NULL when not in passwd or no process"},
          {"unit", T::kText, "the process's systemd unit (`ssh.service`); NULL when none"},
          {"units", T::kJson, "every unit holding the endpoint"},
          {"socket_owners", T::kJson, "`[{uid, user}]` of the sockets' creators"},
          {"sockets", T::kInteger, "sockets on this endpoint (SO_REUSEPORT, pre-forked workers)",
           "",
           /*changes_by_itself=*/true},
          {"owner_state", T::kText,
           "`found`, `none` (nobody holds it: kernel-owned or another PID namespace) or "
           "`unknown` (some processes could not be read)",
           "", /*changes_by_itself=*/true},
      }});
}

}  // namespace tidemark::policy
