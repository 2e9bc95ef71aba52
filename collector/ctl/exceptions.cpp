// `tidemarkctl exceptions` and `verify-revocations` (commands.h): the register's exceptions
// (common/policy/register.h) judged on every host in their scope from the states the collector
// stored (common/policy/exceptions.h decides; docs/exceptions.md).
#include "common/policy/exceptions.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "collector/ctl/commands.h"
#include "collector/ctl/fleet.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate_command.h"
#include "common/policy/exception_output.h"
#include "common/policy/register.h"
#include "common/time.h"

namespace tidemark::ctl {

namespace {

using policy::ExceptionVerdict;

constexpr const char* kStatusesHelp =
    "Statuses, decided at --now (default: the current time) from each host's latest state\n"
    "the collector received by then; the collector's receive time decides, never the agent's\n"
    "clock:\n"
    "  active      before the effective expiry (the earlier of `expires` and the phase's\n"
    "              end), and a covered item is present;\n"
    "  leftover    past the expiry, and the host, reporting at or after it, still shows a\n"
    "              covered item;\n"
    "  revoked     no covered item in a complete state reported at or after the expiry and\n"
    "              no older than --max-age DUR (default 26h); before the expiry: revoked early;\n"
    "  unverified  anything else: no snapshot since the expiry, a covered section missing or\n"
    "              incomplete, evidence older than --max-age, no host in scope.\n"
    "Each status names its evidence: the snapshot, when it was received and last reported\n"
    "(an unchanged state is reported again by `seen` records), and each covered item found\n"
    "with file:line. Rule covers ({rule: ID}) run that rule from --policies (DIR|FILE;\n"
    "default ";

constexpr const char* kExceptionsFooter =
    "Judges every exception of the register (docs/exceptions.md) on every host in its scope.\n"
    "--host GLOB and --status S (active, leftover, revoked, unverified; repeatable) filter.\n"
    "Text lists leftovers first, then unverified, active (soonest expiry first), revoked;\n"
    "JSON is {now, summary, verdicts}; CSV one row per exception and host.\n"
    "Exit codes: 0 listed, 1 an error (the register, the policies or the store cannot be\n"
    "read), 2 usage.\n";

constexpr const char* kVerifyFooter =
    "Proves that the extended rights were taken back: every exception whose effective\n"
    "expiry has passed by --now, on every host in its scope, must be `revoked` by fresh\n"
    "evidence. Output as `exceptions`.\n"
    "Exit codes: 0 every one revoked on every host (or none has expired); 5 one is a\n"
    "leftover; 6 none is a leftover but one is unverified; 1 an error; 2 usage.\n";

struct ExceptionsOptions {
  std::string register_file;
  std::string policies = policy::kDefaultPoliciesDir;
  bool policies_given = false;
  std::vector<std::string> hosts;     // globs
  std::vector<std::string> statuses;  // names
  std::optional<int64_t> now;
  int64_t max_age = policy::kDefaultMaxAgeSeconds;
  std::string format;
  bool verify = false;  // verify-revocations: only expired exceptions
};

int RunExceptions(const ExceptionsOptions& o, CtlContext& ctx) {
  StatusOr<LoadedRegister> l = LoadRegisterWithRules(o.register_file, o.policies, o.policies_given);
  if (!l.ok()) return Fail(ctx.err, l.status());
  RegisterScope scope;
  scope.now = o.now ? *o.now : NowSeconds();
  scope.max_age = o.max_age;
  scope.host_globs = o.hosts;
  scope.expired_only = o.verify;
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return Fail(ctx.err, store.status());
  StoredFacts facts(**store, ctx.db);
  auto judged = JudgeRegister(**store, facts, *l, scope);
  if (!judged.ok()) return Fail(ctx.err, judged.status());
  std::vector<ExceptionVerdict>& verdicts = *judged;
  if (!o.statuses.empty()) {
    std::erase_if(verdicts, [&](const ExceptionVerdict& v) {
      return std::find(o.statuses.begin(), o.statuses.end(),
                       policy::ExceptionStatusName(v.status)) == o.statuses.end();
    });
  }
  policy::SortVerdicts(verdicts);
  const int64_t now = scope.now;
  if (o.format == "json") {
    ctx.out << policy::VerdictsJson(verdicts, now)
                   .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
            << "\n";
  } else if (o.format == "csv") {
    policy::PrintVerdictsCsv(verdicts, now, ctx.out);
  } else {
    bool any_expired = std::any_of(l->reg.exceptions.begin(), l->reg.exceptions.end(),
                                   [&](const auto& e) { return now >= e.effective_expiry; });
    if (o.verify && !any_expired) {
      ctx.out << "no exception of " << Safe(o.register_file) << " has expired by "
              << FormatRfc3339(now) << "\n";
    }
    policy::PrintVerdictsText(verdicts, now, ctx.out);
  }
  return o.verify ? policy::RevocationExitCode(verdicts) : 0;
}

CLI::App* AddExceptionsCommand(CLI::App& app, CtlContext& ctx, const std::string& name,
                               const std::string& description, const std::string& footer,
                               bool verify) {
  auto o = std::make_shared<ExceptionsOptions>();
  o->verify = verify;
  CLI::App* command = AddCommand(
      app, "Exceptions (docs/exceptions.md)", ctx, o, name, description,
      footer + "\n" + kStatusesHelp + policy::kDefaultPoliciesDir + ").\n", &RunExceptions);
  AddRegisterOptions(*command, o->register_file, o->policies, o->policies_given)->required();
  AddTime(*command, "--now", o->now, "judge as at TIME (default: now)");
  AddDuration(*command, "--max-age", o->max_age,
              "evidence older than DUR does not prove a revocation (default 26h)");
  if (!verify) {
    AddHostGlobs(*command, o->hosts);
    command->add_option("--status", o->statuses, "only this status (repeatable)")
        ->check(CLI::IsMember({"active", "leftover", "revoked", "unverified"}))
        ->type_name("S");
    AddFormat(*command, o->format, {"text", "json", "csv"});
  } else {
    AddFormat(*command, o->format, {"text", "json"});
  }
  return command;
}

}  // namespace

void AddExceptionCommands(CLI::App& app, CtlContext& ctx) {
  AddExceptionsCommand(app, ctx, "exceptions",
                       "every exception of the register on every host in its scope, with its "
                       "status and evidence",
                       kExceptionsFooter, false);
  AddExceptionsCommand(app, ctx, "verify-revocations",
                       "prove that every expired exception was revoked (exit 0), or name the "
                       "leftovers (5) and the unverified (6)",
                       kVerifyFooter, true);
}

}  // namespace tidemark::ctl
