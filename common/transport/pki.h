// A small PKI on the OpenSSL 3 API: a CA, server and agent (client) certificates with the right
// extended key usages, CRLs, fingerprints and the identity (CN) of a certificate; and the check
// that a private key file is not readable by others. Used by `tidemarkctl pki` (the throwaway
// CA of the README's main command) and by the test fixtures. Keys are ECDSA P-256.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::pki {

// The key exchange groups the collector accepts and the agent offers (SSL_CTX_set1_groups_list).
// Not OpenSSL 3.0's default list, which ends in the finite-field groups ffdhe2048-ffdhe8192: a
// peer that offered only ffdhe8192 (its key share may be any bytes of the right length) made the
// collector spend about 144 ms of CPU on one handshake before any certificate was checked, against
// well under a millisecond for X25519, so a few handshakes a second kept a core busy.
inline constexpr const char* kTlsGroups = "X25519:P-256:P-384";

// TLS 1.3 KeyUpdate messages either end accepts from the other on one connection (neither
// sends any): OpenSSL handles any number, each a key derivation, without application data.
inline constexpr int kMaxKeyUpdates = 64;
// True when a message that SSL_set_msg_callback reports as received (`write_p` 0) is a
// KeyUpdate.
bool IsReceivedKeyUpdate(int write_p, int content_type, const void* buf, size_t len);

// A private key and its certificate, both PEM.
struct KeyPair {
  std::string key_pem;
  std::string cert_pem;
};

enum class Role {
  kCa,      // basicConstraints CA:TRUE, keyUsage keyCertSign + cRLSign
  kServer,  // EKU serverAuth; SANs from dns_names / ip_addresses (each checked: Issue refuses
            // a DNS name that is not IsValidDnsName and an IP that is not IsIpAddress)
  kClient,  // EKU clientAuth (an agent: CN = host id)
};

struct CertRequest {
  std::string common_name;
  Role role = Role::kClient;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries ("127.0.0.1", "::1")
  // Validity in seconds since the epoch; 0 = now - 5 minutes / not_before + `days`.
  int64_t not_before = 0;
  int64_t not_after = 0;
  int days = 397;
  bool omit_eku = false;  // for tests: a leaf without any extended key usage
};

// Makes a self-signed CA.
StatusOr<KeyPair> MakeCa(std::string_view common_name, int days);
// Issues a certificate signed by `ca` (a fresh key; random 128-bit serial).
StatusOr<KeyPair> Issue(const KeyPair& ca, const CertRequest& request);
// A CRL signed by `ca` revoking the given certificates, valid for `days`.
StatusOr<std::string> MakeCrl(const KeyPair& ca, const std::vector<std::string>& revoked_cert_pems,
                              int days);

// "sha256:" + lowercase hex of SHA-256 over the certificate's DER encoding.
StatusOr<std::string> Fingerprint(std::string_view cert_pem);
// The same of a parsed certificate; "" when the digest cannot be computed.
std::string FingerprintOf(X509* cert);
// The subject's one commonName, as UTF-8; kInvalidArgument when there is none, more than one, or
// one that holds a NUL byte (a name that C code would read as shorter). The collector takes an
// agent's identity from it (collector/tls_context.cpp, CheckAgentCertificate).
StatusOr<std::string> CommonName(std::string_view cert_pem);
StatusOr<std::string> CommonNameOf(X509* cert);

// What a certificate says about itself, for checks before it is used.
struct CertInfo {
  std::string common_name;                // "" when there is none
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, in inet_ntop form
  bool has_eku = false;                   // an extendedKeyUsage extension is present
  bool client_auth = false;               // EKU clientAuth
  bool server_auth = false;               // EKU serverAuth
};
// Parses `cert_pem`; kInvalidArgument when it is not a PEM certificate.
StatusOr<CertInfo> Inspect(std::string_view cert_pem);

// Returns whether `key_pem` is the private key of `cert_pem`; kInvalidArgument when the key is
// not a PEM private key or the certificate not a PEM certificate (never quoting either).
StatusOr<bool> KeyMatchesCertificate(std::string_view key_pem, std::string_view cert_pem);

// Returns whether `name` is a DNS name a certificate may carry (RFC 1123 host name: labels of
// 1 to 63 letters, digits and '-', not starting or ending with '-', at most 253 in all; a
// leading "*." wildcard is not accepted).
bool IsValidDnsName(std::string_view name);
// Returns whether `name` is an IPv4 or IPv6 address (inet_pton).
bool IsIpAddress(std::string_view name);

// Refuses a private key file that is not a regular file (symlinks are not followed) or that
// group or others may read or write: kPermissionDenied naming the path and its mode.
Status CheckPrivateKeyFile(const std::string& path);

// Writes PEM text atomically with `mode` (0600 for keys, 0644 for certificates and CRLs).
Status WritePem(const std::string& path, std::string_view pem, unsigned mode);

}  // namespace tidemark::pki
