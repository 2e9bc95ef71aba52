// Sends the spool to the collector, oldest first (docs/agent.md, docs/protocol.md
// "Conversation"): hello/welcome, then per snapshot an offer (when its content hash is the one
// last acknowledged, or always with --offer) or the snapshot itself, one at a time; a snapshot
// leaves the spool only with its ack, or to rejected/ on a permanent error.
#pragma once

#include <cstdint>
#include <string>

#include "agent/uplink/client.h"
#include "agent/uplink/spool.h"

namespace tidemark::agent::uplink {

struct SendOptions {
  Endpoint endpoint;
  std::string server_name;  // checked against the collector's DNS/IP subjectAltName
  Timeouts timeouts;
  bool always_offer = false;  // offer every snapshot's hash first (else: only unchanged ones)
  std::string agent_version;
};

struct SendReport {
  int acked = 0;
  int rejected = 0;      // moved to rejected/ during this run
  int remaining = 0;     // still spooled at the end
  bool refused = false;  // the collector refused us (certificate, permanent error to hello)
  Status last_error;     // why it stopped early (transient or refused), ok when it did not
};

// Sends everything in `spool`. Never throws; every problem is in the report and logged.
SendReport SendSpool(Spool& spool, const TlsIdentity& identity, const SendOptions& options,
                     const LogFn& log, int cancel_fd);

}  // namespace tidemark::agent::uplink
