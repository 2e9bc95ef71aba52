// tls_context.h: the collector's OpenSSL server context and agent certificate checks.
#include "collector/tls_context.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "common/read_file.h"
#include "common/transport/openssl_ptr.h"
#include "common/transport/pki.h"
#include "common/transport/protocol.h"

namespace tidemark::collector {
namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// The CRL is read again on every SIGHUP: only a regular file, bounded, so that a FIFO in its
// place cannot stall the reload (OpenSSL's BIO_new_file would wait for a writer).
Status LoadCrl(X509_STORE* store, const std::string& path) {
  StatusOr<std::string> text = ReadRegularFile(path, kMaxPemFileBytes);
  if (!text.ok()) return {text.status().code(), "crl " + text.status().message()};
  openssl::BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  if (bio == nullptr) {
    ERR_clear_error();
    return {StatusCode::kInternal, "crl " + path + ": out of memory"};
  }
  int count = 0;
  for (;;) {
    openssl::CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (crl == nullptr) break;
    if (X509_STORE_add_crl(store, crl.get()) != 1) {  // takes a reference of its own
      return {StatusCode::kInvalidArgument, "crl " + path + ": " + OpenSslError()};
    }
    ++count;
  }
  ERR_clear_error();  // the end of the file
  if (count == 0) return {StatusCode::kInvalidArgument, "crl " + path + ": no PEM CRL in it"};
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  return Status::Ok();
}

// Bounds each new session ticket by the client certificate's remaining lifetime: a resumed
// session must not outlive the certificate it was made with (OpenSSL calls this just before it
// encrypts the session into the ticket).
int BoundTicketLifetime(SSL* ssl, void* /*arg*/) {
  SSL_SESSION* session = SSL_get_session(ssl);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (session == nullptr || cert == nullptr) return 1;
  int days = 0, seconds = 0;
  if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert)) != 1) return 1;
  long left = static_cast<long>(days) * 86400 + seconds;
  long lifetime = std::min(SSL_SESSION_get_timeout(session), kSessionTicketLifetime);
  SSL_SESSION_set_timeout(session, std::max(1L, std::min(lifetime, left)));
  return 1;
}

// The PSK identity a TLS 1.3 client offers (RFC 8446, 4.2.11), kept in the SSL's ex_data
// until the handshake is done: with stateful tickets it is the id of the cached session.
int OfferedSessionIndex() {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { OPENSSL_free(ptr); });
  return index;
}

struct OfferedSession {
  unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
};

// ClientHello callback: notes the client's one offered session id (a client offering several
// keeps them all).
int NoteOfferedSession(SSL* ssl, int* /*alert*/, void* /*arg*/) {
  OPENSSL_free(SSL_get_ex_data(ssl, OfferedSessionIndex()));  // a second ClientHello (HRR)
  SSL_set_ex_data(ssl, OfferedSessionIndex(), nullptr);
  const unsigned char* ext = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &ext, &len) != 1 || len < 4) return 1;
  // identities<7..2^16-1>: one PskIdentity = identity<1..2^16-1> + uint32 obfuscated age.
  size_t identities = (size_t{ext[0]} << 8) | ext[1];
  size_t id_len = (size_t{ext[2]} << 8) | ext[3];
  if (id_len != SSL_MAX_SSL_SESSION_ID_LENGTH || identities != 2 + id_len + 4 ||
      len < 2 + identities) {
    return 1;
  }
  auto* offered = static_cast<OfferedSession*>(OPENSSL_malloc(sizeof(OfferedSession)));
  if (offered == nullptr) return 1;
  std::copy(ext + 4, ext + 4 + id_len, offered->id);
  SSL_set_ex_data(ssl, OfferedSessionIndex(), offered);
  return 1;
}

}  // namespace

void RetireResumedSession(SSL* ssl) {
  auto* offered = static_cast<OfferedSession*>(SSL_get_ex_data(ssl, OfferedSessionIndex()));
  if (offered == nullptr || SSL_session_reused(ssl) != 1 || SSL_version(ssl) != TLS1_3_VERSION) {
    return;
  }
  // The cache compares protocol version and id: a key with both finds the cached session.
  std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> key(SSL_SESSION_new(),
                                                                &SSL_SESSION_free);
  if (key != nullptr && SSL_SESSION_set1_id(key.get(), offered->id, sizeof(offered->id)) == 1 &&
      SSL_SESSION_set_protocol_version(key.get(), TLS1_3_VERSION) == 1) {
    SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), key.get());
  }
  ERR_clear_error();
}

Status VerifyPeerCertificate(SSL* ssl, SSL_CTX* ctx) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return Status(StatusCode::kPermissionDenied, "no client certificate");
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> x(X509_STORE_CTX_new(),
                                                                    &X509_STORE_CTX_free);
  if (x == nullptr || X509_STORE_CTX_init(x.get(), SSL_CTX_get_cert_store(ctx), cert,
                                          SSL_get_peer_cert_chain(ssl)) != 1) {
    return Status(StatusCode::kInternal, "certificate check: " + OpenSslError());
  }
  X509_STORE_CTX_set_default(x.get(), "ssl_client");
  X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(x.get()), 4);
  int ok = X509_verify_cert(x.get());
  ERR_clear_error();
  if (ok == 1) return Status::Ok();
  return Status(StatusCode::kPermissionDenied,
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(x.get())));
}

namespace {

// OpenSSL fills some of what verification needs at the first use of a certificate or CRL, in
// objects that every session shares: a certificate's extensions and key identifiers (under the
// certificate's lock, which not every reader takes: two sessions re-checked at once after a
// reload, each on its own thread, raced on the CA's, as ThreadSanitizer reported about one run
// in five of the reload tests), and a CRL's sorted list of revoked serials (sorted at its first
// look-up, searched without the lock). Both are done here, before any other thread sees them.
void WarmUpVerification(SSL_CTX* native) {
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(native));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_OBJECT* o = sk_X509_OBJECT_value(objects, i);
    if (X509* cert = X509_OBJECT_get0_X509(o)) (void)X509_check_purpose(cert, -1, 0);
    if (X509_CRL* crl = X509_OBJECT_get0_X509_CRL(o)) {
      if (STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl)) {
        sk_X509_REVOKED_sort(revoked);
      }
    }
  }
  ERR_clear_error();
}

}  // namespace

StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerContext(
    const CollectorConfig& config) {
  namespace ssl = boost::asio::ssl;
  Status key_ok = pki::CheckPrivateKeyFile(config.key);
  if (!key_ok.ok()) return Status(key_ok.code(), "key: " + key_ok.message());
  // OpenSSL opens the certificate and the CA by name, at the start and at every SIGHUP: a FIFO
  // in their place would stall it (the key is a regular file: checked above).
  for (const auto& [what, path] :
       {std::pair<std::string, std::string>{"cert", config.cert}, {"ca", config.ca}}) {
    if (Status s = CheckRegularFile(path, kMaxPemFileBytes); !s.ok()) {
      return Status(s.code(), what + " " + s.message());
    }
  }
  auto ctx = std::make_shared<ssl::context>(config.tls12 ? ssl::context::tls_server
                                                         : ssl::context::tlsv13_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, config.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  // IGNORE_UNEXPECTED_EOF: an agent's close without close_notify is not a fatal TLS error
  // (which would drop its session from the cache); TlsStream still reports it as truncated.
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_set1_groups_list(native, pki::kTlsGroups) != 1) {
    return Status(StatusCode::kInternal, "TLS groups: " + OpenSslError());
  }
  if (config.tls12 &&
      SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return Status(StatusCode::kInternal, "TLS 1.2 cipher list: " + OpenSslError());
  }
  if (SSL_CTX_use_certificate_chain_file(native, config.cert.c_str()) != 1) {
    return Status(StatusCode::kInvalidArgument, "cert " + config.cert + ": " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(native, config.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status(StatusCode::kInvalidArgument, "key " + config.key + ": " + OpenSslError());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status(StatusCode::kInvalidArgument,
                  "key " + config.key + " does not match cert " + config.cert);
  }
  if (SSL_CTX_load_verify_locations(native, config.ca.c_str(), nullptr) != 1) {
    return Status(StatusCode::kInvalidArgument, "ca " + config.ca + ": " + OpenSslError());
  }
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca.c_str())) {
    SSL_CTX_set_client_CA_list(native, names);
  }
  ERR_clear_error();
  if (!config.crl.empty()) {
    Status crl = LoadCrl(SSL_CTX_get_cert_store(native), config.crl);
    if (!crl.ok()) return crl;
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_verify_depth(native, 4);
  static const unsigned char kSessionContext[] = "tidemark-collector";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  SSL_CTX_set_timeout(native, kSessionTicketLifetime);
  // Resumption (docs/collector.md "Session resumption"): one ticket per connection; with a
  // session cache, the ticket is only an id into the cache (stateful: resuming costs a look-up,
  // not decrypting and decoding the peer's certificate again), at most session_cache sessions,
  // the oldest dropped first, expired ones flushed, each used once (RetireResumedSession).
  // session_cache = 0: stateless tickets.
  SSL_CTX_set_num_tickets(native, 1);
  if (config.session_cache > 0) {
    SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(native, config.session_cache);
    SSL_CTX_set_client_hello_cb(native, NoteOfferedSession, nullptr);
  } else {
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  }
  if (SSL_CTX_set_session_ticket_cb(native, BoundTicketLifetime, nullptr, nullptr) != 1) {
    return Status(StatusCode::kInternal, "session ticket callback: " + OpenSslError());
  }
  WarmUpVerification(native);
  return ctx;
}

StatusOr<std::string> CheckAgentCertificate(X509* cert) {
  if (cert == nullptr) return Status(StatusCode::kPermissionDenied, "no client certificate");
  uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_XKUSAGE) == 0) {
    return Status(StatusCode::kPermissionDenied, "no extended key usage (clientAuth required)");
  }
  if ((X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) == 0) {
    return Status(StatusCode::kPermissionDenied, "no clientAuth EKU");
  }
  StatusOr<std::string> cn = pki::CommonNameOf(cert);
  if (!cn.ok()) return Status(StatusCode::kPermissionDenied, cn.status().message());
  if (!protocol::IsValidHostId(*cn)) {
    return Status(StatusCode::kPermissionDenied,
                  "commonName is not a valid host id (A-Z a-z 0-9 . - _, 1-253 chars)");
  }
  return cn;
}

std::string CertFingerprint(X509* cert) { return pki::FingerprintOf(cert); }

}  // namespace tidemark::collector
