#include <openssl/crypto.h>

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "agent/cli.h"

int main(int argc, char** argv) {
  // RunAgentCli catches what its commands throw; this catches what building the arguments may.
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    // The agent's own commands use libcrypto only for SHA-256 and for checking public keys,
    // never for TLS (send and run exec tidemark-uplink), so OpenSSL's configuration file
    // (providers, TLS defaults) has nothing to say to them; not reading it saves a tenth of a
    // collection's start-up (README, "Agent start-up"). The uplink reads it as usual.
    if (!args.empty() &&
        (args[0] == "collect" || args[0] == "audit" || args[0] == "summary" || args[0] == "sshd")) {
      OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    }
    return tidemark::agent::RunAgentCli(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "tidemark-agent: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "tidemark-agent: internal error\n";
  }
  return tidemark::agent::kExitFailure;
}
