// What the tidemarkctl command groups share: the context every command runs in (the global
// --db, the output streams, the exit code), their error lines (usage: exit 2, failure: exit 1,
// text escaped and bounded), the options several commands take, and host globs.
// Every command group registers its subcommands on the CLI11 app (commands.h); their callbacks
// run once the whole command line is parsed and valid.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/rules.h"
#include "common/snapshot_verify.h"
#include "common/status.h"

namespace tidemark::ctl {

constexpr const char* kDefaultDb = "/var/lib/tidemark/tidemark.db";

// What a command's callback reads (the global --db, the streams) and sets (its exit code).
struct CtlContext {
  std::string db = kDefaultDb;
  std::ostream& out;
  std::ostream& err;
  int rc = 0;
};

// Bounds of text that a host, an agent or a file wrote, in output (escaped and cut by Safe):
// a field (ids, versions, times), a finding's title, item id, location or detail, a message.
constexpr size_t kMaxFieldBytes = 256;
constexpr size_t kMaxItemBytes = 512;
constexpr size_t kMaxMessageBytes = 1024;

// Text that a host, an agent or a file wrote, made safe for a terminal and for a tab-separated
// row (common/text.h escapes control characters, tabs and newlines) and cut to `max_bytes`.
std::string Safe(std::string_view text, size_t max_bytes = kMaxFieldBytes);

// "tidemarkctl: MESSAGE" and a hint to `tidemarkctl [COMMAND] --help` on `err`; returns 2.
int Usage(std::ostream& err, const std::string& message, const std::string& command = "");
// "tidemarkctl: MESSAGE" on `err`; returns 1.
int Fail(std::ostream& err, const std::string& message);
int Fail(std::ostream& err, const Status& status);

// Adds `--format FORMAT` to `command`, one of `choices` (the first is the default).
CLI::Option* AddFormat(CLI::App& command, std::string& format,
                       const std::vector<std::string>& choices);
// Adds the option `name` taking a TIME (ParseTimeArgument: RFC 3339, or a date meaning its
// start in UTC) to `command`; sets `at` to seconds since the epoch. AddAt adds `--at TIME`.
CLI::Option* AddTime(CLI::App& command, const std::string& name, std::optional<int64_t>& at,
                     const std::string& help);
CLI::Option* AddAt(CLI::App& command, std::optional<int64_t>& at, const std::string& help);
// A table cell as text: a string as it is, null as `null_text`, anything else as JSON (invalid
// UTF-8 replaced, never a throw).
std::string CellText(const nlohmann::json& v, std::string_view null_text);

// A --since argument: a TIME (ParseTimeArgument), or a duration (ParseDuration) counted back
// from `now`; an error names the option and the text.
StatusOr<int64_t> ParseSince(const std::string& text, int64_t now);
// Adds the option `name` taking a duration (ParseDuration: 26h, 90m, 2d) to `command`; sets
// `seconds`.
CLI::Option* AddDuration(CLI::App& command, const std::string& name, int64_t& seconds,
                         const std::string& help);
// Adds an option `name` taking a severity (critical, high, medium, low, info) to `command`.
CLI::Option* AddSeverity(CLI::App& command, const std::string& name, policy::Severity& level,
                         const std::string& help);
// Adds `--host GLOB` (repeatable) to `command`: only hosts that match one (HostMatches).
// Inline: compiled out of line, GCC 12 warns of a null dereference in CLI11's split.
inline CLI::Option* AddHostGlobs(CLI::App& command, std::vector<std::string>& globs) {
  return command.add_option("--host", globs, "only hosts that match GLOB (repeatable)")
      ->type_name("GLOB");
}

// Adds `--register FILE` (returned) and `--policies DIR|FILE` (the rules a `{rule: ID}` cover
// names; sets `policies_given`) to `command`. Inline for the reason AddHostGlobs is.
inline CLI::Option* AddRegisterOptions(CLI::App& command, std::string& register_file,
                                       std::string& policies, bool& policies_given) {
  command
      .add_option_function<std::string>(
          "--policies",
          [&policies, &policies_given](const std::string& p) {
            policies = p;
            policies_given = true;
          },
          "the rules a {rule: ID} cover names")
      ->type_name("DIR|FILE");
  return command.add_option("--register", register_file, "the exception register (YAML)")
      ->type_name("FILE");
}

// Adds the command `name` to `parent`, listed under `group` in the help, with `footer`; its
// callback sets ctx.rc to run(*args, ctx).
template <typename Args>
CLI::App* AddCommand(CLI::App& parent, const std::string& group, CtlContext& ctx,
                     std::shared_ptr<Args> args, const std::string& name,
                     const std::string& description, const std::string& footer,
                     int (*run)(const Args&, CtlContext&)) {
  CLI::App* command = parent.add_subcommand(name, description);
  command->group(group);
  command->footer(footer);
  command->callback([&ctx, args = std::move(args), run] { ctx.rc = run(*args, ctx); });
  return command;
}

// Who runs this command, for the audit trail: the effective user, and the sudo caller when
// there is one (SUDO_USER is set by sudo; a user could set it, but only for their own run).
std::string InvokingUser();

// Stores a verified snapshot `text` for `host` in the store ctx.db (created if missing), marked
// `imported_by`, received at `received_at`; prints the result in `format` (text, json). Returns
// the exit code. The tail of import and pull (store.cpp).
int StoreImported(CtlContext& ctx, const std::string& host, const std::string& text,
                  const VerifiedSnapshot& snapshot, int64_t received_at,
                  const std::string& imported_by, const std::string& format);

// Issues the agent certificate of `host` (CN) in the CA directory `dir` (`pki init`) as
// DIR/agents/HOST.crt and .key, unless a key is there already and not `renew`; true when made
// (pki.cpp: `pki issue` and deploy).
StatusOr<bool> IssueAgentCertificate(const std::string& dir, const std::string& host, int days,
                                     bool renew);

// Checks that a value is a host id (protocol::IsValidHostId).
CLI::Validator HostId();

// True when `globs` is empty or one of them (fnmatch) matches `host`.
bool HostMatches(const std::vector<std::string>& globs, const std::string& host);

}  // namespace tidemark::ctl
