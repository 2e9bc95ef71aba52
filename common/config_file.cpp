// config_file.h: key = value files and flags.
#include "common/config_file.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "common/read_file.h"

namespace tidemark {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ValidKey(std::string_view key) {
  return !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Status Invalid(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}

}  // namespace

StatusOr<ConfigMap> ParseConfigText(std::string_view text, const std::string& path) {
  ConfigMap out;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    std::string where = path + ":" + std::to_string(line_no);
    if (line.find('\0') != std::string_view::npos) return Invalid(where + ": NUL byte");
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return Invalid(where + ": expected \"key = value\"");
    std::string key(Trim(line.substr(0, eq)));
    if (!ValidKey(key)) return Invalid(where + ": invalid key (use lowercase letters, digits, _)");
    if (out.count(key) != 0) {
      return Invalid(where + ": \"" + key + "\" already set at " + out[key].origin);
    }
    out[key] = ConfigValue{std::string(Trim(line.substr(eq + 1))), where};
  }
  return out;
}

StatusOr<ConfigMap> ReadConfigFile(const std::string& path) {
  // Only a regular file of at most 1 MiB: a FIFO in its place would stall the daemon's start.
  StatusOr<std::string> text = ReadRegularFile(path, 1u << 20);
  if (!text.ok()) return text.status();
  return ParseConfigText(*text, path);
}

Status ApplyFlags(const std::vector<std::string>& args, const std::vector<std::string>& known_keys,
                  const std::vector<std::string>& boolean_flags, ConfigMap* config,
                  std::vector<std::string>* positional) {
  auto known = [&](const std::string& k) {
    return std::find(known_keys.begin(), known_keys.end(), k) != known_keys.end();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      positional->push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    std::string key = name;
    std::replace(key.begin(), key.end(), '-', '_');
    if (!known(key)) return Invalid("unknown option --" + name);
    bool boolean =
        std::find(boolean_flags.begin(), boolean_flags.end(), key) != boolean_flags.end();
    if (!value) {
      if (boolean) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Invalid("option --" + name + " needs a value");
      }
    }
    (*config)[key] = ConfigValue{*value, "--" + name};
  }
  return Status::Ok();
}

Status CheckKnownKeys(const ConfigMap& config, const std::vector<std::string>& known_keys) {
  for (const auto& [key, v] : config) {
    if (std::find(known_keys.begin(), known_keys.end(), key) == known_keys.end()) {
      return Invalid(v.origin + ": unknown key \"" + key + "\"");
    }
  }
  return Status::Ok();
}

StatusOr<int64_t> GetInt(const ConfigMap& config, const std::string& key, int64_t fallback,
                         int64_t min, int64_t max) {
  auto it = config.find(key);
  if (it == config.end()) return fallback;
  const std::string& s = it->second.value;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return Invalid(it->second.origin + ": " + key + " must be an integer, not \"" +
                   s.substr(0, 40) + "\"");
  }
  if (v < min || v > max) {
    return Invalid(it->second.origin + ": " + key + " must be between " + std::to_string(min) +
                   " and " + std::to_string(max));
  }
  return v;
}

StatusOr<bool> GetBool(const ConfigMap& config, const std::string& key, bool fallback) {
  auto it = config.find(key);
  if (it == config.end()) return fallback;
  const std::string& s = it->second.value;
  if (s == "true" || s == "yes" || s == "1") return true;
  if (s == "false" || s == "no" || s == "0") return false;
  return Invalid(it->second.origin + ": " + key + " must be true or false");
}

std::string GetString(const ConfigMap& config, const std::string& key,
                      const std::string& fallback) {
  auto it = config.find(key);
  return it == config.end() ? fallback : it->second.value;
}

}  // namespace tidemark
