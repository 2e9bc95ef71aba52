// SshdConfig's private parts, internal to its implementation files (not for sections):
// sshd_config.cpp reads the files (servconf.c load_server_config(), parse_server_config_depth(),
// process_server_config_line_depth()), sshd_evaluate.cpp applies defaults and Match
// (fill_default_server_options(), copy_set_server_options()), sshd_dump.cpp prints
// (dump_config()). Options mirrors OpenSSH 9.2p1 servconf.h ServerOptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/parsers/account_db.h"
#include "agent/parsers/sshd_config.h"
#include "agent/parsers/sshd_defaults.h"
#include "agent/parsers/sshd_keywords.h"
#include "common/fs.h"

namespace tidemark::agent::sshd {
namespace internal {

// One configuration line, tokenized once.
struct Line {
  int64_t number = 0;
  std::string keyword;
  const Keyword* kw = nullptr;      // nullptr: unknown keyword
  std::optional<std::string> rest;  // sshd's `str` after the keyword (nullopt: none)
  std::vector<std::string> args;
  bool quote_error = false;
  bool too_long = false;
};

struct ConfigFileText {
  std::string path;
  std::vector<Line> lines;
};

inline constexpr size_t kMaxLineBytes = 1 << 20;
inline constexpr uint64_t kMaxFileBytes = 16ull << 20;
inline constexpr int kMaxDepth = 16;  // SERVCONF_MAX_DEPTH
// tidemark's own bounds against a hostile tree (docs/sections/sshd.md, "Bounds"); sshd has
// none beyond the depth, and its own `sshd -T` would take as long. Exceeding one is fatal
// for the evaluation (would_start false, with the bound named in the issue).
inline constexpr size_t kMaxFiles = 1000;                    // files read, includes included
inline constexpr uint64_t kMaxTotalBytes = 16ull << 20;      // text of all files read
inline constexpr uint64_t kMaxTokenizedBytes = 64ull << 20;  // tokenized lines held, estimated
inline constexpr uint64_t kMaxLineVisits = 200000;           // lines processed by one pass

// Options (servconf.h ServerOptions): unset values are absent.

struct Listen {
  std::optional<std::string> addr;
  std::optional<std::string> rdomain;
  int port = 0;
};

struct Options {
  std::map<Op, std::string> s;               // single values, printable form
  std::map<Op, std::vector<std::string>> a;  // lists
  std::vector<int> ports;
  std::vector<Listen> listens;
  std::vector<std::string> host_keys, host_certs;
  std::vector<std::pair<std::string, std::string>> subsystems;
  int ms_begin = -1, ms_rate = -1, ms_max = -1;
  std::optional<int> per_source_max;
  std::optional<std::pair<int, int>> netblock;
  std::optional<int> bind_mask;
  std::optional<int> ipqos_interactive, ipqos_bulk;
  std::optional<long long> rekey_limit;
  std::optional<int> rekey_interval;
  std::optional<std::string> fingerprint, log_facility;
  std::optional<int> permit_user_env;
  std::optional<std::string> permit_user_env_allowlist;
  std::optional<int> pubkey_auth_options;

  bool Has(Op op) const { return s.count(op) != 0; }
  void SetFirst(Op op, std::string v) { s.emplace(op, std::move(v)); }
};

// Thrown where sshd calls fatal(): the evaluation stops with this issue.
struct Fatal {
  ConfigIssue issue;
};

}  // namespace internal

struct SshdConfig::Impl {
  const SshdBuild* build = &Debian12Build();
  const AccountDb* accounts = nullptr;
  std::deque<internal::ConfigFileText> texts;  // [0] is the main file; stable references
  // Include cache (servconf.c include_list): selector -> file indexes (empty: no match).
  std::vector<std::pair<std::string, std::vector<size_t>>> includes;
  bool main_missing = false;
  bool would_start = true;
  std::vector<ConfigIssue> issues;
  std::vector<ConfigFileRecord> files;
  std::vector<MatchBlock> blocks;
  internal::Options first_pass;  // after the first pass, before defaults
  // Does any Match block set AuthorizedKeysFile/AuthorizedKeysCommand?
  std::vector<size_t> key_blocks;
  std::optional<UserKeySettings> global_keys;
  // ForUser results by the outcome of every Match line for the user: users whose Match lines
  // all evaluate alike get the same settings, so 10,000 users cost a few evaluations.
  std::map<std::string, UserKeySettings> user_cache;
  uint64_t bytes_read = 0;                               // against kMaxTotalBytes
  uint64_t token_budget = internal::kMaxTokenizedBytes;  // left for tokenized lines

  // State of one pass.
  struct Pass {
    internal::Options* o;
    const ConnectionSpec* ci;  // null in the first pass
    bool optimistic = false;   // unknown connection attributes count as matching
    bool record = false;       // record files, Match blocks (first pass)
    const Fs* fs = nullptr;
    int block = -1;
    uint64_t lines_left = internal::kMaxLineVisits;
  };

  [[noreturn]] void Die(const std::string& path, int64_t line, std::string message) {
    throw internal::Fatal{{path, line, std::move(message)}};
  }

  std::string Tilde(const std::string& path) const;
  std::string Derelativise(const std::string& path) const;
  int MatchLine(Pass& p, std::string criteria, const std::string& file, int64_t line);
  bool ProcessLine(Pass& p, const internal::ConfigFileText& f, const internal::Line& l,
                   bool* active, unsigned* flags, int depth);
  void ParseFile(Pass& p, size_t index, unsigned flags, bool* active, int depth);
  std::vector<std::string> Glob(const Fs& fs, const std::string& pattern) const;
  size_t LoadFile(const Fs& fs, const std::string& path, const std::string& from, int64_t line);
  internal::Options Evaluate(const ConnectionSpec& spec, bool optimistic) const;
  std::vector<std::string> Print(const internal::Options& o) const;
};

}  // namespace tidemark::agent::sshd
