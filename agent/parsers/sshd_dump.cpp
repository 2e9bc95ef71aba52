// Printing the effective settings as `sshd -T` does (SshdConfig::Dump): OpenSSH 9.2p1 servconf.c
// dump_config() with format_listen_addrs(), in its order and formats.
#include <arpa/inet.h>

#include <climits>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/parsers/sshd_config.h"
#include "agent/parsers/sshd_config_internal.h"
#include "agent/parsers/sshd_keywords.h"
#include "agent/parsers/sshd_match.h"
#include "agent/parsers/sshd_misc.h"
#include "common/text.h"

namespace tidemark::agent::sshd {

using internal::Addr;
using internal::Fatal;
using internal::IpQosName;
using internal::Op;
using internal::OpName;
using internal::Options;
using internal::ParseAddr;

bool IsRepeatingKeyword(std::string_view k) {
  static const std::set<std::string, std::less<>> kRepeat = {
      "port",        "listenaddress", "hostkey",   "hostcertificate", "allowusers", "denyusers",
      "allowgroups", "denygroups",    "acceptenv", "setenv",          "subsystem"};
  return kRepeat.count(k) != 0;
}

namespace {

// format_listen_addrs(): grouped by routing domain; each address in getaddrinfo order reversed.
std::vector<std::string> FormatListenAddrs(const Options& o, const std::string& family) {
  std::vector<std::string> out;
  for (const auto& la : o.listens) {
    std::vector<int> ports;
    if (la.port > 0) {
      ports.push_back(la.port);
    } else {
      ports = o.ports;
    }
    for (int port : ports) {
      std::vector<std::string> addrs;
      if (!la.addr) {
        if (family != "inet") addrs.push_back("[::]");
        if (family != "inet6") addrs.push_back("0.0.0.0");
      } else {
        Addr a;
        std::string host = *la.addr;
        if (host == "localhost") host = family == "inet6" ? "::1" : "127.0.0.1";
        if (ParseAddr(host, &a) && !(family == "inet" && a.af != AF_INET) &&
            !(family == "inet6" && a.af != AF_INET6)) {
          char buf[INET6_ADDRSTRLEN];
          inet_ntop(a.af, a.b, buf, sizeof(buf));
          addrs.push_back(a.af == AF_INET6 ? "[" + std::string(buf) + "]" : buf);
        } else {
          addrs.push_back(host);  // a name: resolved by sshd at startup, not offline
        }
      }
      for (const auto& ad : addrs)
        out.push_back("listenaddress " + ad + ":" + std::to_string(port));
    }
  }
  return out;
}

}  // namespace

// dump_config(): one function, as upstream's, so that its statements read in the order of the
// lines printed.
std::vector<std::string> SshdConfig::Impl::Print(const Options& o) const {
  std::vector<std::string> out;
  auto get = [&](Op op) -> std::string {
    auto it = o.s.find(op);
    return it == o.s.end() ? "none" : it->second;
  };
  auto line = [&](Op op) { out.push_back(std::string(OpName(op)) + " " + get(op)); };
  for (int port : o.ports) out.push_back("port " + std::to_string(port));
  line(Op::kAddressFamily);
  std::string family = get(Op::kAddressFamily);
  for (auto& l : FormatListenAddrs(o, family)) out.push_back(std::move(l));
  for (Op op : {Op::kUsePam}) line(op);
  for (Op op : {Op::kLoginGraceTime, Op::kX11DisplayOffset, Op::kMaxAuthTries, Op::kMaxSessions,
                Op::kClientAliveInterval, Op::kClientAliveCountMax, Op::kRequiredRsaSize}) {
    line(op);
  }
  char mask[16];
  std::snprintf(mask, sizeof(mask), "0%o", *o.bind_mask);
  out.push_back(std::string("streamlocalbindmask ") + mask);
  out.push_back(
      std::string("unusedconnectiontimeout ") +
      (get(Op::kUnusedConnectionTimeout) == "0" ? "none" : get(Op::kUnusedConnectionTimeout)));
  for (Op op : {Op::kPermitRootLogin,
                Op::kIgnoreRhosts,
                Op::kIgnoreUserKnownHosts,
                Op::kHostbasedAuthentication,
                Op::kHostbasedUsesNameFromPacketOnly,
                Op::kPubkeyAuthentication,
                Op::kKerberosAuthentication,
                Op::kKerberosOrLocalPasswd,
                Op::kKerberosTicketCleanup,
                Op::kGssAuthentication,
                Op::kGssCleanupCreds,
                Op::kGssKeyEx,
                Op::kGssStrictAcceptor,
                Op::kGssStoreRekey,
                Op::kGssKexAlgorithms,
                Op::kPasswordAuthentication,
                Op::kKbdInteractive,
                Op::kPrintMotd,
                Op::kPrintLastLog,
                Op::kX11Forwarding,
                Op::kX11UseLocalhost,
                Op::kPermitTty,
                Op::kPermitUserRc,
                Op::kStrictModes,
                Op::kTcpKeepAlive,
                Op::kEmptyPasswd,
                Op::kCompression,
                Op::kGatewayPorts,
                Op::kUseDns,
                Op::kAllowTcpForwarding,
                Op::kAllowAgentForwarding,
                Op::kDisableForwarding,
                Op::kAllowStreamLocalForwarding,
                Op::kStreamLocalBindUnlink}) {
    line(op);
  }
  out.push_back("fingerprinthash " + *o.fingerprint);
  line(Op::kExposeAuthInfo);
  for (Op op : {Op::kPidFile, Op::kModuliFile, Op::kXAuthLocation, Op::kCiphers, Op::kMacs,
                Op::kBanner, Op::kForceCommand, Op::kChrootDirectory, Op::kTrustedUserCaKeys,
                Op::kRevokedKeys, Op::kSecurityKeyProvider, Op::kAuthorizedPrincipalsFile}) {
    line(op);
  }
  std::string addendum = get(Op::kVersionAddendum);
  out.push_back("versionaddendum " + (addendum.empty() ? std::string("none") : addendum));
  for (Op op :
       {Op::kAuthorizedKeysCommand, Op::kAuthorizedKeysCommandUser,
        Op::kAuthorizedPrincipalsCommand, Op::kAuthorizedPrincipalsCommandUser, Op::kHostKeyAgent,
        Op::kKexAlgorithms, Op::kCaSignatureAlgorithms, Op::kHostbasedAcceptedAlgorithms,
        Op::kHostKeyAlgorithms, Op::kPubkeyAcceptedAlgorithms, Op::kLogLevel}) {
    line(op);
  }
  out.push_back("syslogfacility " + *o.log_facility);
  auto arr = [&](Op op) -> const std::vector<std::string>& {
    static const std::vector<std::string> kEmpty;
    auto it = o.a.find(op);
    return it == o.a.end() ? kEmpty : it->second;
  };
  auto oneline = [&](Op op) {
    const auto& v = arr(op);
    if (v.empty() && op != Op::kAuthenticationMethods) return;
    std::string l = OpName(op);
    for (const auto& x : v) l += " " + x;
    if (op == Op::kAuthenticationMethods && v.empty()) l += " any";
    out.push_back(l);
  };
  auto multi = [&](Op op, const std::vector<std::string>& v) {
    for (const auto& x : v) out.push_back(std::string(OpName(op)) + " " + x);
  };
  oneline(Op::kAuthorizedKeysFile);
  std::vector<std::string> keys = o.host_keys;
  if (keys.empty()) keys = {build->host_keys[0], build->host_keys[1], build->host_keys[2]};
  std::vector<std::string> shown;
  for (const auto& k : keys) shown.push_back(EqualsNoCase(k, "none") ? "none" : k);
  multi(Op::kHostKey, shown);
  multi(Op::kHostCertificate, o.host_certs);
  for (Op op : {Op::kAllowUsers, Op::kDenyUsers, Op::kAllowGroups, Op::kDenyGroups, Op::kAcceptEnv,
                Op::kSetEnv}) {
    multi(op, arr(op));
  }
  oneline(Op::kAuthenticationMethods);
  oneline(Op::kLogVerbose);
  oneline(Op::kChannelTimeout);
  for (const auto& [name, args] : o.subsystems) out.push_back("subsystem " + name + " " + args);
  out.push_back("maxstartups " + std::to_string(o.ms_begin) + ":" + std::to_string(o.ms_rate) +
                ":" + std::to_string(o.ms_max));
  out.push_back("persourcemaxstartups " + (*o.per_source_max == INT_MAX
                                               ? std::string("none")
                                               : std::to_string(*o.per_source_max)));
  out.push_back("persourcenetblocksize " + std::to_string(o.netblock->first) + ":" +
                std::to_string(o.netblock->second));
  line(Op::kPermitTunnel);
  out.push_back("ipqos " + IpQosName(*o.ipqos_interactive) + " " + IpQosName(*o.ipqos_bulk));
  out.push_back("rekeylimit " + std::to_string(static_cast<unsigned long long>(*o.rekey_limit)) +
                " " + std::to_string(*o.rekey_interval));
  for (Op op : {Op::kPermitOpen, Op::kPermitListen}) {
    std::string l = OpName(op);
    if (arr(op).empty()) l += " any";
    for (const auto& x : arr(op)) l += " " + x;
    out.push_back(l);
  }
  if (o.permit_user_env_allowlist) {
    out.push_back("permituserenvironment " + *o.permit_user_env_allowlist);
  } else {
    out.push_back(std::string("permituserenvironment ") + (*o.permit_user_env ? "yes" : "no"));
  }
  std::string pk = "pubkeyauthoptions";
  if (*o.pubkey_auth_options == 0) pk += " none";
  if (*o.pubkey_auth_options & 1) pk += " touch-required";
  if (*o.pubkey_auth_options & 2) pk += " verify-required";
  out.push_back(pk);
  return out;
}

StatusOr<std::vector<std::string>> SshdConfig::Dump(const ConnectionSpec& spec) const {
  if (!impl_->would_start) {
    const ConfigIssue& why = impl_->issues.back();
    return Status(
        StatusCode::kInvalidArgument,
        why.path + (why.line ? " line " + std::to_string(why.line) : "") + ": " + why.message);
  }
  try {
    return impl_->Print(impl_->Evaluate(spec, false));
  } catch (const Fatal& f) {
    return Status(StatusCode::kInvalidArgument,
                  (f.issue.path.empty() ? "" : f.issue.path) +
                      (f.issue.line ? " line " + std::to_string(f.issue.line) : "") +
                      (f.issue.path.empty() ? "" : ": ") + f.issue.message);
  }
}

}  // namespace tidemark::agent::sshd
