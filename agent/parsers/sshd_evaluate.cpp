// Evaluating the sshd_config files for one connection (behind SshdConfig::Dump and ForUser):
// OpenSSH 9.2p1 servconf.c fill_default_server_options(), then parse_server_match_config() (the
// Match pass over the lines Load cached) and copy_set_server_options(); algorithm lists assembled
// as kex.c kex_assemble_names() does (sshd_algorithms.h).
#include <climits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/parsers/sshd_algorithms.h"
#include "agent/parsers/sshd_config.h"
#include "agent/parsers/sshd_config_internal.h"
#include "agent/parsers/sshd_keywords.h"
#include "agent/parsers/sshd_misc.h"
#include "common/text.h"

namespace tidemark::agent::sshd {

using internal::AssembleNames;
using internal::Fatal;
using internal::kMatchOnly;
using internal::Op;
using internal::OpName;
using internal::Options;

namespace {

// assemble_algorithms(): each algorithm list from the configured one, the build's default (less
// what it does not support) and all it supports; fatal, as in sshd, when a list ends up empty.
void AssembleAlgorithms(Options& x, const SshdBuild& b) {
  auto one = [&](Op op, const std::string& usable, const std::string& all) {
    std::optional<std::string> cur;
    if (x.Has(op)) cur = x.s[op];
    auto r = AssembleNames(cur, usable, all);
    if (!r) throw Fatal{{"", 0, std::string("no valid algorithms in ") + OpName(op)}};
    x.s[op] = *r;
  };
  one(Op::kCiphers, b.usable_ciphers, b.all_ciphers);
  one(Op::kMacs, b.usable_macs, b.all_macs);
  one(Op::kKexAlgorithms, b.usable_kex, b.all_kex);
  one(Op::kHostKeyAlgorithms, b.usable_keys, b.all_keys);
  one(Op::kHostbasedAcceptedAlgorithms, b.usable_keys, b.all_keys);
  one(Op::kPubkeyAcceptedAlgorithms, b.usable_keys, b.all_keys);
  one(Op::kCaSignatureAlgorithms, b.usable_sigs, b.all_sigs);
}

// fill_default_server_options(): the build's defaults for what the configuration left unset,
// the algorithm lists assembled, and "none" read as unset where sshd does.
void FillDefaultServerOptions(Options& o, const SshdBuild& b) {
  auto def = [&](Op op, const char* v) { o.s.emplace(op, v); };
  def(Op::kUsePam, "no");
  if (o.ports.empty()) o.ports.push_back(22);
  def(Op::kAddressFamily, "any");
  if (o.listens.empty()) o.listens.push_back({});
  def(Op::kPidFile, b.pid_file.c_str());
  def(Op::kModuliFile, b.moduli_file.c_str());
  def(Op::kLoginGraceTime, "120");
  def(Op::kPermitRootLogin, "without-password");
  def(Op::kIgnoreRhosts, "yes");
  def(Op::kIgnoreUserKnownHosts, "no");
  def(Op::kPrintMotd, "yes");
  def(Op::kPrintLastLog, "yes");
  def(Op::kX11Forwarding, "no");
  def(Op::kX11DisplayOffset, "10");
  def(Op::kX11UseLocalhost, "yes");
  def(Op::kXAuthLocation, b.xauth_location.c_str());
  def(Op::kPermitTty, "yes");
  def(Op::kPermitUserRc, "yes");
  def(Op::kStrictModes, "yes");
  def(Op::kTcpKeepAlive, "yes");
  if (!o.log_facility) o.log_facility = "AUTH";
  def(Op::kLogLevel, "INFO");
  def(Op::kHostbasedAuthentication, "no");
  def(Op::kHostbasedUsesNameFromPacketOnly, "no");
  def(Op::kPubkeyAuthentication, "yes");
  if (!o.pubkey_auth_options) o.pubkey_auth_options = 0;
  def(Op::kKerberosAuthentication, "no");
  def(Op::kKerberosOrLocalPasswd, "yes");
  def(Op::kKerberosTicketCleanup, "yes");
  def(Op::kGssAuthentication, "no");
  def(Op::kGssKeyEx, "no");
  def(Op::kGssCleanupCreds, "yes");
  def(Op::kGssStrictAcceptor, "yes");
  def(Op::kGssStoreRekey, "no");
  def(Op::kGssKexAlgorithms, b.gss_kex.c_str());
  def(Op::kPasswordAuthentication, "yes");
  def(Op::kKbdInteractive, "yes");
  def(Op::kEmptyPasswd, "no");
  if (!o.permit_user_env) o.permit_user_env = 0;
  def(Op::kCompression, "yes");
  if (!o.rekey_limit) o.rekey_limit = 0;
  if (!o.rekey_interval) o.rekey_interval = 0;
  def(Op::kAllowTcpForwarding, "yes");
  def(Op::kAllowStreamLocalForwarding, "yes");
  def(Op::kAllowAgentForwarding, "yes");
  def(Op::kGatewayPorts, "no");
  if (o.ms_max == -1) o.ms_max = 100;
  if (o.ms_rate == -1) o.ms_rate = 30;
  if (o.ms_begin == -1) o.ms_begin = 10;
  if (!o.per_source_max) o.per_source_max = INT_MAX;
  if (!o.netblock) o.netblock = std::make_pair(32, 128);
  def(Op::kMaxAuthTries, "6");
  def(Op::kMaxSessions, "10");
  def(Op::kUseDns, "no");
  def(Op::kClientAliveInterval, "0");
  def(Op::kClientAliveCountMax, "3");
  if (o.a[Op::kAuthorizedKeysFile].empty()) {
    o.a[Op::kAuthorizedKeysFile] = {".ssh/authorized_keys", ".ssh/authorized_keys2"};
  }
  def(Op::kPermitTunnel, "no");
  if (!o.ipqos_interactive) o.ipqos_interactive = 0x10;
  if (!o.ipqos_bulk) o.ipqos_bulk = 0x08;
  def(Op::kVersionAddendum, "");
  if (!o.bind_mask) o.bind_mask = 0177;
  def(Op::kStreamLocalBindUnlink, "no");
  if (!o.fingerprint) o.fingerprint = "SHA256";
  def(Op::kDisableForwarding, "no");
  def(Op::kExposeAuthInfo, "no");
  def(Op::kSecurityKeyProvider, "internal");
  def(Op::kRequiredRsaSize, "1024");
  def(Op::kUnusedConnectionTimeout, "0");
  def(Op::kDebianBanner, "yes");
  AssembleAlgorithms(o, b);
  for (Op op : {Op::kPidFile, Op::kXAuthLocation, Op::kBanner, Op::kTrustedUserCaKeys,
                Op::kRevokedKeys, Op::kSecurityKeyProvider, Op::kAuthorizedPrincipalsFile,
                Op::kForceCommand, Op::kChrootDirectory, Op::kHostKeyAgent}) {
    if (o.Has(op) && EqualsNoCase(o.s[op], "none")) o.s.erase(op);
  }
  for (Op op : {Op::kAuthenticationMethods, Op::kChannelTimeout}) {
    auto& v = o.a[op];
    if (v.size() == 1 && EqualsNoCase(v[0], op == Op::kChannelTimeout ? "none" : "any")) {
      v.clear();
    }
  }
}

// copy_set_server_options(): what the Match pass (`mo`) set replaces the value in `o`; then the
// lists are assembled again and a Match's "none" clears ForceCommand and ChrootDirectory.
void CopySetServerOptions(Options& o, Options& mo, const SshdBuild& b) {
  for (Op op : {Op::kPasswordAuthentication,
                Op::kGssAuthentication,
                Op::kPubkeyAuthentication,
                Op::kKerberosAuthentication,
                Op::kHostbasedAuthentication,
                Op::kHostbasedUsesNameFromPacketOnly,
                Op::kKbdInteractive,
                Op::kPermitRootLogin,
                Op::kEmptyPasswd,
                Op::kIgnoreRhosts,
                Op::kAllowTcpForwarding,
                Op::kAllowStreamLocalForwarding,
                Op::kAllowAgentForwarding,
                Op::kDisableForwarding,
                Op::kExposeAuthInfo,
                Op::kPermitTunnel,
                Op::kGatewayPorts,
                Op::kStreamLocalBindUnlink,
                Op::kX11DisplayOffset,
                Op::kX11Forwarding,
                Op::kX11UseLocalhost,
                Op::kPermitTty,
                Op::kPermitUserRc,
                Op::kMaxSessions,
                Op::kMaxAuthTries,
                Op::kClientAliveCountMax,
                Op::kClientAliveInterval,
                Op::kLogLevel,
                Op::kRequiredRsaSize,
                Op::kUnusedConnectionTimeout,
                Op::kBanner,
                Op::kTrustedUserCaKeys,
                Op::kRevokedKeys,
                Op::kAuthorizedKeysCommand,
                Op::kAuthorizedKeysCommandUser,
                Op::kAuthorizedPrincipalsFile,
                Op::kAuthorizedPrincipalsCommand,
                Op::kAuthorizedPrincipalsCommandUser,
                Op::kHostbasedAcceptedAlgorithms,
                Op::kPubkeyAcceptedAlgorithms,
                Op::kCaSignatureAlgorithms,
                Op::kForceCommand,
                Op::kChrootDirectory}) {
    if (mo.Has(op)) o.s[op] = mo.s[op];
  }
  if (mo.pubkey_auth_options) o.pubkey_auth_options = mo.pubkey_auth_options;
  if (mo.ipqos_interactive) o.ipqos_interactive = mo.ipqos_interactive;
  if (mo.ipqos_bulk) o.ipqos_bulk = mo.ipqos_bulk;
  if (mo.rekey_limit) o.rekey_limit = mo.rekey_limit;
  if (mo.rekey_interval) o.rekey_interval = mo.rekey_interval;
  if (mo.bind_mask) o.bind_mask = mo.bind_mask;
  if (mo.permit_user_env_allowlist) o.permit_user_env_allowlist = mo.permit_user_env_allowlist;
  for (Op op : {Op::kAuthorizedKeysFile, Op::kAllowUsers, Op::kDenyUsers, Op::kAllowGroups,
                Op::kDenyGroups, Op::kAcceptEnv, Op::kSetEnv, Op::kAuthenticationMethods,
                Op::kPermitOpen, Op::kPermitListen, Op::kChannelTimeout, Op::kLogVerbose}) {
    if (!mo.a[op].empty()) o.a[op] = mo.a[op];
  }
  AssembleAlgorithms(o, b);
  for (Op op : {Op::kForceCommand, Op::kChrootDirectory}) {
    if (o.Has(op) && EqualsNoCase(o.s[op], "none")) o.s.erase(op);
  }
}

}  // namespace

Options SshdConfig::Impl::Evaluate(const ConnectionSpec& spec, bool optimistic) const {
  // fill_default_server_options() on the first pass, then parse_server_match_config():
  // the Match pass into fresh options, copied over what it set (copy_set_server_options()).
  Options o = first_pass;
  FillDefaultServerOptions(o, *build);
  // The Match pass.
  Options mo;
  auto* self = const_cast<Impl*>(this);
  Pass p{&mo, &spec};
  p.optimistic = optimistic;
  bool active = false;
  std::vector<ConfigIssue> saved = self->issues;
  self->ParseFile(p, 0, kMatchOnly, &active, 0);
  self->issues = std::move(saved);
  CopySetServerOptions(o, mo, *build);
  return o;
}

UserKeySettings SshdConfig::ForUser(const std::string& user) const {
  UserKeySettings out;
  auto extract = [&](const Options& o, UserKeySettings& s) {
    auto it = o.a.find(Op::kAuthorizedKeysFile);
    if (it != o.a.end()) s.files = it->second;
    auto c = o.s.find(Op::kAuthorizedKeysCommand);
    s.command = c == o.s.end() ? "none" : c->second;
  };
  if (!impl_->would_start) {
    out.files = {".ssh/authorized_keys", ".ssh/authorized_keys2"};
    out.command = "none";
    return out;
  }
  ConnectionSpec spec;
  spec.user = user;
  spec.lport = -1;
  try {
    if (impl_->key_blocks.empty()) {
      if (!impl_->global_keys) {
        UserKeySettings g;
        extract(impl_->Evaluate(spec, false), g);
        impl_->global_keys = g;
      }
      return *impl_->global_keys;
    }
    std::string signature;
    {
      std::vector<ConfigIssue> saved = impl_->issues;
      for (const MatchBlock& b : impl_->blocks) {
        for (bool optimistic : {false, true}) {
          Impl::Pass p{nullptr, &spec};
          p.optimistic = optimistic;
          signature += static_cast<char>('1' + impl_->MatchLine(p, b.criteria, b.file, b.line));
        }
      }
      impl_->issues = std::move(saved);
    }
    if (auto it = impl_->user_cache.find(signature); it != impl_->user_cache.end()) {
      return it->second;
    }
    Options exact = impl_->Evaluate(spec, false);
    extract(exact, out);
    // Would a connection-dependent Match change them? Evaluate with unknown attributes
    // matching: a different result means it depends on host/address/port/rdomain.
    Options maybe = impl_->Evaluate(spec, true);
    UserKeySettings alt;
    extract(maybe, alt);
    if (alt.files != out.files || alt.command != out.command) {
      for (size_t i : impl_->key_blocks) {
        const MatchBlock& b = impl_->blocks[i];
        out.undecided.push_back(b.file + ":" + std::to_string(b.line));
      }
    }
    impl_->user_cache[signature] = out;
  } catch (const Fatal&) {
    out.files = {".ssh/authorized_keys", ".ssh/authorized_keys2"};
    out.command = "none";
  }
  return out;
}

}  // namespace tidemark::agent::sshd
