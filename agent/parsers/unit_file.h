// Parser for systemd unit files (systemd.syntax(7), systemd.unit(5)): sections "[Name]",
// "Key=Value" assignments, comments ('#' or ';' at line start), a trailing backslash continues
// the line (comment lines inside a continuation are skipped), whitespace around keys and values
// trimmed. Also the unit name grammar of systemd's unit-name.c (plain, template "a@.service",
// instance "a@b.service"). Lines are never quoted in errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent::unit_file {

// systemd's LONG_LINE_MAX: a longer (continued) line makes systemd reject the file.
inline constexpr size_t kMaxLine = 1 << 20;

struct Assignment {
  std::string section;  // "Service", "Install", ...
  std::string key;
  std::string value;
  int64_t line = 0;  // where the (first line of the) assignment starts
};

struct Parsed {
  std::vector<Assignment> assignments;  // in file order
  bool fatal = false;  // systemd would refuse the file (a line longer than kMaxLine)
};

// Parses `text` of `path`; problems go to `errors` by path and line.
Parsed Parse(std::string_view text, std::string_view path, std::vector<SectionError>& errors);

enum class NameKind { kInvalid, kPlain, kTemplate, kInstance };

// unit_name_is_valid(): [A-Za-z0-9:_.\\-] and at most one '@', a known type suffix, < 256 bytes.
NameKind ClassifyName(std::string_view name);
// ".service" -> "service"; "" when invalid.
std::string TypeOf(std::string_view name);
// "a@b.service" -> "a@.service".
std::string TemplateOf(std::string_view instance);
// "a@b.service" -> "b".
std::string InstanceOf(std::string_view instance);
// "a@.service" + "b" -> "a@b.service".
std::string ReplaceInstance(std::string_view name, std::string_view instance);

// unit_name_unescape(): "-" is "/", "\xNN" is the byte NN; nullopt for a malformed escape.
std::optional<std::string> Unescape(std::string_view escaped);

// Expands the unit specifiers of systemd.unit(5) "Specifiers" that depend only on the unit's
// name: %n (full name), %N (name without the type suffix), %p (prefix: before "@", or %N), %P
// (%p unescaped), %i (instance, "" for a plain unit), %I (%i unescaped), %% ("%"). Any other
// specifier (%h, %u, %H, %t, ... which depend on the host or the manager) is kept as written.
// `*expanded` tells whether anything was replaced.
std::string ExpandSpecifiers(std::string_view value, std::string_view unit_name,
                             bool* expanded = nullptr);

// Splits a value into words as extract_first_word(EXTRACT_UNQUOTE) does: whitespace separates,
// single and double quotes group, backslash escapes the next character.
std::vector<std::string> SplitWords(std::string_view value);

}  // namespace tidemark::agent::unit_file
