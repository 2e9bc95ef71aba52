// How sshd splits a configuration line's arguments (OpenSSH 9.2p1 misc.c argv_split() with
// terminate_on_comment=1): blanks separate words, single or double quotes group them, a backslash
// escapes a quote, a backslash or (outside quotes) a blank, and a word starting with '#' ends
// the line. Shared by the agent's sshd_config parser and the fact tables, which read the
// arguments of a Match block's settings (`PasswordAuthentication "yes"` is `yes` to sshd).
// Pure function; safe on any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tidemark {

// Splits `s` into `*out` as argv_split() does; false on an unterminated quote (sshd refuses the
// line).
bool SshdArgvSplit(std::string_view s, std::vector<std::string>* out);

}  // namespace tidemark
