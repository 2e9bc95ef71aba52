// Algorithm lists for the sshd_config files (internal to them). Source of truth: OpenSSH 9.2p1
// kex.c kex_assemble_names(), kex_names_valid(); match.c match_filter_allowlist(),
// match_filter_denylist(); cipher.c ciphers_valid(); mac.c mac_valid(); sshkey.c
// sshkey_names_valid2().
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tidemark::agent::sshd::internal {

// Returns the comma-separated names of `s` ("" is one empty name).
std::vector<std::string> SplitComma(std::string_view s);
// Returns the names of `proposal` that match a pattern of `filter` (allow) or match none (deny).
std::string FilterList(std::string_view proposal, std::string_view filter, bool allow);
// kex_assemble_names(): the list `list` ("+", "-" or "^" prefixed, or plain) makes of the default
// `def` and the supported names `all`; nullopt where sshd fails ("no valid algorithms").
std::optional<std::string> AssembleNames(const std::optional<std::string>& list,
                                         const std::string& def, const std::string& all);
// Returns whether every name of `names` is one of `all` (ciphers_valid() and the like).
bool NamesValid(std::string_view names, const std::string& all, bool wildcards);

}  // namespace tidemark::agent::sshd::internal
