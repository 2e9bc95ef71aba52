#include "agent/sections/sshd.h"

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "agent/file_meta.h"
#include "agent/parsers/sshd_config.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

// Caps on the lists a hostile configuration tree could grow (docs/sections/sshd.md, "Bounds");
// the parser bounds the work (files, bytes, lines) behind them.
constexpr size_t kMaxIssues = 1000;
constexpr size_t kMaxMatchBlocks = 1000;
constexpr size_t kMaxMatchSettings = 10000;  // in all blocks
constexpr size_t kMaxUsersEvaluated = 1000;  // user_settings: users of /etc/passwd evaluated

// `sshd -T` output as keyword -> its lines' values, in order.
using Dumped = std::map<std::string, std::vector<std::string>>;

Dumped ByKeyword(const std::vector<std::string>& lines) {
  Dumped out;
  for (const std::string& l : lines) {
    size_t sp = l.find(' ');
    out[l.substr(0, sp)].push_back(sp == std::string::npos ? "" : l.substr(sp + 1));
  }
  return out;
}

// A keyword's value as `effective` writes it: a repeating keyword its lines, any other its last
// line ("" when it printed none).
json KeywordValue(const std::string& keyword, const std::vector<std::string>& values) {
  if (sshd::IsRepeatingKeyword(keyword)) return values;
  return values.empty() ? "" : values.back();
}

// user_settings: for each user of /etc/passwd (first entry of a name, at most
// kMaxUsersEvaluated), the keywords whose lines `sshd -T -C user=USER` prints differently from
// the global `global` lines: Match User and Group blocks applied; blocks on Host, Address,
// LocalAddress, LocalPort and RDomain never match (no connection is given). Without any Match
// block no user can differ, and nothing is evaluated.
json UserSettings(const sshd::SshdConfig& config, const AccountDb& db, const Dumped& global,
                  Section& out) {
  json items = json::array();
  if (config.match_blocks().empty()) return items;
  std::set<std::string> seen;
  size_t users = 0;
  for (const PasswdEntry& u : db.users) {
    if (!seen.insert(u.name).second) continue;
    if (users++ == kMaxUsersEvaluated) {
      out.NoteTruncated("user_settings_users", kMaxUsersEvaluated, db.users.size());
      break;
    }
    sshd::ConnectionSpec spec;
    spec.user = u.name;
    spec.lport = -1;  // no connection: Match LocalPort blocks do not apply (not an error)
    auto lines = config.Dump(spec);
    if (!lines.ok()) {
      out.AddError(
          std::string(sshd::kSshdConfigPath), std::nullopt,
          "sshd -T -C user=" + HostName(u.name) + " would stop: " + lines.status().message());
      continue;
    }
    Dumped mine = ByKeyword(*lines);
    std::set<std::string> keywords;
    for (const auto& [k, v] : mine) keywords.insert(k);
    for (const auto& [k, v] : global) keywords.insert(k);
    for (const std::string& k : keywords) {
      auto m = mine.find(k);
      auto g = global.find(k);
      std::vector<std::string> none;
      const std::vector<std::string>& mv = m == mine.end() ? none : m->second;
      const std::vector<std::string>& gv = g == global.end() ? none : g->second;
      if (mv == gv) continue;
      items.push_back({{"id", "sshd_user_setting:" + HostName(u.name) + ":" + k},
                       {"user", HostName(u.name)},
                       {"keyword", k},
                       {"value", KeywordValue(k, mv)}});
    }
  }
  return items;
}

json Source(const std::string& file, int64_t line) {
  return {{"file", file}, {"line", line > 0 ? json(line) : json(nullptr)}};
}

}  // namespace

namespace {

// sshd's configuration problems as the section's errors, at most kMaxIssues; the last one,
// the fatal one when sshd would not start, is always kept.
void ReportIssues(const sshd::SshdConfig& config, Section& out) {
  const auto& issues = config.issues();
  for (size_t i = 0; i < issues.size(); ++i) {
    if (i >= kMaxIssues && i + 1 < issues.size()) {
      if (i == kMaxIssues) {
        out.AddError("", std::nullopt,
                     std::to_string(issues.size() - kMaxIssues - 1) +
                         " more configuration problems not listed");
      }
      continue;
    }
    const auto& issue = issues[i];
    out.AddError(issue.path, issue.line > 0 ? std::optional<int64_t>(issue.line) : std::nullopt,
                 issue.message);
  }
}

// The Match blocks with what each sets, bounded by kMaxMatchBlocks and kMaxMatchSettings.
json MatchBlocksJson(const sshd::SshdConfig& config, Section& out) {
  json blocks = json::array();
  size_t settings_total = 0;
  for (const auto& b : config.match_blocks()) {
    if (blocks.size() >= kMaxMatchBlocks ||
        settings_total + b.settings.size() > kMaxMatchSettings) {
      out.NoteTruncated("match_blocks", blocks.size(), config.match_blocks().size());
      break;
    }
    settings_total += b.settings.size();
    json settings = json::array();
    for (const auto& s : b.settings) {
      settings.push_back(
          {{"keyword", s.keyword}, {"value", s.value}, {"source", Source(s.file, s.line)}});
    }
    blocks.push_back({{"id", "sshd_match:" + b.file + ":" + std::to_string(b.line)},
                      {"criteria", b.criteria},
                      {"settings", std::move(settings)},
                      {"source", Source(b.file, b.line)}});
  }
  return blocks;
}

// Every file sshd reads (sshd_config and its Includes), with where it was included from.
json FilesJson(const sshd::SshdConfig& config, const AccountDb& db) {
  json files = json::array();
  for (const auto& f : config.files()) {
    json j = {{"id", "sshd_file:" + f.path},
              {"path", f.path},
              {"included_from", f.included_from.empty()
                                    ? json(nullptr)
                                    : json(Source(f.included_from, f.included_from_line))},
              {"read", f.error.empty()},
              {"error", f.error.empty() ? json(nullptr) : json(f.error)}};
    AddFileMeta(j, f.info, db);
    j["source"] = Source(f.included_from.empty() ? f.path : f.included_from, f.included_from_line);
    files.push_back(std::move(j));
  }
  return files;
}

}  // namespace

void SshdReader::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  const AccountDb& db = ctx.accounts();
  sshd::BuildDetection build = sshd::DetectSshdBuild(fs);
  out.data["config_file"] = std::string(sshd::kSshdConfigPath);
  out.data["defaults_source"] = {
      {"build", sshd::Debian12Build().name},
      {"package", "openssh-server"},
      {"package_version", build.package_version ? json(*build.package_version) : json(nullptr)},
      {"matches_installed", build.matches},
      {"note", build.note}};
  std::shared_ptr<const sshd::SshdConfig> shared = ctx.sshd_config();
  const sshd::SshdConfig& config = *shared;
  if (config.main_missing()) {
    out.status = SectionStatus::kNotApplicable;
    out.data["present"] = false;
    out.data["would_start"] = nullptr;
    out.data["effective"] = nullptr;
    out.data["user_settings"] = nullptr;
    out.data["match_blocks"] = json::array();
    out.data["files"] = json::array();
    return;
  }
  out.data["present"] = true;
  out.data["would_start"] = config.would_start();
  ReportIssues(config, out);
  json effective = nullptr;
  json user_settings = nullptr;
  if (config.would_start()) {
    sshd::ConnectionSpec none;
    none.lport = -1;  // no connection: Match LocalPort blocks do not apply (not an error)
    auto lines = config.Dump(none);
    if (lines.ok()) {
      Dumped global = ByKeyword(*lines);
      user_settings = UserSettings(config, db, global, out);
      effective = json::object();
      for (const auto& [key, values] : global) effective[key] = KeywordValue(key, values);
      for (const char* k :
           {"port", "listenaddress", "hostkey", "hostcertificate", "allowusers", "denyusers",
            "allowgroups", "denygroups", "acceptenv", "setenv", "subsystem"}) {
        if (!effective.contains(k)) effective[k] = json::array();
      }
    } else {
      out.AddError(std::string(sshd::kSshdConfigPath), std::nullopt,
                   "sshd -T would stop: " + lines.status().message());
    }
  }
  out.data["effective"] = std::move(effective);
  out.data["user_settings"] = std::move(user_settings);
  out.data["match_blocks"] = MatchBlocksJson(config, out);
  out.data["files"] = FilesJson(config, db);
  if (!config.would_start()) {
    out.data["would_start_reason"] =
        config.issues().empty() ? json(nullptr) : json(config.issues().back().message);
  }
}

SshKeysSettingsFactory SshdAuthorizedKeysSettings() {
  SshKeysSettingsFactory factory;
  factory.make = [](CollectContext& ctx) -> AuthorizedKeysSettingsFn {
    std::shared_ptr<const sshd::SshdConfig> config = ctx.sshd_config();
    if (config->main_missing()) {
      return [](const PasswdEntry&) { return AuthorizedKeysSettings{}; };
    }
    return [config](const PasswdEntry& user) {
      AuthorizedKeysSettings s;
      if (!config->would_start()) {
        s.incomplete_reasons.push_back(
            "sshd would not start with its configuration; sshd_config(5) defaults assumed");
        return s;
      }
      sshd::UserKeySettings k = config->ForUser(user.name);
      s.files = k.files;
      s.command = k.command;
      for (const auto& where : k.undecided) {
        s.incomplete_reasons.push_back(
            "Match block at " + where +
            " sets AuthorizedKeysFile/AuthorizedKeysCommand depending on the connection "
            "(host, address, port); the files it names may apply too");
      }
      return s;
    };
  };
  return factory;
}

}  // namespace tidemark::agent
