// sshd_config(5) reader and evaluator: the effective server settings exactly as `sshd -T
// [-C spec]` of Debian 12's OpenSSH 9.2p1 prints them, computed offline from the root's files.
// Mirrors servconf.c: process_server_config_line_depth() (first value wins, Include with globs,
// Match with its two passes), match_cfg_line(), fill_default_server_options(),
// copy_set_server_options() and dump_config(); misc.c strdelim()/argv_split() tokenizing;
// match.c/addrmatch.c pattern and CIDR matching. Files are read once (Load); each evaluation
// (Dump, ForUser) re-runs only the Match pass over the cached lines. Plain value after Load.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/parsers/account_db.h"
#include "agent/parsers/sshd_defaults.h"
#include "common/fs.h"
#include "common/status.h"

namespace tidemark::agent::sshd {

inline constexpr std::string_view kSshdConfigPath = "/etc/ssh/sshd_config";

// sshd -C: the connection a Match is evaluated for. Unset fields match no criterion, as in
// sshd's test mode; lport 0 means "not given" (then `Match LocalPort` is an error, as in sshd).
struct ConnectionSpec {
  std::optional<std::string> user, host, addr, laddr, rdomain;
  int lport = 0;
};

// Parses "user=U,host=H,addr=A,laddr=L,lport=P,rdomain=R" (servconf.c
// parse_server_match_testspec); an error names the bad part.
StatusOr<ConnectionSpec> ParseConnectionSpec(std::string_view spec);

struct ConfigIssue {
  std::string path;
  int64_t line = 0;  // 0: not about one line
  std::string message;
};

struct ConfigSetting {
  std::string keyword;  // lowercase, as written
  std::string value;    // the arguments as written (after the keyword)
  std::string file;
  int64_t line = 0;
};

struct MatchBlock {
  std::string criteria;  // the text after "Match"
  std::string file;
  int64_t line = 0;
  std::vector<ConfigSetting> settings;  // in file order, including lines of included files
};

struct ConfigFileRecord {
  std::string path;
  std::string included_from;  // "" for the main file
  int64_t included_from_line = 0;
  std::optional<FileInfo> info;
  std::string error;  // "" when read
};

// What AuthorizedKeysFile/AuthorizedKeysCommand are for one user (sshd -C user=NAME).
struct UserKeySettings {
  std::vector<std::string> files;
  std::string command;  // "none" when unset
  // Match blocks that set either keyword and depend on what is only known at connection time
  // (Host, Address, LocalAddress, LocalPort, RDomain): "file:line" each.
  std::vector<std::string> undecided;
};

class SshdConfig {
 public:
  // Reads `main_path` and every file it includes, as sshd's first pass does. `accounts` (may be
  // null) resolves Match Group and "~user" paths.
  static SshdConfig Load(const Fs& fs, const AccountDb* accounts,
                         std::string_view main_path = kSshdConfigPath,
                         const SshdBuild& build = Debian12Build());

  // True when the main file was missing (sshd would not start; the section is not applicable).
  bool main_missing() const;
  // True when sshd would accept the configuration (no fatal problem found while loading).
  bool would_start() const;
  // Problems found, each with file and line; the first fatal one is why sshd would not start.
  const std::vector<ConfigIssue>& issues() const;
  const std::vector<ConfigFileRecord>& files() const;
  const std::vector<MatchBlock>& match_blocks() const;

  // Returns the lines `sshd -T -C spec` prints (without "\n"), or the error sshd would stop
  // with. Host keys are printed as sshd does without -h: configured ones, else the defaults.
  StatusOr<std::vector<std::string>> Dump(const ConnectionSpec& spec) const;

  // Returns the authorized keys settings in effect for `user` (Match User/Group applied).
  UserKeySettings ForUser(const std::string& user) const;

  SshdConfig();
  ~SshdConfig();
  SshdConfig(SshdConfig&&) noexcept;
  SshdConfig& operator=(SshdConfig&&) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Keywords `sshd -T` may print on several lines (effective value is a list).
bool IsRepeatingKeyword(std::string_view keyword);

}  // namespace tidemark::agent::sshd
