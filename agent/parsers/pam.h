// Parser for PAM configuration (pam.d(5), Linux-PAM libpam/pam_handlers.c): per-service files
// in /etc/pam.d with lines "[-]type control module-path [arguments]", '#' comments (anywhere on
// a line), '\' line continuation, bracketed controls "[value=action ...]" and bracketed
// arguments "[a b]" ("\]" for a literal ']'), "@include FILE" (all types) and the include /
// substack controls (one type). The modules' own files (faillock.conf, pwquality.conf) are
// read by pam_module_conf.h. Lines are never quoted in errors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent::pam {

// One logical line of a pam.d file, tokenized.
struct Line {
  int64_t line = 0;                    // first physical line
  std::string service;                 // pam.conf only: the first field, lowercased
  bool include_all = false;            // "@include FILE"
  std::string type;                    // "auth", "account", "password", "session" (lowercased)
  bool silent = false;                 // "-type": no log if the module is missing
  std::string control;                 // as written: "required", "[success=1 default=ignore]"
  std::string module;                  // module path, or the included file name
  std::vector<std::string> arguments;  // brackets removed
  std::string error;                   // non-empty: the line is invalid (libpam fails the stack)
};

// Splits a pam.d file into lines (pam_handlers.c _pam_assemble_line/_pam_StrTokenizer). With
// `service_field` the file is /etc/pam.conf, whose lines start with the service name.
std::vector<Line> ParseFile(std::string_view text, std::string_view path,
                            std::vector<SectionError>& errors, bool service_field = false);

// Parses a bracketed control into value -> action ("success" -> "1"); unknown words are
// reported in `error`.
std::map<std::string, std::string> ParseControl(std::string_view control, std::string* error);

// The include path of "include"/"substack"/"@include": absolute as given, else /etc/pam.d/NAME.
std::string IncludePath(std::string_view name);

// Flags that matter for security, from a module's arguments: nullok, try_first_pass, ... (true)
// and remember=N, rounds=N, ... (the value as a string).
std::map<std::string, std::string> SecurityFlags(const std::vector<std::string>& arguments);

}  // namespace tidemark::agent::pam
