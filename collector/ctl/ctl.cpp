// tidemarkctl (ctl.h): the command line (CLI11): the global options, the general help, and the
// command groups of commands.h, each registering its subcommands from its own file.
#include "collector/ctl/ctl.h"

#include <memory>

#include "collector/config.h"
#include "collector/ctl/commands.h"

namespace tidemark::ctl {
namespace {

constexpr const char* kFooter =
    "Host and agent text (ids, versions, times, file names, errors) is shown with control\n"
    "characters escaped (\\xNN, \\uXXXX) and long fields cut.\n"
    "--db FILE may come before or after the command; commands that read no store ignore it.\n"
    "tidemarkctl COMMAND --help (or tidemarkctl help COMMAND) shows the help of COMMAND,\n"
    "with its options and exit codes.\n"
    "\n"
    "Exit codes: 0 all good, 1 failure (a rejected snapshot, an unknown host, a store error,\n"
    "an internal error), 2 usage error; evaluate and findings also 3 and 4 (see their help).\n";

// CLI11's help, with the usage line first as GNU tools print it, and every command listed
// with what it requires (`import FILE --as HOST`), so that the general help is a synopsis.
class CtlFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
    return make_usage(app, std::move(name)) + make_description(app) + make_positionals(app) +
           make_groups(app, mode) + make_subcommands(app, mode) + "\n" + make_footer(app);
  }

  std::string make_subcommand(const CLI::App* sub) const override {
    std::string synopsis = sub->get_name();
    for (const CLI::Option* opt : sub->get_options()) {  // positionals first
      if (opt->get_positional()) {
        synopsis += " " + opt->get_name() + (opt->get_items_expected_max() > 1 ? "..." : "");
      }
    }
    for (const CLI::Option* opt : sub->get_options()) {
      if (!opt->get_positional() && opt->get_required()) {
        std::string type = opt->get_type_name();  // "N:INT in [0 - 36500]": the name alone
        synopsis += " " + opt->get_name() + " " + type.substr(0, type.find(':'));
      }
    }
    std::stringstream out;
    CLI::detail::format_help(out, synopsis, sub->get_description(), get_column_width());
    return out.str();
  }
};

// `help [COMMAND...]`: the help that `COMMAND... --help` prints.
void AddHelpCommand(CLI::App& app, CtlContext& ctx) {
  CLI::App* help = app.add_subcommand("help", "the help of COMMAND, or this help");
  help->group("Help");
  auto topic = std::make_shared<std::vector<std::string>>();
  help->add_option("COMMAND", *topic, "a command, e.g. show or pki issue");
  help->callback([&app, &ctx, topic] {
    const CLI::App* about = &app;
    std::string name = app.get_name();
    for (const std::string& word : *topic) {
      auto found = about->get_subcommands([&](const CLI::App* s) { return s->check_name(word); });
      if (found.empty()) {
        ctx.rc = Usage(ctx.err, "help: no command '" + word + "'");
        return;
      }
      about = found.front();
      name += " " + about->get_name();
    }
    // The formatter, not about->help(): App::help shows the help of a parsed subcommand, and
    // `help` itself is one.
    ctx.out << about->get_formatter()->make_help(about, name, CLI::AppFormatMode::Normal);
  });
}

void AddVersionCommand(CLI::App& app, CtlContext& ctx) {
  CLI::App* version = app.add_subcommand("version", "the version (as --version)");
  version->group("Help");
  version->callback([&ctx] { ctx.out << "tidemarkctl " << collector::kCollectorVersion << "\n"; });
}

// Every command of tidemarkctl on one app; the callbacks write to `ctx`.
void AddCommands(CLI::App& app, CtlContext& ctx) {
  app.formatter(std::make_shared<CtlFormatter>());
  app.get_formatter()->column_width(28);
  app.footer(kFooter);
  // Fallthrough (inherited by every subcommand): --db after the command reaches the app.
  app.fallthrough();
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("tidemarkctl ") + collector::kCollectorVersion);
  app.add_option("--db", ctx.db, "the collector's store")->type_name("FILE")->capture_default_str();
  AddSnapshotFileCommands(app, ctx);
  AddStoreCommands(app, ctx);
  AddPolicyCommands(app, ctx);
  AddFindingsCommands(app, ctx);
  AddExceptionCommands(app, ctx);
  AddBaselineCommands(app, ctx);
  AddDriftCommands(app, ctx);
  AddWhoCommand(app, ctx);
  AddReportCommand(app, ctx);
  AddPkiCommands(app, ctx);
  AddDeployCommand(app, ctx);
  AddPullCommand(app, ctx);
  AddHelpCommand(app, ctx);
  AddVersionCommand(app, ctx);
}

// The command given: the deepest subcommand parsed (`app` itself when none was).
const CLI::App* Deepest(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  return at;
}

// The command the error is about, for the hint to its --help ("pki issue"; "" for none).
std::string CommandPath(const CLI::App& app) {
  std::vector<const CLI::App*> chain;  // deepest first
  for (const CLI::App* at = Deepest(app); at != &app; at = at->get_parent()) chain.push_back(at);
  std::string path;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!path.empty()) path += ' ';
    path += (*it)->get_name();
  }
  return path;
}

// CLI11's message, but for what is left over our own words, in the order given (CLI11 2.1
// lists them reversed): a word where a command should be is an unknown command, and the
// first other one is named alone.
std::string MessageOf(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* at = Deepest(app);
  const std::string path = CommandPath(app);
  const std::vector<std::string> left = app.remaining(/*recurse=*/true);
  const std::string first = left.empty() ? "" : left[0];
  const bool option = first.size() > 1 && first[0] == '-';
  if (!at->get_subcommands({}).empty() && !first.empty() && !option) {
    return "unknown command '" + (path.empty() ? "" : path + " ") + first + "'";
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr && !first.empty()) {
    std::string where = path.empty() ? "" : path + ": ";
    if (option) return where + "unknown option '" + first.substr(0, first.find('=')) + "'";
    return where + "unexpected argument '" + first + "'";
  }
  if (at != &app && !at->get_subcommands({}).empty()) {  // `pki` alone
    std::string names;
    for (const CLI::App* sub : at->get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    return path + " needs a command: " + names;
  }
  return e.what();
}

int RunCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CtlContext ctx{.out = out, .err = err};
  CLI::App app("Administration of the tidemark collector and its stored snapshots.", "tidemarkctl");
  AddCommands(app, ctx);
  if (args.empty()) {
    err << app.help();
    return 2;
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them so
  try {
    app.parse(reversed);  // runs the command's callback
  } catch (const CLI::CallForHelp&) {
    out << app.help();  // the help of the command given, if any
    return 0;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    return Usage(err, MessageOf(app, e), CommandPath(app));
  }
  if (app.get_subcommands().empty()) return Usage(err, "no command");
  return ctx.rc;
}

}  // namespace

int RunCtl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  // The named edge of every command: an exception (a bug, a library) is a clear error, exit 1.
  try {
    return RunCommand(args, out, err);
  } catch (const std::exception& e) {
    err << "tidemarkctl: internal error: " << Safe(e.what(), kMaxMessageBytes) << "\n";
  } catch (...) {
    err << "tidemarkctl: internal error: unknown exception\n";
  }
  return 1;
}

}  // namespace tidemark::ctl
