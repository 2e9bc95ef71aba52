// `tidemarkctl pki`: a small file-based CA for a collector and its agents (common/transport/pki.h).
// Enough for a pilot or the README's local audit; a production fleet may use its own PKI, as
// long as agent certificates carry clientAuth and CN = host id (docs/protocol.md).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::ctl {

// Runs `tidemarkctl pki ARGS...` (args after "pki"); returns the exit code.
int RunPki(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::ctl
