#include "agent/parsers/authorized_keys.h"

#include <dlfcn.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <array>
#include <cctype>
#include <cstring>
#include <memory>

#include "common/fs.h"
#include "common/sha256.h"

namespace tidemark::agent::authorized_keys {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Key types (sshkey.c keyimpls; names are matched case-sensitively, as sshkey_read() does).

enum class Kind { kRsa, kDsa, kEcdsa, kEd25519, kEcdsaSk, kEd25519Sk };

struct TypeDef {
  std::string_view name;       // as written in a line or a blob
  std::string_view canonical;  // the key type it denotes (signature-only aliases resolved)
  std::string_view plain;      // canonical name of the plain (non-certificate) key
  Kind kind;
  bool cert;
};

constexpr std::array<TypeDef, 20> kTypes = {{
    {"ssh-rsa", "ssh-rsa", "ssh-rsa", Kind::kRsa, false},
    {"rsa-sha2-256", "ssh-rsa", "ssh-rsa", Kind::kRsa, false},
    {"rsa-sha2-512", "ssh-rsa", "ssh-rsa", Kind::kRsa, false},
    {"ssh-dss", "ssh-dss", "ssh-dss", Kind::kDsa, false},
    {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", Kind::kEcdsa, false},
    {"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", Kind::kEcdsa, false},
    {"ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", Kind::kEcdsa, false},
    {"ssh-ed25519", "ssh-ed25519", "ssh-ed25519", Kind::kEd25519, false},
    {"sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
     "sk-ecdsa-sha2-nistp256@openssh.com", Kind::kEcdsaSk, false},
    {"webauthn-sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
     "sk-ecdsa-sha2-nistp256@openssh.com", Kind::kEcdsaSk, false},
    {"sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519@openssh.com",
     Kind::kEd25519Sk, false},
    {"ssh-rsa-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com", "ssh-rsa", Kind::kRsa, true},
    {"rsa-sha2-256-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com", "ssh-rsa", Kind::kRsa,
     true},
    {"rsa-sha2-512-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com", "ssh-rsa", Kind::kRsa,
     true},
    {"ssh-dss-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com", "ssh-dss", Kind::kDsa, true},
    {"ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
     "ecdsa-sha2-nistp256", Kind::kEcdsa, true},
    {"ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
     "ecdsa-sha2-nistp384", Kind::kEcdsa, true},
    {"ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
     "ecdsa-sha2-nistp521", Kind::kEcdsa, true},
    {"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
     "sk-ecdsa-sha2-nistp256@openssh.com", Kind::kEcdsaSk, true},
    {"ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519",
     Kind::kEd25519, true},
}};
// Kept apart only because std::array needs one fixed size above.
constexpr TypeDef kSkEd25519Cert = {"sk-ssh-ed25519-cert-v01@openssh.com",
                                    "sk-ssh-ed25519-cert-v01@openssh.com",
                                    "sk-ssh-ed25519@openssh.com", Kind::kEd25519Sk, true};

const TypeDef* FindType(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name == name) return &t;
  }
  if (kSkEd25519Cert.name == name) return &kSkEd25519Cert;
  return nullptr;
}

struct Curve {
  std::string_view name;  // "nistp256"
  int nid;
  int bits;
};

std::optional<Curve> CurveOfPlainType(std::string_view plain) {
  if (plain == "ecdsa-sha2-nistp256" || plain == "sk-ecdsa-sha2-nistp256@openssh.com") {
    return Curve{"nistp256", NID_X9_62_prime256v1, 256};
  }
  if (plain == "ecdsa-sha2-nistp384") return Curve{"nistp384", NID_secp384r1, 384};
  if (plain == "ecdsa-sha2-nistp521") return Curve{"nistp521", NID_secp521r1, 521};
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// SSH wire format (RFC 4251 section 5; sshbuf-getput-basic.c, sshbuf-getput-crypto.c).

constexpr size_t kMaxBignumBytes = 16384 / 8;                 // SSHBUF_MAX_BIGNUM
constexpr size_t kMaxEcPointBytes = ((528 * 2 + 7) / 8) + 1;  // SSHBUF_MAX_ECPOINT
constexpr size_t kEd25519PublicKeyBytes = 32;                 // ED25519_PK_SZ
constexpr size_t kMaxCertPrincipals = 256;                    // SSHKEY_CERT_MAX_PRINCIPALS
constexpr int kRsaMinimumModulusBits = 1024;                  // SSH_RSA_MINIMUM_MODULUS_SIZE

Status Bad(std::string msg) { return Status(StatusCode::kInvalidArgument, std::move(msg)); }

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  size_t remaining() const { return data_.size(); }

  bool U32(uint32_t* v) {
    if (data_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v = (*v << 8) | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (data_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v = (*v << 8) | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(8);
    return true;
  }
  bool String(std::string_view* s) {
    uint32_t len = 0;
    if (!U32(&len) || data_.size() < len) return false;
    *s = data_.substr(0, len);
    data_.remove_prefix(len);
    return true;
  }
  // A string that must not contain NUL (sshbuf_get_cstring).
  bool CString(std::string_view* s) { return String(s) && s->find('\0') == std::string_view::npos; }

 private:
  std::string_view data_;
};

// A non-negative multiple-precision integer (sshbuf_get_bignum2): magnitude without leading
// zeros; canonical re-encoding adds one zero byte when the top bit is set.
struct Mpint {
  std::string_view magnitude;

  int Bits() const {
    if (magnitude.empty()) return 0;
    unsigned top = static_cast<unsigned char>(magnitude[0]);
    int bits = static_cast<int>(magnitude.size() - 1) * 8;
    while (top != 0) {
      ++bits;
      top >>= 1;
    }
    return bits;
  }
};

Status ReadMpint(WireReader& r, std::string_view what, Mpint* out) {
  std::string_view d;
  if (!r.String(&d)) return Bad("key blob truncated in " + std::string(what));
  if (!d.empty() && (static_cast<unsigned char>(d[0]) & 0x80) != 0) {
    return Bad("key blob: " + std::string(what) + " is negative");
  }
  if (d.size() > kMaxBignumBytes + 1 || (d.size() == kMaxBignumBytes + 1 && d[0] != 0)) {
    return Bad("key blob: " + std::string(what) + " is larger than 16384 bits");
  }
  while (!d.empty() && d[0] == 0) d.remove_prefix(1);
  out->magnitude = d;
  return Status::Ok();
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
void PutMpint(std::string& out, const Mpint& m) {
  bool pad = !m.magnitude.empty() && (static_cast<unsigned char>(m.magnitude[0]) & 0x80) != 0;
  PutU32(out, static_cast<uint32_t>(m.magnitude.size() + (pad ? 1 : 0)));
  if (pad) out.push_back('\0');
  out.append(m.magnitude);
}

// libcrypto, loaded on the first ECDSA key: tidemark-agent does not link it, because loading it
// (Debian's libcrypto.so.3, 18,000 relocations) was the largest part of a short collection's
// start-up (README, "Agent start-up"), and only this check needs it. The functions' types come
// from OpenSSL's headers; the library is the system's, so its security updates apply. Loaded
// without OpenSSL's configuration file (OPENSSL_INIT_NO_LOAD_CONFIG: providers and TLS defaults
// change nothing here, and a hostile OPENSSL_CONF must not stall a collection).
// clang-format off
#define TIDEMARK_EC_FUNCTIONS(X) \
  X(OPENSSL_init_crypto) \
  X(EC_GROUP_new_by_curve_name) X(EC_GROUP_free) X(EC_GROUP_get0_order) \
  X(EC_POINT_new) X(EC_POINT_free) X(EC_POINT_oct2point) X(EC_POINT_is_at_infinity) \
  X(EC_POINT_get_affine_coordinates) X(EC_POINT_mul) \
  X(BN_CTX_new) X(BN_CTX_free) X(BN_new) X(BN_free) X(BN_num_bits) X(BN_sub) X(BN_value_one) \
  X(BN_cmp)
// clang-format on

struct Libcrypto {
#define TIDEMARK_MEMBER(f) decltype(&::f) f = nullptr;  // NOLINT(bugprone-macro-parentheses)
  TIDEMARK_EC_FUNCTIONS(TIDEMARK_MEMBER)
#undef TIDEMARK_MEMBER
  std::string error;  // why it could not be loaded; empty when loaded
};

const Libcrypto& LoadLibcrypto() {
  static const Libcrypto lib = [] {
    Libcrypto l;
    void* handle = ::dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      l.error = why != nullptr ? why : "libcrypto.so.3: cannot be loaded";
      return l;
    }
#define TIDEMARK_LOAD(f)                                       \
  l.f = reinterpret_cast<decltype(&::f)>(::dlsym(handle, #f)); \
  if (l.f == nullptr && l.error.empty()) l.error = "libcrypto.so.3: no " #f;
    TIDEMARK_EC_FUNCTIONS(TIDEMARK_LOAD)
#undef TIDEMARK_LOAD
    if (l.error.empty() && l.OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) != 1) {
      l.error = "libcrypto.so.3: OPENSSL_init_crypto failed";
    }
    return l;  // the handle stays open for the process's life
  }();
  return lib;
}

// sshkey.c sshkey_ec_validate_public(): a point on the curve, not infinity, of the group's
// order, with coordinates of reasonable size.
Status ValidateEcPoint(int nid, std::string_view point) {
  if (point.empty() || point.size() > kMaxEcPointBytes) return Bad("key blob: bad EC point size");
  if (static_cast<unsigned char>(point[0]) != 0x04) {
    return Bad("key blob: EC point is not in uncompressed form");
  }
  const Libcrypto& c = LoadLibcrypto();
  if (!c.error.empty()) {
    return Status(StatusCode::kInternal, "cannot check the EC public key: " + c.error);
  }
  using GroupPtr = std::unique_ptr<EC_GROUP, decltype(&::EC_GROUP_free)>;
  using PointPtr = std::unique_ptr<EC_POINT, decltype(&::EC_POINT_free)>;
  using BnPtr = std::unique_ptr<BIGNUM, decltype(&::BN_free)>;
  using CtxPtr = std::unique_ptr<BN_CTX, decltype(&::BN_CTX_free)>;
  GroupPtr group(c.EC_GROUP_new_by_curve_name(nid), c.EC_GROUP_free);
  CtxPtr ctx(c.BN_CTX_new(), c.BN_CTX_free);
  if (!group || !ctx) return Status(StatusCode::kInternal, "OpenSSL EC setup failed");
  PointPtr q(c.EC_POINT_new(group.get()), c.EC_POINT_free);
  PointPtr nq(c.EC_POINT_new(group.get()), c.EC_POINT_free);
  BnPtr x(c.BN_new(), c.BN_free), y(c.BN_new(), c.BN_free), tmp(c.BN_new(), c.BN_free);
  if (!q || !nq || !x || !y || !tmp) return Status(StatusCode::kInternal, "OpenSSL alloc failed");
  const auto* bytes = reinterpret_cast<const unsigned char*>(point.data());
  if (c.EC_POINT_oct2point(group.get(), q.get(), bytes, point.size(), ctx.get()) != 1) {
    return Bad("key blob: EC public key is not a point on its curve");
  }
  if (c.EC_POINT_is_at_infinity(group.get(), q.get()) == 1) {
    return Bad("key blob: EC public key is the point at infinity");
  }
  const BIGNUM* order = c.EC_GROUP_get0_order(group.get());
  if (order == nullptr ||
      c.EC_POINT_get_affine_coordinates(group.get(), q.get(), x.get(), y.get(), ctx.get()) != 1) {
    return Bad("key blob: EC public key coordinates unavailable");
  }
  int half = c.BN_num_bits(order) / 2;
  if (c.BN_num_bits(x.get()) <= half || c.BN_num_bits(y.get()) <= half) {
    return Bad("key blob: EC public key coordinates too small");
  }
  if (c.EC_POINT_mul(group.get(), nq.get(), nullptr, q.get(), order, ctx.get()) != 1 ||
      c.EC_POINT_is_at_infinity(group.get(), nq.get()) != 1) {
    return Bad("key blob: EC public key is not in the curve's subgroup");
  }
  if (c.BN_sub(tmp.get(), order, c.BN_value_one()) != 1 || c.BN_cmp(x.get(), tmp.get()) >= 0 ||
      c.BN_cmp(y.get(), tmp.get()) >= 0) {
    return Bad("key blob: EC public key coordinates out of range");
  }
  return Status::Ok();
}

// Reads the public fields of a `plain` key kind from `r` and appends their canonical encoding
// (after the type name) to `plain_blob`. Sets bits as sshkey_size() computes it.
Status ReadPublicFields(WireReader& r, const TypeDef& type, std::string& plain_blob, int* bits) {
  switch (type.kind) {
    case Kind::kRsa: {
      Mpint e, n;
      if (Status s = ReadMpint(r, "RSA exponent", &e); !s.ok()) return s;
      if (Status s = ReadMpint(r, "RSA modulus", &n); !s.ok()) return s;
      *bits = n.Bits();
      if (*bits < kRsaMinimumModulusBits) {
        return Bad("RSA modulus of " + std::to_string(*bits) +
                   " bits is below OpenSSH's minimum of 1024");
      }
      PutMpint(plain_blob, e);
      PutMpint(plain_blob, n);
      return Status::Ok();
    }
    case Kind::kDsa: {
      std::array<Mpint, 4> v;
      constexpr std::array<std::string_view, 4> kNames = {"DSA p", "DSA q", "DSA g", "DSA y"};
      for (size_t i = 0; i < v.size(); ++i) {
        if (Status s = ReadMpint(r, kNames[i], &v[i]); !s.ok()) return s;
      }
      *bits = v[0].Bits();
      for (const auto& m : v) PutMpint(plain_blob, m);
      return Status::Ok();
    }
    case Kind::kEcdsa:
    case Kind::kEcdsaSk: {
      std::optional<Curve> curve = CurveOfPlainType(type.plain);
      std::string_view curve_name, point;
      if (!r.CString(&curve_name)) return Bad("key blob truncated in ECDSA curve name");
      if (curve_name != curve->name) return Bad("key blob: ECDSA curve does not match key type");
      if (!r.String(&point)) return Bad("key blob truncated in ECDSA public point");
      if (Status s = ValidateEcPoint(curve->nid, point); !s.ok()) return s;
      *bits = curve->bits;
      PutString(plain_blob, curve_name);
      PutString(plain_blob, point);
      if (type.kind == Kind::kEcdsaSk) {
        std::string_view application;
        if (!r.CString(&application)) return Bad("key blob truncated in security key application");
        PutString(plain_blob, application);
      }
      return Status::Ok();
    }
    case Kind::kEd25519:
    case Kind::kEd25519Sk: {
      std::string_view pk;
      if (!r.String(&pk)) return Bad("key blob truncated in Ed25519 public key");
      if (pk.size() != kEd25519PublicKeyBytes) return Bad("key blob: Ed25519 key is not 32 bytes");
      *bits = 256;
      PutString(plain_blob, pk);
      if (type.kind == Kind::kEd25519Sk) {
        std::string_view application;
        if (!r.CString(&application)) return Bad("key blob truncated in security key application");
        PutString(plain_blob, application);
      }
      return Status::Ok();
    }
  }
  return Status(StatusCode::kInternal, "unhandled key kind");
}

// Reads the string-pair list of certificate critical options or extensions; returns the names.
Status ReadCertOptionNames(std::string_view data, std::string_view what,
                           std::vector<std::string>* names) {
  WireReader r(data);
  while (r.remaining() > 0) {
    std::string_view name, value;
    if (!r.CString(&name) || !r.String(&value)) {
      return Bad("certificate " + std::string(what) + " are malformed");
    }
    names->emplace_back(name);
  }
  return Status::Ok();
}

StatusOr<KeyInfo> ParseBlobInternal(std::string_view blob, bool allow_cert) {
  WireReader r(blob);
  std::string_view type_name;
  if (!r.CString(&type_name)) return Bad("key blob truncated in its type name");
  const TypeDef* type = FindType(type_name);
  if (type == nullptr) return Bad("key blob has an unknown key type");
  if (type->cert && !allow_cert) return Bad("certificate signed by a certificate");
  KeyInfo info;
  info.type = std::string(type->canonical);
  std::string plain_blob;
  PutString(plain_blob, type->plain);
  if (type->cert) {
    std::string_view nonce;
    if (!r.String(&nonce)) return Bad("certificate truncated in its nonce");
  }
  if (Status s = ReadPublicFields(r, *type, plain_blob, &info.bits); !s.ok()) return s;
  if (type->cert) {
    CertificateInfo cert;
    uint32_t cert_type = 0;
    std::string_view key_id, principals, critical, extensions, reserved, ca_blob, signature;
    if (!r.U64(&cert.serial) || !r.U32(&cert_type) || !r.CString(&key_id) ||
        !r.String(&principals) || !r.U64(&cert.valid_after) || !r.U64(&cert.valid_before) ||
        !r.String(&critical) || !r.String(&extensions) || !r.String(&reserved) ||
        !r.String(&ca_blob) || !r.String(&signature)) {
      return Bad("certificate truncated or malformed");
    }
    if (cert_type == 1) {
      cert.cert_type = "user";
    } else if (cert_type == 2) {
      cert.cert_type = "host";
    } else {
      return Bad("certificate of unknown type " + std::to_string(cert_type));
    }
    cert.key_id = std::string(key_id);
    WireReader pr(principals);
    while (pr.remaining() > 0) {
      std::string_view p;
      if (!pr.CString(&p)) return Bad("certificate principals are malformed");
      if (cert.principals.size() >= kMaxCertPrincipals) {
        return Bad("certificate has more than 256 principals");
      }
      cert.principals.emplace_back(p);
    }
    if (Status s = ReadCertOptionNames(critical, "critical options", &cert.critical_options);
        !s.ok()) {
      return s;
    }
    if (Status s = ReadCertOptionNames(extensions, "extensions", &cert.extensions); !s.ok()) {
      return s;
    }
    auto ca = ParseBlobInternal(ca_blob, /*allow_cert=*/false);
    if (!ca.ok()) return Bad("certificate signing key is invalid: " + ca.status().message());
    cert.ca_type = ca->type;
    cert.ca_fingerprint = ca->fingerprint;
    info.certificate = std::move(cert);
  }
  if (r.remaining() != 0) return Bad("key blob has trailing data");
  info.fingerprint = FingerprintSha256(plain_blob);
  return info;
}

// ---------------------------------------------------------------------------------------------
// Options (auth-options.c sshauthopt_parse, misc.c opt_flag/opt_match/opt_dequote).

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// opt_flag(): matches `name` (or "no-" + name when negatable) as a prefix, case-insensitively.
// Returns -1 (no match), 1 (positive) or 0 (negated) and advances `pos`.
int OptFlag(std::string_view opts, size_t& pos, std::string_view name, bool allow_negate) {
  std::string_view rest = opts.substr(pos);
  size_t skip = 0;
  bool negate = false;
  if (allow_negate && StartsWithNoCase(rest, "no-")) {
    skip = 3;
    negate = true;
  }
  if (StartsWithNoCase(rest.substr(skip), name)) {
    pos += skip + name.size();
    return negate ? 0 : 1;
  }
  return -1;
}

// opt_match(): `name` followed by '=', case-insensitively.
bool OptMatch(std::string_view opts, size_t& pos, std::string_view name) {
  std::string_view rest = opts.substr(pos);
  if (StartsWithNoCase(rest, name) && rest.size() > name.size() && rest[name.size()] == '=') {
    pos += name.size() + 1;
    return true;
  }
  return false;
}

// opt_dequote(): a double-quoted value in which only \" is an escape.
StatusOr<std::string> OptDequote(std::string_view opts, size_t& pos) {
  if (pos >= opts.size() || opts[pos] != '"') return Bad("missing start quote");
  size_t i = pos + 1;
  std::string out;
  while (i < opts.size() && opts[i] != '"') {
    if (opts[i] == '\\' && i + 1 < opts.size() && opts[i + 1] == '"') ++i;
    out.push_back(opts[i++]);
  }
  if (i >= opts.size()) return Bad("missing end quote");
  pos = i + 1;
  return out;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// misc.c parse_absolute_time(): YYYYMMDD[HHMM[SS]], optionally followed by "Z" or "UTC".
bool ValidAbsoluteTime(std::string_view s) {
  if (s.size() > 1 && StartsWithNoCase(s.substr(s.size() - 1), "z")) {
    s.remove_suffix(1);
  } else if (s.size() > 3 && StartsWithNoCase(s.substr(s.size() - 3), "utc")) {
    s.remove_suffix(3);
  }
  if ((s.size() != 8 && s.size() != 12 && s.size() != 14) || !AllDigits(s)) return false;
  auto num = [&](size_t at, size_t len) { return std::stoi(std::string(s.substr(at, len))); };
  int year = num(0, 4), month = num(4, 2), day = num(6, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31) return false;
  if (s.size() >= 12 && (num(8, 2) > 23 || num(10, 2) > 59)) return false;
  if (s.size() == 14 && num(12, 2) > 61) return false;
  return true;
}

// misc.c hpdelim(): splits "host:port" / "[v6]:port"; nullopt when malformed.
std::optional<std::pair<std::string_view, std::optional<std::string_view>>> HpDelim(
    std::string_view s) {
  size_t at = 0;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    at = close + 1;
  } else {
    at = s.find_first_of(":/");
    if (at == std::string_view::npos) at = s.size();
  }
  if (at == s.size()) return std::make_pair(s, std::optional<std::string_view>());
  if (s[at] == ':') return std::make_pair(s.substr(0, at), std::optional(s.substr(at + 1)));
  return std::nullopt;  // '/' (refused by hpdelim) or junk after "]"
}

// misc.c a2port(): 1..65535, or a service name (getservbyname; not checkable offline).
bool ValidPort(std::string_view p) {
  if (AllDigits(p))
    return p.size() <= 5 && std::stoi(std::string(p)) >= 1 && std::stoi(std::string(p)) <= 65535;
  if (p.empty()) return false;
  for (char c : p) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '+') {
      return false;
    }
  }
  return true;
}

Status CheckPermit(std::string_view value, bool allow_bare_port) {
  std::string spec(value);
  if (allow_bare_port && spec.find(':') == std::string::npos) spec = "*:" + spec;
  auto split = HpDelim(spec);
  constexpr size_t kNiMaxHost = 1025;
  if (!split || split->first.size() >= kNiMaxHost) return Bad("invalid permission hostname");
  if (!split->second || (*split->second != "*" && !ValidPort(*split->second))) {
    return Bad("invalid permission port");
  }
  return Status::Ok();
}

bool ValidTunnel(std::string_view t) {
  if (t.size() == 3 && StartsWithNoCase(t, "any")) return true;
  if (!AllDigits(t) || t.size() > 10) return false;
  return std::stoll(std::string(t)) <= 0x7ffffffd;  // SSH_TUNID_MAX
}

Status ParseOptionsInto(std::string_view opts, json& out) {
  struct Flag {
    std::string_view match;     // as opt_flag() matches it (lowercase)
    std::string_view positive;  // canonical spelling in sshd(8)
    bool negatable;
  };
  // In sshauthopt_parse() order; the order matters because matching is by prefix.
  static constexpr std::array<Flag, 9> kFlags = {{
      {"restrict", "restrict", false},
      {"cert-authority", "cert-authority", false},
      {"port-forwarding", "port-forwarding", true},
      {"agent-forwarding", "agent-forwarding", true},
      {"x11-forwarding", "X11-forwarding", true},
      {"touch-required", "touch-required", true},
      {"verify-required", "verify-required", true},
      {"pty", "pty", true},
      {"user-rc", "user-rc", true},
  }};
  size_t pos = 0;
  while (pos < opts.size() && opts[pos] != ' ' && opts[pos] != '\t') {
    bool matched = false;
    for (const auto& f : kFlags) {
      int r = OptFlag(opts, pos, f.match, f.negatable);
      if (r == -1) continue;
      out[r == 1 ? std::string(f.positive) : "no-" + std::string(f.positive)] = true;
      matched = true;
      break;
    }
    if (!matched) {
      for (std::string_view single : {"command", "principals", "from"}) {
        if (!OptMatch(opts, pos, single)) continue;
        if (out.contains(single)) return Bad("multiple \"" + std::string(single) + "\" clauses");
        auto v = OptDequote(opts, pos);
        if (!v.ok()) return v.status();
        out[std::string(single)] = *v;
        matched = true;
        break;
      }
    }
    if (!matched && OptMatch(opts, pos, "expiry-time")) {
      auto v = OptDequote(opts, pos);
      if (!v.ok()) return v.status();
      if (!ValidAbsoluteTime(*v)) return Bad("invalid expires time");
      out["expiry-time"].push_back(*v);
      matched = true;
    }
    if (!matched && OptMatch(opts, pos, "environment")) {
      auto v = OptDequote(opts, pos);
      if (!v.ok()) return v.status();
      size_t eq = v->find('=');
      if (eq == std::string::npos) return Bad("invalid environment string");
      for (size_t i = 0; i < eq; ++i) {
        unsigned char c = static_cast<unsigned char>((*v)[i]);
        if (!std::isalnum(c) && c != '_') return Bad("invalid environment string");
      }
      out["environment"].push_back(*v);
      matched = true;
    }
    if (!matched) {
      for (std::string_view permit : {"permitopen", "permitlisten"}) {
        if (!OptMatch(opts, pos, permit)) continue;
        auto v = OptDequote(opts, pos);
        if (!v.ok()) return v.status();
        if (Status s = CheckPermit(*v, permit == "permitlisten"); !s.ok()) return s;
        out[std::string(permit)].push_back(*v);
        matched = true;
        break;
      }
    }
    if (!matched && OptMatch(opts, pos, "tunnel")) {
      auto v = OptDequote(opts, pos);
      if (!v.ok()) return v.status();
      if (!ValidTunnel(*v)) return Bad("invalid tun device");
      out["tunnel"] = *v;  // the last one wins, as in sshd
    }
    // Skip the comma and go to the next option, or stop at the end of the options.
    if (pos >= opts.size() || opts[pos] == ' ' || opts[pos] == '\t') break;
    if (opts[pos] != ',') return Bad("unknown key option");
    ++pos;
    if (pos >= opts.size()) return Bad("unexpected end-of-options");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Lines (auth2-pubkeyfile.c auth_check_authkey_line; sshkey.c sshkey_read).

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

size_t SkipBlanks(std::string_view s, size_t pos) {
  while (pos < s.size() && IsBlank(s[pos])) ++pos;
  return pos;
}

size_t TokenEnd(std::string_view s, size_t pos) {
  while (pos < s.size() && !IsBlank(s[pos])) ++pos;
  return pos;
}

// sshkey_read(): "type base64 [comment]" at `pos`. Returns the key and sets `comment`.
StatusOr<KeyInfo> ReadKey(std::string_view line, size_t pos, std::string* comment) {
  size_t type_end = TokenEnd(line, pos);
  if (type_end == line.size()) return Bad("no key after the key type");
  const TypeDef* line_type = FindType(line.substr(pos, type_end - pos));
  if (line_type == nullptr) return Bad("not a key: unknown key type");
  size_t blob_start = SkipBlanks(line, type_end);
  if (blob_start == line.size()) return Bad("no key after the key type");
  size_t blob_end = TokenEnd(line, blob_start);
  auto blob = DecodeBase64(line.substr(blob_start, blob_end - blob_start));
  if (!blob) return Bad(std::string(line_type->canonical) + " key: invalid base64");
  auto key = ParseBlobInternal(*blob, /*allow_cert=*/true);
  if (!key.ok()) return Bad(std::string(line_type->canonical) + " key: " + key.status().message());
  if (key->type != line_type->canonical) {
    return Bad("key type mismatch: the line says " + std::string(line_type->canonical) +
               ", the key blob is " + key->type);
  }
  std::string_view rest = line.substr(SkipBlanks(line, blob_end));
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) {
    rest.remove_suffix(1);
  }
  *comment = std::string(rest);
  return key;
}

bool IsPemPrivateKeyBegin(std::string_view trimmed) {
  return trimmed.starts_with("-----BEGIN ") &&
         trimmed.find("PRIVATE KEY") != std::string_view::npos;
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  int state = 0;
  unsigned acc = 0;  // pending bits of a partial byte
  size_t i = 0;
  for (; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) continue;
    if (c == '=') break;
    int v = value(c);
    if (v < 0) return std::nullopt;
    switch (state) {
      case 0:
        acc = static_cast<unsigned>(v) << 2;
        break;
      case 1:
        out.push_back(static_cast<char>(acc | (static_cast<unsigned>(v) >> 4)));
        acc = (static_cast<unsigned>(v) & 0x0f) << 4;
        break;
      case 2:
        out.push_back(static_cast<char>(acc | (static_cast<unsigned>(v) >> 2)));
        acc = (static_cast<unsigned>(v) & 0x03) << 6;
        break;
      case 3:
        out.push_back(static_cast<char>(acc | static_cast<unsigned>(v)));
        acc = 0;
        break;
    }
    state = (state + 1) % 4;
  }
  if (i == text.size()) {
    // Ended without padding: no partial byte may be left over.
    if (state != 0) return std::nullopt;
    return out;
  }
  // A pad character at text[i].
  ++i;
  auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  switch (state) {
    case 0:
    case 1:
      return std::nullopt;  // "=" in the first or second position of a quantum
    case 2:
      skip_space();
      if (i >= text.size() || text[i] != '=') return std::nullopt;
      ++i;
      break;
    default:
      break;
  }
  skip_space();
  if (i != text.size()) return std::nullopt;  // only whitespace may follow the padding
  if (acc != 0) return std::nullopt;          // leftover bits must be zero (no side channel)
  return out;
}

std::string FingerprintSha256(std::string_view blob) {
  // Base64 (RFC 4648, section 4) without padding, as sshkey_fingerprint_b64() prints it.
  const Sha256Digest md = Sha256(blob);
  std::string b64 =
      Base64Encode(std::string_view(reinterpret_cast<const char*>(md.data()), md.size()));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

std::optional<std::string> CanonicalKeyType(std::string_view name) {
  const TypeDef* t = FindType(name);
  if (t == nullptr) return std::nullopt;
  return std::string(t->canonical);
}

StatusOr<KeyInfo> ParseKeyBlob(std::string_view blob) {
  return ParseBlobInternal(blob, /*allow_cert=*/true);
}

StatusOr<json> ParseKeyOptions(std::string_view options) {
  json out = json::object();
  if (Status s = ParseOptionsInto(options, out); !s.ok()) return s;
  return out;
}

std::optional<StatusOr<ParsedKey>> ParseLine(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return StatusOr<ParsedKey>(Bad("line of " + std::to_string(line.size()) +
                                   " bytes is longer than " + std::to_string(kMaxLineBytes) +
                                   "; not parsed"));
  }
  // sshd stops at a NUL (C strings); the caller reports the NUL itself.
  line = line.substr(0, line.find('\0'));
  size_t start = SkipBlanks(line, 0);
  std::string_view rest = line.substr(start);
  bool blank = true;
  for (char c : rest) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      blank = false;
      break;
    }
  }
  if (blank || rest.front() == '#') return std::nullopt;

  ParsedKey parsed;
  // A bare key first; if the first word is a key type, its errors are the line's errors.
  size_t first_end = TokenEnd(line, start);
  bool starts_with_type = FindType(line.substr(start, first_end - start)) != nullptr;
  auto bare = ReadKey(line, start, &parsed.comment);
  if (bare.ok()) {
    parsed.key = std::move(*bare);
    return StatusOr<ParsedKey>(std::move(parsed));
  }
  if (starts_with_type) return StatusOr<ParsedKey>(bare.status());

  // Otherwise options, then the key (sshkey_advance_past_options: quotes may hold blanks).
  size_t pos = start;
  bool quoted = false;
  for (; pos < line.size() && (quoted || !IsBlank(line[pos])); ++pos) {
    if (line[pos] == '\\' && pos + 1 < line.size() && line[pos + 1] == '"') {
      ++pos;
    } else if (line[pos] == '"') {
      quoted = !quoted;
    }
  }
  if (quoted) return StatusOr<ParsedKey>(Bad("invalid key option string: missing end quote"));
  size_t key_start = SkipBlanks(line, pos);
  if (key_start == line.size()) return StatusOr<ParsedKey>(Bad("not a key line"));
  auto key = ReadKey(line, key_start, &parsed.comment);
  if (!key.ok()) {
    size_t type_end = TokenEnd(line, key_start);
    if (FindType(line.substr(key_start, type_end - key_start)) == nullptr) {
      return StatusOr<ParsedKey>(Bad("not a key line"));
    }
    return StatusOr<ParsedKey>(key.status());
  }
  auto options = ParseKeyOptions(line.substr(start, pos - start));
  if (!options.ok()) {
    return StatusOr<ParsedKey>(
        Bad("bad key options: " + options.status().message() + "; sshd ignores this key"));
  }
  parsed.key = std::move(*key);
  parsed.options = std::move(*options);
  return StatusOr<ParsedKey>(std::move(parsed));
}

ParsedFile ParseFile(std::string_view text) {
  ParsedFile out;
  int64_t number = 0;
  int64_t pem_begin = 0;  // line of an open private key block, 0 when none
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    ++number;
    pos = nl == std::string_view::npos ? text.size() : nl + 1;

    std::string_view trimmed = line.substr(SkipBlanks(line, 0));
    if (pem_begin != 0) {
      if (trimmed.starts_with("-----END ")) {
        out.errors.push_back(
            {pem_begin, "private key material (PEM block, lines " + std::to_string(pem_begin) +
                            "-" + std::to_string(number) + "); not shown and not parsed"});
        pem_begin = 0;
      }
      continue;
    }
    if (IsPemPrivateKeyBegin(trimmed)) {
      out.private_key_material = true;
      pem_begin = number;
      continue;
    }
    if (line.find('\0') != std::string_view::npos) {
      out.errors.push_back({number, "line contains a NUL byte; sshd reads it only up to there"});
    }
    auto parsed = ParseLine(line);
    if (!parsed) continue;
    if (!parsed->ok()) {
      out.errors.push_back({number, parsed->status().message(), line.size() > kMaxLineBytes});
      continue;
    }
    ParsedKey key = std::move(parsed->value());
    key.line = number;
    out.keys.push_back(std::move(key));
  }
  if (pem_begin != 0) {
    out.errors.push_back({pem_begin, "private key material (PEM block from line " +
                                         std::to_string(pem_begin) +
                                         " to the end of the file); not shown and not parsed"});
  }
  return out;
}

}  // namespace tidemark::agent::authorized_keys
