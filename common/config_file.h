// The configuration files of tidemark-collector (--config) and `tidemark-agent run --config`:
// one "key = value" per line, '#' starts a comment line, blank lines ignored, surrounding blanks
// trimmed, a key at most once. Every key is also accepted as a command-line flag `--key value`
// (the flag wins), so the file and the flags are one namespace; see ApplyConfig.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark {

struct ConfigValue {
  std::string value;
  std::string origin;  // "FILE:LINE" or "--flag", for error messages
};
using ConfigMap = std::map<std::string, ConfigValue>;

// Parses config text. kInvalidArgument names path:line for a line without '=', an empty key,
// a key with characters other than [a-z0-9_], a repeated key, or a NUL byte.
StatusOr<ConfigMap> ParseConfigText(std::string_view text, const std::string& path);
// Reads (at most 1 MiB) and parses a config file; errors name the path.
StatusOr<ConfigMap> ReadConfigFile(const std::string& path);

// Parses "--key value" / "--key=value" flags (argv after the command) on top of `config`, keys
// with '-' mapped to '_' ("--max-connections" = "max_connections"). Flags listed in
// `boolean_flags` take no value ("true"). Positional arguments are returned in `positional`.
// kInvalidArgument names an unknown key (not in `known_keys`) or a flag without its value.
Status ApplyFlags(const std::vector<std::string>& args, const std::vector<std::string>& known_keys,
                  const std::vector<std::string>& boolean_flags, ConfigMap* config,
                  std::vector<std::string>* positional);
// Checks that every key of `config` is in `known_keys`; names the first unknown one and its
// origin.
Status CheckKnownKeys(const ConfigMap& config, const std::vector<std::string>& known_keys);

// Typed getters: `fallback` when absent; kInvalidArgument naming key, origin and value when
// malformed or outside [min, max].
StatusOr<int64_t> GetInt(const ConfigMap& config, const std::string& key, int64_t fallback,
                         int64_t min, int64_t max);
StatusOr<bool> GetBool(const ConfigMap& config, const std::string& key, bool fallback);
std::string GetString(const ConfigMap& config, const std::string& key, const std::string& fallback);

}  // namespace tidemark
