// The PKI of pki.h on OpenSSL 3 (X509_new, X509V3 extensions, X509_CRL). Every OpenSSL object
// is owned by a unique_ptr with its free function so no error path leaks.
#include "common/transport/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "common/atomic_file.h"
#include "common/text.h"
#include "common/time.h"
#include "common/transport/openssl_ptr.h"

namespace tidemark::pki {
namespace {

using openssl::AsnTimePtr;
using openssl::BioPtr;
using openssl::BnPtr;
using openssl::CrlPtr;
using openssl::PkeyPtr;
using openssl::RevokedPtr;
using openssl::X509Ptr;

Status OpenSslError(std::string what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status(StatusCode::kInternal, what + ": " + buf);
}

StatusOr<std::string> ToPem(int (*write)(BIO*, void*), void* object, std::string what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), object) != 1) return OpenSslError("writing " + what);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("writing a private key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

StatusOr<X509Ptr> ParseCert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ERR_clear_error();
    return Status(StatusCode::kInvalidArgument, "not a PEM certificate");
  }
  return cert;
}

StatusOr<PkeyPtr> ParseKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    ERR_clear_error();
    return Status(StatusCode::kInvalidArgument, "not a PEM private key");
  }
  return key;
}

StatusOr<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError("generating a P-256 key");
  return key;
}

Status RandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return OpenSslError("random serial");
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x01;  // and not zero
  BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("setting the serial number");
  }
  return Status::Ok();
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError("extension " + std::string(OBJ_nid2sn(nid)));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpenSslError("adding extension " + std::string(OBJ_nid2sn(nid)));
  return Status::Ok();
}

#define PKI_RETURN_IF_ERROR(expr) \
  do {                            \
    Status s_ = (expr);           \
    if (!s_.ok()) return s_;      \
  } while (false)

// Builds and signs a certificate for `key` (self-signed when issuer is null).
StatusOr<X509Ptr> Build(const CertRequest& req, EVP_PKEY* key, X509* issuer_cert,
                        EVP_PKEY* issuer_key) {
  if (req.common_name.empty() || req.common_name.size() > 64) {
    return Status(StatusCode::kInvalidArgument, "common name must be 1 to 64 characters");
  }
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return OpenSslError("X509_new");
  PKI_RETURN_IF_ERROR(RandomSerial(cert.get()));
  int64_t now = NowSeconds();
  int64_t nb = req.not_before != 0 ? req.not_before : now - 300;
  int64_t na = req.not_after != 0 ? req.not_after : nb + int64_t{req.days} * 86400;
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(nb)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(na)) == nullptr) {
    return OpenSslError("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(req.common_name.c_str()),
                                 -1, -1, 0) != 1) {
    return OpenSslError("subject");
  }
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("issuer/public key");
  }
  PKI_RETURN_IF_ERROR(AddExt(cert.get(), issuer, NID_subject_key_identifier, "hash"));
  if (issuer_cert != nullptr) {
    PKI_RETURN_IF_ERROR(AddExt(cert.get(), issuer, NID_authority_key_identifier, "keyid:always"));
  }
  switch (req.role) {
    case Role::kCa:
      PKI_RETURN_IF_ERROR(AddExt(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE"));
      PKI_RETURN_IF_ERROR(
          AddExt(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign"));
      break;
    case Role::kServer:
    case Role::kClient: {
      PKI_RETURN_IF_ERROR(AddExt(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE"));
      PKI_RETURN_IF_ERROR(AddExt(cert.get(), issuer, NID_key_usage, "critical,digitalSignature"));
      if (!req.omit_eku) {
        PKI_RETURN_IF_ERROR(AddExt(cert.get(), issuer, NID_ext_key_usage,
                                   req.role == Role::kServer ? "serverAuth" : "clientAuth"));
      }
      // Checked here so that no certificate ever carries a name a client cannot match (and no
      // text can inject another entry into the extension's configuration string).
      std::string san;
      for (const auto& d : req.dns_names) {
        if (!IsValidDnsName(d)) {
          return Status(StatusCode::kInvalidArgument,
                        "'" + d.substr(0, 64) + "' is not a valid DNS name (RFC 1123)");
        }
        san += (san.empty() ? "DNS:" : ",DNS:") + d;
      }
      for (const auto& ip : req.ip_addresses) {
        if (!IsIpAddress(ip)) {
          return Status(StatusCode::kInvalidArgument,
                        "'" + ip.substr(0, 64) + "' is not an IPv4 or IPv6 address");
        }
        san += (san.empty() ? "IP:" : ",IP:") + ip;
      }
      if (!san.empty()) {
        PKI_RETURN_IF_ERROR(AddExt(cert.get(), issuer, NID_subject_alt_name, san));
      }
      break;
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return OpenSslError("signing");
  return cert;
}

StatusOr<KeyPair> ToPair(EVP_PKEY* key, X509* cert) {
  auto key_pem = KeyToPem(key);
  if (!key_pem.ok()) return key_pem.status();
  auto cert_pem =
      ToPem([](BIO* b, void* c) { return PEM_write_bio_X509(b, static_cast<X509*>(c)); }, cert,
            "a certificate");
  if (!cert_pem.ok()) return cert_pem.status();
  return KeyPair{std::move(*key_pem), std::move(*cert_pem)};
}

}  // namespace

StatusOr<KeyPair> MakeCa(std::string_view common_name, int days) {
  auto key = NewKey();
  if (!key.ok()) return key.status();
  CertRequest req;
  req.common_name = std::string(common_name);
  req.role = Role::kCa;
  req.days = days;
  auto cert = Build(req, key->get(), nullptr, key->get());
  if (!cert.ok()) return cert.status();
  return ToPair(key->get(), cert->get());
}

StatusOr<KeyPair> Issue(const KeyPair& ca, const CertRequest& request) {
  auto ca_cert = ParseCert(ca.cert_pem);
  if (!ca_cert.ok()) return Status(StatusCode::kInvalidArgument, "CA: not a PEM certificate");
  auto ca_key = ParseKey(ca.key_pem);
  if (!ca_key.ok()) return Status(StatusCode::kInvalidArgument, "CA: not a PEM private key");
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = Build(request, key->get(), ca_cert->get(), ca_key->get());
  if (!cert.ok()) return cert.status();
  return ToPair(key->get(), cert->get());
}

StatusOr<std::string> MakeCrl(const KeyPair& ca, const std::vector<std::string>& revoked_cert_pems,
                              int days) {
  auto ca_cert = ParseCert(ca.cert_pem);
  if (!ca_cert.ok()) return Status(StatusCode::kInvalidArgument, "CA: not a PEM certificate");
  auto ca_key = ParseKey(ca.key_pem);
  if (!ca_key.ok()) return Status(StatusCode::kInvalidArgument, "CA: not a PEM private key");
  CrlPtr crl(X509_CRL_new());
  time_t now = std::time(nullptr);
  AsnTimePtr last(ASN1_TIME_set(nullptr, now - 60));
  AsnTimePtr next(ASN1_TIME_set(nullptr, now + static_cast<time_t>(days) * 86400));
  if (!crl || !last || !next || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert->get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslError("CRL");
  }
  for (const auto& pem : revoked_cert_pems) {
    auto cert = ParseCert(pem);
    if (!cert.ok()) return cert.status();
    RevokedPtr rev(X509_REVOKED_new());
    if (!rev || X509_REVOKED_set_serialNumber(rev.get(), X509_get_serialNumber(cert->get())) != 1 ||
        X509_REVOKED_set_revocationDate(rev.get(), last.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), rev.get()) != 1) {
      return OpenSslError("CRL entry");
    }
    rev.release();  // owned by the CRL now
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), ca_key->get(), EVP_sha256()) == 0) return OpenSslError("CRL sign");
  return ToPem([](BIO* b, void* c) { return PEM_write_bio_X509_CRL(b, static_cast<X509_CRL*>(c)); },
               crl.get(), "a CRL");
}

std::string FingerprintOf(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) return "";
  return "sha256:" + HexEncode(std::string_view(reinterpret_cast<const char*>(md), n));
}

StatusOr<std::string> Fingerprint(std::string_view cert_pem) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  std::string fingerprint = FingerprintOf(cert->get());
  if (fingerprint.empty()) return OpenSslError("digest");
  return fingerprint;
}

StatusOr<std::string> CommonName(std::string_view cert_pem) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  return CommonNameOf(cert->get());
}

StatusOr<std::string> CommonNameOf(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return Status(StatusCode::kInvalidArgument, "the certificate has no commonName");
  if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0) {
    return Status(StatusCode::kInvalidArgument, "the certificate has more than one commonName");
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return OpenSslError("commonName");
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  if (cn.find('\0') != std::string::npos) {
    return Status(StatusCode::kInvalidArgument, "the commonName holds a NUL byte");
  }
  return cn;
}

StatusOr<CertInfo> Inspect(std::string_view cert_pem) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  CertInfo info;
  X509* x = cert->get();
  auto cn = CommonNameOf(x);
  if (cn.ok()) info.common_name = *cn;
  uint32_t flags = X509_get_extension_flags(x);
  info.has_eku = (flags & EXFLAG_XKUSAGE) != 0;
  if (info.has_eku) {
    uint32_t xku = X509_get_extended_key_usage(x);
    info.client_auth = (xku & XKU_SSL_CLIENT) != 0;
    info.server_auth = (xku & XKU_SSL_SERVER) != 0;
  }
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        const ASN1_IA5STRING* d = n->d.dNSName;
        info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(d)),
                                    static_cast<size_t>(ASN1_STRING_length(d)));
      } else if (n->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* ip = n->d.iPAddress;
        char text[INET6_ADDRSTRLEN] = {};
        int len = ASN1_STRING_length(ip);
        int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
        if (family != -1 && inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text)) {
          info.ip_addresses.emplace_back(text);
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  ERR_clear_error();
  return info;
}

StatusOr<bool> KeyMatchesCertificate(std::string_view key_pem, std::string_view cert_pem) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  auto key = ParseKey(key_pem);
  if (!key.ok()) return key.status();
  EVP_PKEY* pub = X509_get0_pubkey(cert->get());
  bool match = pub != nullptr && EVP_PKEY_eq(pub, key->get()) == 1;
  ERR_clear_error();
  return match;
}

bool IsValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok || (label == 0 && c == '-') || ++label > 63) return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

bool IsIpAddress(std::string_view name) {
  std::string text(name);
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

Status CheckPrivateKeyFile(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                  path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(StatusCode::kWrongType, path + ": a private key must be a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status(
        StatusCode::kPermissionDenied,
        path + ": private key is accessible to group or others (mode " + mode + "); chmod 600 it");
  }
  return Status::Ok();
}

Status WritePem(const std::string& path, std::string_view pem, unsigned mode) {
  return WriteFileAtomic(path, pem, mode);
}

bool IsReceivedKeyUpdate(int write_p, int content_type, const void* buf, size_t len) {
  return write_p == 0 && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
         static_cast<const unsigned char*>(buf)[0] == SSL3_MT_KEY_UPDATE;
}

}  // namespace tidemark::pki
