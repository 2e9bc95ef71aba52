// The sshd_config keywords (internal to the sshd_config files). Source of truth: OpenSSH 9.2p1
// servconf.c enum ServerOpCodes, keywords[] and lookup_opcode_name(), as Debian 12 builds them.
#pragma once

#include <string_view>

namespace tidemark::agent::sshd::internal {

enum class Op {
  kBad,
  kUsePam,
  kPort,
  kHostKey,
  kLoginGraceTime,
  kPermitRootLogin,
  kLogFacility,
  kLogLevel,
  kLogVerbose,
  kKerberosAuthentication,
  kKerberosOrLocalPasswd,
  kKerberosTicketCleanup,
  kPasswordAuthentication,
  kKbdInteractive,
  kListenAddress,
  kAddressFamily,
  kPrintMotd,
  kPrintLastLog,
  kIgnoreRhosts,
  kX11Forwarding,
  kX11DisplayOffset,
  kX11UseLocalhost,
  kPermitTty,
  kStrictModes,
  kEmptyPasswd,
  kTcpKeepAlive,
  kPermitUserEnvironment,
  kAllowTcpForwarding,
  kCompression,
  kRekeyLimit,
  kAllowUsers,
  kDenyUsers,
  kAllowGroups,
  kDenyGroups,
  kIgnoreUserKnownHosts,
  kCiphers,
  kMacs,
  kPidFile,
  kModuliFile,
  kGatewayPorts,
  kPubkeyAuthentication,
  kPubkeyAcceptedAlgorithms,
  kXAuthLocation,
  kSubsystem,
  kMaxStartups,
  kMaxAuthTries,
  kMaxSessions,
  kBanner,
  kUseDns,
  kHostbasedAuthentication,
  kHostbasedUsesNameFromPacketOnly,
  kHostbasedAcceptedAlgorithms,
  kHostKeyAlgorithms,
  kPerSourceMaxStartups,
  kPerSourceNetBlockSize,
  kClientAliveInterval,
  kClientAliveCountMax,
  kAuthorizedKeysFile,
  kGssAuthentication,
  kGssCleanupCreds,
  kGssStrictAcceptor,
  kGssKeyEx,
  kGssKexAlgorithms,
  kGssStoreRekey,
  kAcceptEnv,
  kSetEnv,
  kPermitTunnel,
  kMatch,
  kPermitOpen,
  kPermitListen,
  kForceCommand,
  kChrootDirectory,
  kAllowAgentForwarding,
  kHostCertificate,
  kInclude,
  kRevokedKeys,
  kTrustedUserCaKeys,
  kAuthorizedPrincipalsFile,
  kAuthorizedPrincipalsCommand,
  kAuthorizedPrincipalsCommandUser,
  kKexAlgorithms,
  kCaSignatureAlgorithms,
  kIpQos,
  kVersionAddendum,
  kAuthorizedKeysCommand,
  kAuthorizedKeysCommandUser,
  kAuthenticationMethods,
  kHostKeyAgent,
  kPermitUserRc,
  kStreamLocalBindMask,
  kStreamLocalBindUnlink,
  kAllowStreamLocalForwarding,
  kFingerprintHash,
  kDisableForwarding,
  kExposeAuthInfo,
  kRDomain,
  kPubkeyAuthOptions,
  kSecurityKeyProvider,
  kRequiredRsaSize,
  kChannelTimeout,
  kUnusedConnectionTimeout,
  kDebianBanner,
  kDeprecated,
  kIgnore,
  kUnsupported
};

constexpr unsigned kGlobal = 1, kMatchOk = 2, kAll = 3;
constexpr unsigned kNeverMatch = 4, kMatchOnly = 8;  // include flags

struct Keyword {
  const char* name;
  Op op;
  unsigned flags;
};

// Returns the keyword `name` (any case), or nullptr if sshd knows no such keyword.
const Keyword* FindKeyword(std::string_view name);
// Returns the name `sshd -T` prints for `op`: its first keyword in the table.
const char* OpName(Op op);

}  // namespace tidemark::agent::sshd::internal
