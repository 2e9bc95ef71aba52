// The sshd_config keywords (sshd_keywords.h). Source of truth: OpenSSH 9.2p1 servconf.c
// keywords[] and lookup_opcode_name(), with Debian 12's build options and patches.
#include "agent/parsers/sshd_keywords.h"

#include <string_view>
#include <unordered_map>

#include "agent/parsers/sshd_misc.h"

namespace tidemark::agent::sshd::internal {
namespace {

// servconf.c keywords[]: the table order decides the name `sshd -T` prints for an
// opcode (the first keyword with that opcode, lookup_opcode_name()).
// Debian 12's build: USE_PAM, KRB5 without AFS, GSSAPI (Debian gssapi.patch), lastlog on,
// DebianBanner (debian-banner.patch).
constexpr Keyword kKeywords[] = {
    {"usepam", Op::kUsePam, kGlobal},
    {"pamauthenticationviakbdint", Op::kDeprecated, kGlobal},
    {"port", Op::kPort, kGlobal},
    {"hostkey", Op::kHostKey, kGlobal},
    {"hostdsakey", Op::kHostKey, kGlobal},
    {"hostkeyagent", Op::kHostKeyAgent, kGlobal},
    {"pidfile", Op::kPidFile, kGlobal},
    {"modulifile", Op::kModuliFile, kGlobal},
    {"serverkeybits", Op::kDeprecated, kGlobal},
    {"logingracetime", Op::kLoginGraceTime, kGlobal},
    {"keyregenerationinterval", Op::kDeprecated, kGlobal},
    {"permitrootlogin", Op::kPermitRootLogin, kAll},
    {"syslogfacility", Op::kLogFacility, kGlobal},
    {"loglevel", Op::kLogLevel, kAll},
    {"logverbose", Op::kLogVerbose, kAll},
    {"rhostsauthentication", Op::kDeprecated, kGlobal},
    {"rhostsrsaauthentication", Op::kDeprecated, kAll},
    {"hostbasedauthentication", Op::kHostbasedAuthentication, kAll},
    {"hostbasedusesnamefrompacketonly", Op::kHostbasedUsesNameFromPacketOnly, kAll},
    {"hostbasedacceptedalgorithms", Op::kHostbasedAcceptedAlgorithms, kAll},
    {"hostbasedacceptedkeytypes", Op::kHostbasedAcceptedAlgorithms, kAll},
    {"hostkeyalgorithms", Op::kHostKeyAlgorithms, kGlobal},
    {"rsaauthentication", Op::kDeprecated, kAll},
    {"pubkeyauthentication", Op::kPubkeyAuthentication, kAll},
    {"pubkeyacceptedalgorithms", Op::kPubkeyAcceptedAlgorithms, kAll},
    {"pubkeyacceptedkeytypes", Op::kPubkeyAcceptedAlgorithms, kAll},
    {"pubkeyauthoptions", Op::kPubkeyAuthOptions, kAll},
    {"dsaauthentication", Op::kPubkeyAuthentication, kGlobal},
    {"kerberosauthentication", Op::kKerberosAuthentication, kAll},
    {"kerberosorlocalpasswd", Op::kKerberosOrLocalPasswd, kGlobal},
    {"kerberosticketcleanup", Op::kKerberosTicketCleanup, kGlobal},
    {"kerberosgetafstoken", Op::kUnsupported, kGlobal},
    {"kerberostgtpassing", Op::kUnsupported, kGlobal},
    {"afstokenpassing", Op::kUnsupported, kGlobal},
    {"gssapiauthentication", Op::kGssAuthentication, kAll},
    {"gssapicleanupcredentials", Op::kGssCleanupCreds, kGlobal},
    {"gssapicleanupcreds", Op::kGssCleanupCreds, kGlobal},
    {"gssapistrictacceptorcheck", Op::kGssStrictAcceptor, kGlobal},
    {"gssapikeyexchange", Op::kGssKeyEx, kGlobal},
    {"gssapistorecredentialsonrekey", Op::kGssStoreRekey, kGlobal},
    {"gssapikexalgorithms", Op::kGssKexAlgorithms, kGlobal},
    {"gssusesessionccache", Op::kUnsupported, kGlobal},
    {"gssapiusesessioncredcache", Op::kUnsupported, kGlobal},
    {"passwordauthentication", Op::kPasswordAuthentication, kAll},
    {"kbdinteractiveauthentication", Op::kKbdInteractive, kAll},
    {"challengeresponseauthentication", Op::kKbdInteractive, kAll},
    {"skeyauthentication", Op::kKbdInteractive, kAll},
    {"checkmail", Op::kDeprecated, kGlobal},
    {"listenaddress", Op::kListenAddress, kGlobal},
    {"addressfamily", Op::kAddressFamily, kGlobal},
    {"printmotd", Op::kPrintMotd, kGlobal},
    {"printlastlog", Op::kPrintLastLog, kGlobal},
    {"ignorerhosts", Op::kIgnoreRhosts, kAll},
    {"ignoreuserknownhosts", Op::kIgnoreUserKnownHosts, kGlobal},
    {"x11forwarding", Op::kX11Forwarding, kAll},
    {"x11displayoffset", Op::kX11DisplayOffset, kAll},
    {"x11uselocalhost", Op::kX11UseLocalhost, kAll},
    {"xauthlocation", Op::kXAuthLocation, kGlobal},
    {"strictmodes", Op::kStrictModes, kGlobal},
    {"permitblacklistedkeys", Op::kDeprecated, kGlobal},
    {"permitemptypasswords", Op::kEmptyPasswd, kAll},
    {"permituserenvironment", Op::kPermitUserEnvironment, kGlobal},
    {"uselogin", Op::kDeprecated, kGlobal},
    {"compression", Op::kCompression, kGlobal},
    {"rekeylimit", Op::kRekeyLimit, kAll},
    {"tcpkeepalive", Op::kTcpKeepAlive, kGlobal},
    {"keepalive", Op::kTcpKeepAlive, kGlobal},
    {"allowtcpforwarding", Op::kAllowTcpForwarding, kAll},
    {"allowagentforwarding", Op::kAllowAgentForwarding, kAll},
    {"allowusers", Op::kAllowUsers, kAll},
    {"denyusers", Op::kDenyUsers, kAll},
    {"allowgroups", Op::kAllowGroups, kAll},
    {"denygroups", Op::kDenyGroups, kAll},
    {"ciphers", Op::kCiphers, kGlobal},
    {"macs", Op::kMacs, kGlobal},
    {"protocol", Op::kIgnore, kGlobal},
    {"gatewayports", Op::kGatewayPorts, kAll},
    {"subsystem", Op::kSubsystem, kGlobal},
    {"maxstartups", Op::kMaxStartups, kGlobal},
    {"persourcemaxstartups", Op::kPerSourceMaxStartups, kGlobal},
    {"persourcenetblocksize", Op::kPerSourceNetBlockSize, kGlobal},
    {"maxauthtries", Op::kMaxAuthTries, kAll},
    {"maxsessions", Op::kMaxSessions, kAll},
    {"banner", Op::kBanner, kAll},
    {"usedns", Op::kUseDns, kGlobal},
    {"verifyreversemapping", Op::kDeprecated, kGlobal},
    {"reversemappingcheck", Op::kDeprecated, kGlobal},
    {"clientaliveinterval", Op::kClientAliveInterval, kAll},
    {"clientalivecountmax", Op::kClientAliveCountMax, kAll},
    {"authorizedkeysfile", Op::kAuthorizedKeysFile, kAll},
    {"authorizedkeysfile2", Op::kDeprecated, kAll},
    {"useprivilegeseparation", Op::kDeprecated, kGlobal},
    {"acceptenv", Op::kAcceptEnv, kAll},
    {"setenv", Op::kSetEnv, kAll},
    {"permittunnel", Op::kPermitTunnel, kAll},
    {"permittty", Op::kPermitTty, kAll},
    {"permituserrc", Op::kPermitUserRc, kAll},
    {"match", Op::kMatch, kAll},
    {"permitopen", Op::kPermitOpen, kAll},
    {"permitlisten", Op::kPermitListen, kAll},
    {"forcecommand", Op::kForceCommand, kAll},
    {"chrootdirectory", Op::kChrootDirectory, kAll},
    {"hostcertificate", Op::kHostCertificate, kGlobal},
    {"revokedkeys", Op::kRevokedKeys, kAll},
    {"trustedusercakeys", Op::kTrustedUserCaKeys, kAll},
    {"authorizedprincipalsfile", Op::kAuthorizedPrincipalsFile, kAll},
    {"kexalgorithms", Op::kKexAlgorithms, kGlobal},
    {"include", Op::kInclude, kAll},
    {"ipqos", Op::kIpQos, kAll},
    {"authorizedkeyscommand", Op::kAuthorizedKeysCommand, kAll},
    {"authorizedkeyscommanduser", Op::kAuthorizedKeysCommandUser, kAll},
    {"authorizedprincipalscommand", Op::kAuthorizedPrincipalsCommand, kAll},
    {"authorizedprincipalscommanduser", Op::kAuthorizedPrincipalsCommandUser, kAll},
    {"versionaddendum", Op::kVersionAddendum, kGlobal},
    {"authenticationmethods", Op::kAuthenticationMethods, kAll},
    {"streamlocalbindmask", Op::kStreamLocalBindMask, kAll},
    {"streamlocalbindunlink", Op::kStreamLocalBindUnlink, kAll},
    {"allowstreamlocalforwarding", Op::kAllowStreamLocalForwarding, kAll},
    {"fingerprinthash", Op::kFingerprintHash, kGlobal},
    {"disableforwarding", Op::kDisableForwarding, kAll},
    {"exposeauthinfo", Op::kExposeAuthInfo, kAll},
    {"rdomain", Op::kRDomain, kAll},
    {"casignaturealgorithms", Op::kCaSignatureAlgorithms, kAll},
    {"securitykeyprovider", Op::kSecurityKeyProvider, kGlobal},
    {"requiredrsasize", Op::kRequiredRsaSize, kAll},
    {"channeltimeout", Op::kChannelTimeout, kAll},
    {"unusedconnectiontimeout", Op::kUnusedConnectionTimeout, kAll},
    {"debianbanner", Op::kDebianBanner, kGlobal},
};

}  // namespace

const Keyword* FindKeyword(std::string_view name) {
  // The table by name, built once (the table's names are lower case; the first of equal names
  // wins, as a scan would). Every configuration line looks its keyword up: a scan of the table
  // with a case-insensitive compare was two fifths of loading a configuration (perf, the
  // sshd_config fuzz target's corpus).
  static const auto* const by_name = [] {
    auto* map = new std::unordered_map<std::string_view, const Keyword*>();
    for (const auto& k : kKeywords) map->emplace(k.name, &k);
    return map;
  }();
  char lower[64];
  if (name.size() > sizeof lower) return nullptr;  // longer than any keyword
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  auto it = by_name->find(std::string_view(lower, name.size()));
  return it == by_name->end() ? nullptr : it->second;
}

const char* OpName(Op op) {
  // The first keyword of each opcode, built once.
  static const auto* const by_op = [] {
    auto* map = new std::unordered_map<Op, const char*>();
    for (const auto& k : kKeywords) map->emplace(k.op, k.name);
    return map;
  }();
  auto it = by_op->find(op);
  return it == by_op->end() ? "UNKNOWN" : it->second;
}

}  // namespace tidemark::agent::sshd::internal
