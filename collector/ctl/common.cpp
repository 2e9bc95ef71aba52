// common.h: what the tidemarkctl commands share.
#include "collector/ctl/common.h"

#include <fnmatch.h>

#include "collector/store.h"
#include "common/text.h"
#include "common/time.h"
#include "common/transport/protocol.h"

namespace tidemark::ctl {
namespace {
// The severities, most severe first, as the rules name them (policy::SeverityName).
std::vector<std::string> SeverityNames() {
  std::vector<std::string> names;
  for (int s = static_cast<int>(policy::Severity::kCritical);
       s >= static_cast<int>(policy::Severity::kInfo); --s) {
    names.emplace_back(policy::SeverityName(static_cast<policy::Severity>(s)));
  }
  return names;
}
}  // namespace

std::string Safe(std::string_view text, size_t max_bytes) {
  return EscapeControlBounded(text, max_bytes);
}

int Usage(std::ostream& err, const std::string& message, const std::string& command) {
  err << "tidemarkctl: " << Safe(message, kMaxMessageBytes) << "\nTry 'tidemarkctl "
      << (command.empty() ? "" : Safe(command, 64) + " ") << "--help'.\n";
  return 2;
}

int Fail(std::ostream& err, const std::string& message) {
  err << "tidemarkctl: " << Safe(message, kMaxMessageBytes) << "\n";
  return 1;
}

int Fail(std::ostream& err, const Status& status) { return Fail(err, status.message()); }

CLI::Option* AddFormat(CLI::App& command, std::string& format,
                       const std::vector<std::string>& choices) {
  format = choices.front();
  return command.add_option("--format", format, "output format")
      ->check(CLI::IsMember(choices))
      ->capture_default_str();
}

CLI::Option* AddTime(CLI::App& command, const std::string& name, std::optional<int64_t>& at,
                     const std::string& help) {
  // CLI11 runs the check before the function, so the function's ParseTimeArgument succeeds.
  CLI::Validator valid_time(
      [](std::string& text) {
        StatusOr<int64_t> t = ParseTimeArgument(text);
        return t.ok() ? std::string() : t.status().message();
      },
      "");
  return command
      .add_option_function<std::string>(
          name, [&at](const std::string& text) { at = *ParseTimeArgument(text); }, help)
      ->check(valid_time)
      ->type_name("TIME");
}

CLI::Option* AddAt(CLI::App& command, std::optional<int64_t>& at, const std::string& help) {
  return AddTime(command, "--at", at, help);
}

std::string CellText(const nlohmann::json& v, std::string_view null_text) {
  if (v.is_null()) return std::string(null_text);
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StatusOr<int64_t> ParseSince(const std::string& text, int64_t now) {
  if (StatusOr<int64_t> at = ParseTimeArgument(text); at.ok()) return at;
  StatusOr<int64_t> back = ParseDuration(text);
  if (!back.ok()) {
    return Status(StatusCode::kInvalidArgument,
                  "--since: '" + text + "' is neither a time nor a duration");
  }
  return now - *back;
}

CLI::Option* AddDuration(CLI::App& command, const std::string& name, int64_t& seconds,
                         const std::string& help) {
  CLI::Validator valid_duration(
      [](std::string& text) {
        StatusOr<int64_t> d = ParseDuration(text);
        return d.ok() ? std::string() : d.status().message();
      },
      "");
  return command
      .add_option_function<std::string>(
          name, [&seconds](const std::string& text) { seconds = *ParseDuration(text); }, help)
      ->check(valid_duration)
      ->type_name("DUR");
}

CLI::Option* AddSeverity(CLI::App& command, const std::string& name, policy::Severity& level,
                         const std::string& help) {
  return command
      .add_option_function<std::string>(
          name, [&level](const std::string& text) { level = *policy::ParseSeverity(text); }, help)
      ->check(CLI::IsMember(SeverityNames()))
      ->type_name("LEVEL");
}

CLI::Validator HostId() {
  return CLI::Validator(
      [](std::string& host) -> std::string {
        if (protocol::IsValidHostId(host)) return "";
        return "'" + Safe(host, 64) +
               "' is not a valid host id (1 to 253 of letters, digits, '.', '-', '_'; not "
               "starting with '.' or '-'; no '..')";
      },
      "");
}

bool HostMatches(const std::vector<std::string>& globs, const std::string& host) {
  if (globs.empty()) return true;
  for (const std::string& g : globs) {
    if (fnmatch(g.c_str(), host.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace tidemark::ctl
