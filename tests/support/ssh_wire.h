// Helpers for tests that build or take apart OpenSSH public keys: base64, the SSH wire format
// of RFC 4251 (uint32 length + bytes), and the short type names ssh-keygen -l prints.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tidemark::testing {

// Returns standard padded base64 (OpenSSL as the encoder, independent of the code under test).
inline std::string Base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Returns `s` as an SSH wire string.
inline std::string WireString(std::string_view s) {
  std::string out;
  uint32_t n = static_cast<uint32_t>(s.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(s);
  return out;
}

// Splits a blob into its top-level wire strings (for plain keys, every field is a string).
inline std::vector<std::string> WireStrings(std::string_view blob) {
  std::vector<std::string> out;
  while (blob.size() >= 4) {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(blob[i]);
    out.emplace_back(blob.substr(4, n));
    blob.remove_prefix(4 + std::min<size_t>(n, blob.size() - 4));
  }
  return out;
}

// Returns the name ssh-keygen -l prints in parentheses for a key type ("RSA", "ED25519-SK",
// "ECDSA-CERT"...), or "?" for a type it would not know.
inline std::string ShortType(const std::string& type) {
  std::string base = type;
  bool cert = false;
  if (auto at = base.find("-cert-v01@openssh.com"); at != std::string::npos) {
    cert = true;
    base = base.substr(0, at);
    if (base.rfind("sk-", 0) == 0) base += "@openssh.com";
  }
  std::string s = "?";
  if (base == "ssh-rsa") s = "RSA";
  if (base == "ssh-dss") s = "DSA";
  if (base.rfind("ecdsa-sha2-", 0) == 0) s = "ECDSA";
  if (base == "ssh-ed25519") s = "ED25519";
  if (base == "sk-ecdsa-sha2-nistp256@openssh.com") s = "ECDSA-SK";
  if (base == "sk-ssh-ed25519@openssh.com") s = "ED25519-SK";
  return cert ? s + "-CERT" : s;
}

}  // namespace tidemark::testing
