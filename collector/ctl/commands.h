// tidemarkctl's command groups, one file each: every group adds its subcommands (options,
// checks, help and the callback that runs the command) to the app. A new group is its file,
// its line here, its line in RunCtl (ctl.cpp) and its line in collector/CMakeLists.txt.
#pragma once

#include <CLI/CLI.hpp>

#include "collector/ctl/common.h"

namespace tidemark::ctl {

// verify, canonical: snapshot files (snapshot_files.cpp).
void AddSnapshotFileCommands(CLI::App& app, CtlContext& ctx);
// hosts, show, history, import, check, thin: the collector's store (store.cpp).
void AddStoreCommands(CLI::App& app, CtlContext& ctx);
// tables, query, evaluate: the fact tables and offline judgement (policy.cpp).
void AddPolicyCommands(CLI::App& app, CtlContext& ctx);
// findings: what the collector's evaluator stored (findings.cpp).
void AddFindingsCommands(CLI::App& app, CtlContext& ctx);
// exceptions, verify-revocations: the exception register judged on stored states
// (exceptions.cpp).
void AddExceptionCommands(CLI::App& app, CtlContext& ctx);
// baseline approve|show: a host's documented configuration (baseline.cpp).
void AddBaselineCommands(CLI::App& app, CtlContext& ctx);
// drift: what changed between two stored states of a host, or since its baseline (drift.cpp).
void AddDriftCommands(CLI::App& app, CtlContext& ctx);
// report: the fleet's findings, exceptions and hosts in one document (report.cpp).
void AddReportCommand(CLI::App& app, CtlContext& ctx);
// who: where an identity can still get in, fleet-wide (who.cpp).
void AddWhoCommand(CLI::App& app, CtlContext& ctx);
// pki init|issue|revoke: a file-based CA for the collector and its agents (pki.cpp).
void AddPkiCommands(CLI::App& app, CtlContext& ctx);
// pull: agentless collection over SSH (remote/pull.cpp; the SSH layer: remote/ssh.h, and what
// pull and deploy share on it: remote/session.h).
void AddPullCommand(CLI::App& app, CtlContext& ctx);
// deploy: the agent installed over SSH on an inventory's hosts (remote/deploy.cpp).
void AddDeployCommand(CLI::App& app, CtlContext& ctx);

}  // namespace tidemark::ctl
