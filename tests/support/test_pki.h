// Certificates for transport tests, made with common/transport/pki.h in a temp directory: a CA,
// the collector's server certificate for localhost/127.0.0.1/::1, and on demand agent
// certificates (also from another CA, expired, without EKU, revoked through a CRL). File paths
// are what the collector and agent take as --ca/--cert/--key/--crl.
#pragma once

#include <string>
#include <vector>

#include "common/transport/pki.h"
#include "tests/support/temp_root.h"

namespace tidemark::testing {

struct CertFiles {
  std::string cert;  // PEM certificate file
  std::string key;   // PEM private key file, mode 0600
  pki::KeyPair pair;
};

class TestPki {
 public:
  TestPki();
  const std::string& dir() const { return dir_.path(); }
  const std::string& ca_file() const { return ca_file_; }
  const pki::KeyPair& ca() const { return ca_; }
  const CertFiles& server() const { return server_; }

  // An agent certificate with CN = host, signed by this CA (EKU clientAuth), written as
  // <dir>/<name>.crt/.key (name defaults to "agent-<host>").
  CertFiles Agent(const std::string& host, const std::string& name = "");
  // Any certificate from this CA (expired, not yet valid, a server one, one without EKU).
  CertFiles Issue(const std::string& name, const pki::CertRequest& request);
  // An agent certificate from a different CA (CN = host).
  CertFiles ForeignAgent(const std::string& host);
  // Writes a CRL revoking `revoked` to <dir>/crl.pem and returns its path.
  std::string WriteCrl(const std::vector<const CertFiles*>& revoked);

 private:
  CertFiles IssueBy(const pki::KeyPair& ca, const std::string& name,
                    const pki::CertRequest& request);

  TempRoot dir_;
  pki::KeyPair ca_;
  std::string ca_file_;
  CertFiles server_;
};

}  // namespace tidemark::testing
