// authorized_keys parsing as OpenSSH 9.2 sshd(8) does it: lines, key options, key blobs.
//
// Sources of truth: sshd(8) AUTHORIZED_KEYS FILE FORMAT; auth2-pubkeyfile.c
// auth_check_authkey_line(); sshkey.c sshkey_read(), sshkey_advance_past_options(),
// sshkey_from_blob_internal(), sshkey_fingerprint() (SHA256 of the plain public blob);
// auth-options.c sshauthopt_parse(); misc.c opt_flag/opt_match/opt_dequote; b64_pton().
// Errors never quote file content: a pasted private key or other secret may sit in any line.
// Pure functions over bytes; no I/O; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::agent::authorized_keys {

// OpenSSH's historic per-line bound for key files (ssh.h SSH_MAX_PUBKEY_BYTES). sshd 9.2 reads
// authorized_keys with getline(3) and has no limit; longer lines are reported, not parsed.
inline constexpr size_t kMaxLineBytes = 16384;

struct CertificateInfo {
  std::string cert_type;  // "user" or "host"
  uint64_t serial = 0;
  std::string key_id;
  std::vector<std::string> principals;
  uint64_t valid_after = 0;
  uint64_t valid_before = 0;
  std::vector<std::string> critical_options;  // names only
  std::vector<std::string> extensions;        // names only
  std::string ca_type;                        // the signing key's type
  std::string ca_fingerprint;                 // "SHA256:..."
};

struct KeyInfo {
  std::string type;         // the blob's canonical type name, e.g. "ssh-ed25519"
  int bits = 0;             // as ssh-keygen -l reports (sshkey_size)
  std::string fingerprint;  // "SHA256:" + unpadded base64 of SHA-256 of the plain public blob
  std::optional<CertificateInfo> certificate;
};

// Decodes base64 exactly as OpenBSD b64_pton() does (as sshd does): whitespace ignored, padding
// required to a multiple of 4, non-zero bits after the last byte rejected. nullopt if invalid.
std::optional<std::string> DecodeBase64(std::string_view text);

// Returns "SHA256:" + unpadded base64 of SHA-256(blob), the ssh-keygen -l format.
std::string FingerprintSha256(std::string_view blob);

// Returns the canonical key type for a type name as sshkey_type_from_name() accepts it (exact
// case), mapping signature-only aliases ("rsa-sha2-256") to their key type; nullopt if unknown.
std::optional<std::string> CanonicalKeyType(std::string_view name);

// Parses a decoded public key (or certificate) blob in SSH wire format.
StatusOr<KeyInfo> ParseKeyBlob(std::string_view blob);

// Parses an authorized_keys options string (up to the first unquoted blank) as
// sshauthopt_parse() does. Returns an object: option name (canonical spelling, e.g.
// "no-X11-forwarding") -> true, or a string value; "environment", "permitopen", "permitlisten"
// and "expiry-time" may repeat and are arrays. Errors use sshd's reasons.
StatusOr<nlohmann::json> ParseKeyOptions(std::string_view options);

struct ParsedKey {
  int64_t line = 0;
  KeyInfo key;
  nlohmann::json options = nlohmann::json::object();
  std::string comment;
};

struct LineError {
  int64_t line = 0;
  std::string message;      // never quotes the line
  bool not_parsed = false;  // over kMaxLineBytes: sshd 9.2 would still read it
};

struct ParsedFile {
  std::vector<ParsedKey> keys;
  std::vector<LineError> errors;
  bool private_key_material = false;  // a PEM "PRIVATE KEY" block was found (and skipped)
};

// Parses one line (without its "\n"). Returns nullopt for blank and comment lines.
std::optional<StatusOr<ParsedKey>> ParseLine(std::string_view line);

// Parses a whole authorized_keys file.
ParsedFile ParseFile(std::string_view text);

}  // namespace tidemark::agent::authorized_keys
