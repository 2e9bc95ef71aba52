// TestPki: see test_pki.h.
#include "tests/support/test_pki.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tidemark::testing {
namespace {

template <typename T>
T Must(StatusOr<T> v, const char* what) {
  if (!v.ok()) throw std::runtime_error(std::string(what) + ": " + v.status().ToString());
  return std::move(v).value();
}

void MustWrite(const std::string& path, const std::string& pem, unsigned mode) {
  Status s = pki::WritePem(path, pem, mode);
  if (!s.ok()) throw std::runtime_error("writing " + path + ": " + s.ToString());
}

}  // namespace

TestPki::TestPki() {
  ca_ = Must(pki::MakeCa("tidemark test CA", 30), "CA");
  ca_file_ = dir_.Host("/ca.crt");
  MustWrite(ca_file_, ca_.cert_pem, 0644);
  pki::CertRequest server;
  server.common_name = "localhost";
  server.role = pki::Role::kServer;
  server.dns_names = {"localhost"};
  server.ip_addresses = {"127.0.0.1", "::1"};
  server_ = Issue("collector", server);
}

CertFiles TestPki::IssueBy(const pki::KeyPair& ca, const std::string& name,
                           const pki::CertRequest& request) {
  CertFiles f;
  f.pair = Must(pki::Issue(ca, request), "issue");
  f.cert = dir_.Host("/" + name + ".crt");
  f.key = dir_.Host("/" + name + ".key");
  MustWrite(f.cert, f.pair.cert_pem, 0644);
  MustWrite(f.key, f.pair.key_pem, 0600);
  return f;
}

CertFiles TestPki::Issue(const std::string& name, const pki::CertRequest& request) {
  return IssueBy(ca_, name, request);
}

CertFiles TestPki::Agent(const std::string& host, const std::string& name) {
  pki::CertRequest req;
  req.common_name = host;
  req.role = pki::Role::kClient;
  return Issue(name.empty() ? "agent-" + host : name, req);
}

CertFiles TestPki::ForeignAgent(const std::string& host) {
  pki::KeyPair other = Must(pki::MakeCa("tidemark test CA", 30), "foreign CA");
  pki::CertRequest req;
  req.common_name = host;
  return IssueBy(other, "foreign-" + host, req);
}

std::string TestPki::WriteCrl(const std::vector<const CertFiles*>& revoked) {
  std::vector<std::string> pems;
  for (const auto* c : revoked) pems.push_back(c->pair.cert_pem);
  std::string path = dir_.Host("/crl.pem");
  MustWrite(path, Must(pki::MakeCrl(ca_, pems, 7), "CRL"), 0644);
  return path;
}

}  // namespace tidemark::testing
