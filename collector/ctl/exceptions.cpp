// `tidemarkctl exceptions` and `verify-revocations` (commands.h): the register's exceptions
// (common/policy/register.h) judged on every host in their scope from the states the collector
// stored (common/policy/exceptions.h decides; docs/exceptions.md).
#include "common/policy/exceptions.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "collector/ctl/commands.h"
#include "collector/ctl/stored_facts.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate_command.h"
#include "common/policy/exception_output.h"
#include "common/policy/register.h"

namespace tidemark::ctl {

namespace {

using policy::ExceptionStatus;
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

struct Loaded {
  std::optional<policy::PolicySet> rules;
  policy::Register reg;
};

StatusOr<Loaded> LoadRegisterAndRules(const ExceptionsOptions& o) {
  Loaded l;
  StatusOr<policy::PolicySet> set = policy::LoadPolicies(o.policies);
  if (set.ok()) {
    l.rules = std::move(*set);
  } else if (o.policies_given) {
    return set.status();
  }
  StatusOr<policy::Register> reg =
      policy::LoadRegister(o.register_file, l.rules ? &*l.rules : nullptr);
  if (!reg.ok()) {
    if (!l.rules) {
      return Status(reg.status().code(), reg.status().message() + " (no rules were loaded: " +
                                             set.status().message() + "; give --policies)");
    }
    return reg.status();
  }
  l.reg = std::move(*reg);
  return l;
}

// The verdicts of `exceptions` on one host, from its latest state at `now`.
void JudgeHost(const std::string& host, const std::vector<const policy::MigrationException*>& in,
               SqliteStore& store, StoredFacts& facts, const Loaded& l, const ExceptionsOptions& o,
               int64_t now, std::vector<ExceptionVerdict>& out) {
  auto state = store.LatestState(host, now);
  std::optional<policy::StateEvidence> evidence;
  const policy::FactDb* db = nullptr;
  std::string unreadable;
  if (state.ok()) {
    evidence = policy::StateEvidence{state->id, state->received_at, state->last_confirmed_at};
    StatusOr<const policy::FactDb*> loaded = facts.Load(*state);
    if (loaded.ok()) {
      db = *loaded;
    } else {
      unreadable = "snapshot " + state->id + " cannot be read: " + loaded.status().message();
    }
  } else if (state.status().code() != StatusCode::kNotFound) {
    unreadable = "the store cannot be read: " + state.status().message();
  }
  for (const policy::MigrationException* e : in) {
    std::optional<policy::CoverCheck> check;
    std::string problem = unreadable;
    if (db != nullptr) {
      StatusOr<policy::CoverCheck> c =
          policy::CheckCovers(*db, *e, host, l.rules ? &*l.rules : nullptr);
      if (c.ok()) {
        check = std::move(*c);
      } else {
        problem = c.status().message();
      }
    }
    ExceptionVerdict v = policy::DecideStatus(*e, host, evidence, check, now, o.max_age);
    if (!problem.empty()) {
      v.status = ExceptionStatus::kUnverified;
      v.reason = problem;
    }
    out.push_back(std::move(v));
  }
}

int RunExceptions(const ExceptionsOptions& o, CtlContext& ctx) {
  StatusOr<Loaded> l = LoadRegisterAndRules(o);
  if (!l.ok()) return Fail(ctx.err, l.status());
  const int64_t now = o.now ? *o.now : static_cast<int64_t>(std::time(nullptr));
  std::vector<const policy::MigrationException*> exceptions;
  for (const policy::MigrationException& e : l->reg.exceptions) {
    if (!o.verify || now >= e.effective_expiry) exceptions.push_back(&e);
  }
  SqliteStore::Options open_options;
  open_options.create = false;
  auto store = SqliteStore::Open(ctx.db, open_options);
  if (!store.ok()) return Fail(ctx.err, store.status());
  auto hosts = (*store)->ListHosts();
  if (!hosts.ok()) return Fail(ctx.err, hosts.status());
  // Every host in some exception's scope: the known ones that match a glob, and those named
  // outright (in scope even when nothing was ever received from them).
  std::map<std::string, std::vector<const policy::MigrationException*>> scope;
  std::set<const policy::MigrationException*> scoped;
  for (const HostInfo& h : *hosts) {
    for (const policy::MigrationException* e : exceptions) {
      if (policy::InScope(*e, h.id)) {
        scoped.insert(e);
        if (HostMatches(o.hosts, h.id)) scope[h.id].push_back(e);
      }
    }
  }
  for (const policy::MigrationException* e : exceptions) {
    for (const std::string& named : policy::NamedHosts(*e)) {
      scoped.insert(e);
      auto& list = scope[named];
      if (HostMatches(o.hosts, named) && std::find(list.begin(), list.end(), e) == list.end()) {
        list.push_back(e);
      }
      if (list.empty()) scope.erase(named);
    }
  }
  StoredFacts facts(**store, ctx.db);
  std::vector<ExceptionVerdict> verdicts;
  for (const auto& [host, in] : scope) {
    JudgeHost(host, in, **store, facts, *l, o, now, verdicts);
  }
  if (o.hosts.empty()) {
    for (const policy::MigrationException* e : exceptions) {
      if (!scoped.count(e)) verdicts.push_back(policy::NoHostInScope(*e));
    }
  }
  if (!o.statuses.empty()) {
    std::erase_if(verdicts, [&](const ExceptionVerdict& v) {
      return std::find(o.statuses.begin(), o.statuses.end(),
                       policy::ExceptionStatusName(v.status)) == o.statuses.end();
    });
  }
  policy::SortVerdicts(verdicts);
  if (o.format == "json") {
    ctx.out << policy::VerdictsJson(verdicts, now)
                   .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
            << "\n";
  } else if (o.format == "csv") {
    policy::PrintVerdictsCsv(verdicts, now, ctx.out);
  } else {
    if (o.verify && exceptions.empty()) {
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
  command->add_option("--register", o->register_file, "the exception register (YAML)")
      ->required()
      ->type_name("FILE");
  command
      ->add_option_function<std::string>(
          "--policies",
          [o](const std::string& p) {
            o->policies = p;
            o->policies_given = true;
          },
          "the rules a {rule: ID} cover names")
      ->type_name("DIR|FILE");
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
