#include "agent/uplink_usage.h"

namespace tidemark::agent::uplink {

void PrintUplinkUsage(std::ostream& out) {
  out << "Sending to a collector (docs/agent.md, docs/protocol.md):\n"
         "  send      collect this host once into the spool, then send the spool to the\n"
         "            collector oldest first and wait for the acks:\n"
         "            send --collector HOST:PORT --ca FILE --cert FILE --key FILE\n"
         "                 [--server-name NAME] [--spool DIR] [--offer] [--only LIST] [--root "
         "DIR]\n"
         "            exit 0 all acknowledged, 75 left in the spool (collector unreachable or\n"
         "            busy; retry later), 1 refused by the collector (certificate, permanent\n"
         "            error: see rejected/), 74 this run's snapshot could not be collected or\n"
         "            spooled (e.g. disk full), 2 usage or configuration error\n"
         "  run       the daemon: run --config FILE (every key also a flag --key VALUE);\n"
         "            collects every `interval` s (+- `jitter`), sends after each collection,\n"
         "            retries with exponential backoff; SIGTERM stops it cleanly\n"
         "\n"
         "Options of send and run (config keys without the dashes, '-' as '_'):\n"
         "  --collector HOST:PORT  the collector ([IPV6]:PORT; the port is required,\n"
         "                    the collector listens on 7411 by default)\n"
         "  --ca FILE         CA certificate the collector's certificate must chain to\n"
         "  --cert FILE       this agent's certificate; its commonName is the host id\n"
         "  --key FILE        its private key (refused when group or others can read it)\n"
         "  --server-name NAME  name (DNS or IP) the collector's certificate must carry\n"
         "                    (default: the host part of --collector)\n"
         "  --spool DIR       default "
      << kDefaultSpoolDir
      << "\n"
         "  --spool-max-files N   default "
      << kDefaultSpoolMaxFiles << "; --spool-max-bytes N   default " << kDefaultSpoolMaxBytes
      << "\n"
         "                    (over either bound the oldest snapshots are dropped and counted)\n"
         "  --offer           offer every snapshot's content hash before its body\n"
         "                    (default: only when it equals the last acknowledged one)\n"
         "  --only LIST, --root DIR   as for collect\n"
         "  --connect-timeout S (10), --io-timeout S (60)\n"
         "  --interval S (3600), --jitter S (interval/10, at most 300),\n"
         "  --backoff-min S (5), --backoff-max S (300)   run only\n"
         "  --config FILE     read these keys from a `key = value` file (flags win)\n";
}

}  // namespace tidemark::agent::uplink
