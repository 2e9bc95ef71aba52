// RealHash: a real password hash made by the system's libxcrypt, for tests that must see the
// exact shapes of every crypt(5) method (link the test with `crypt`).
#pragma once

#include <crypt.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace tidemark::testing {

// Returns a real hash of `phrase` for `prefix` ("$y$", "$6$", ...), or "" when this libxcrypt
// cannot make one (method disabled at build time).
inline std::string RealHash(const char* prefix, const char* phrase) {
  char* setting = crypt_gensalt_ra(prefix, 0, nullptr, 0);
  if (setting == nullptr) return "";
  crypt_data data;
  std::memset(&data, 0, sizeof(data));
  char* hash = crypt_r(phrase, setting, &data);
  std::free(setting);
  if (hash == nullptr || hash[0] == '*') return "";
  return hash;
}

}  // namespace tidemark::testing
