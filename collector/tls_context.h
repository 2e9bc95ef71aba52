// The collector's TLS side (docs/protocol.md, "Transport and identity"): the server context
// (TLS 1.3 only unless tls12; client certificate required, chained to the CA, CRL when
// configured) and the agent-certificate rules OpenSSL does not enforce by itself: the extended
// key usage extension must be present and include clientAuth, and the subject must have exactly
// one commonName that is a valid host id.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>

#include "collector/config.h"
#include "common/status.h"

namespace tidemark::collector {

// Builds the server context: certificate chain and key (the key file must not be readable by
// group or others: pki::CheckPrivateKeyFile), the CA for client certificates, the CRL (when
// config.crl is set; X509_V_FLAG_CRL_CHECK on the leaf), protocol versions and ciphers.
StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerContext(
    const CollectorConfig& config);

// Checks an agent's leaf certificate beyond chain validation: EKU present with clientAuth, and
// exactly one subject CN satisfying protocol::IsValidHostId. Returns the identity (the CN), or
// kPermissionDenied with a short reason ("no clientAuth EKU", "invalid host id in CN", ...).
StatusOr<std::string> CheckAgentCertificate(X509* cert);

// Verifies the peer certificate of an established connection again against `ctx`'s trust
// store: chain to the CA, validity dates (now), the CRL when the context has one, and the
// clientAuth purpose. For TLS 1.3 resumption (which skips verification) and for live
// connections after a reload. Returns kPermissionDenied with OpenSSL's reason ("certificate
// revoked", "certificate has expired").
Status VerifyPeerCertificate(SSL* ssl, SSL_CTX* ctx);

// After a TLS 1.3 handshake that resumed a session of the context's cache (session_cache > 0):
// takes that session out of the cache. The connection has issued its own ticket, so a cached
// session is used once (RFC 8446, 8.1 and C.4) and the cache holds about one session per agent
// instead of one per connection. No effect otherwise (full handshakes, stateless tickets,
// TLS 1.2, whose session id stays the same when resumed).
void RetireResumedSession(SSL* ssl);

// The longest a TLS session ticket is valid, in seconds; a ticket is never valid beyond the
// client certificate's notAfter either.
inline constexpr long kSessionTicketLifetime = 3600;

// "sha256:" + hex SHA-256 of the certificate's DER (as pki::Fingerprint).
std::string CertFingerprint(X509* cert);

}  // namespace tidemark::collector
