// A collector under test: the built binary on 127.0.0.1 with an ephemeral port, the test PKI,
// a fresh store, and helpers to make snapshots and connect agents.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "common/snapshot.h"
#include "common/transport/protocol.h"
#include "tests/support/collector_process.h"
#include "tests/support/temp_root.h"
#include "tests/support/test_pki.h"
#include "tests/support/tls_test_client.h"

namespace tidemark::testing {

struct TestSnapshot {
  std::string id;
  std::string text;
  std::string hash;
};

// A small but real snapshot document for `host` whose state depends on `value`.
inline TestSnapshot MakeTestSnapshot(const std::string& host, const std::string& value,
                                     const std::string& id) {
  Snapshot s;
  s.host.id = host;
  s.host.hostname = host;
  s.host.root = "/";
  s.collected_at = "2026-11-28T19:00:00Z";
  s.agent_version = "0.1.0";
  Section section;
  section.data["value"] = value;
  s.sections["sysctl"] = section;
  return {id, SerializeSnapshot(s), ContentHash(s)};
}

inline std::string SnapshotFrame(const TestSnapshot& s) {
  return protocol::EncodeSnapshotFrame(s.id, s.hash, s.text);
}

class CollectorFixture : public ::testing::Test {
 protected:
  // SIGPIPE ignored: a test writing to a connection the collector closed gets EPIPE, not death.
  CollectorFixture() : proc_(dir_.Host("/collector.log")) { std::signal(SIGPIPE, SIG_IGN); }

  std::vector<std::string> BaseArgs() const {
    return {"--listen",  "127.0.0.1:0",
            "--ca",      pki_.ca_file(),
            "--cert",    pki_.server().cert,
            "--key",     pki_.server().key,
            "--db",      db_,
            "--threads", "2"};
  }
  // Starts the collector with BaseArgs() + extra.
  void StartCollector(const std::vector<std::string>& extra = {}) {
    auto args = BaseArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(proc_.Start(args))
        << "collector did not start, exit " << proc_.exit_code() << ", log:\n"
        << proc_.Log();
  }
  TlsClientOptions Options(const CertFiles* cert) const {
    TlsClientOptions o;
    o.ca = pki_.ca_file();
    if (cert != nullptr) {
      o.cert = cert->cert;
      o.key = cert->key;
    }
    return o;
  }
  std::unique_ptr<TlsTestClient> Connect(const CertFiles* cert) {
    std::string error;
    auto c = TlsTestClient::Connect(proc_.port(), Options(cert), &error);
    EXPECT_NE(c, nullptr) << error;
    return c;
  }
  // Connects and completes hello/welcome; nullptr (with a test failure) otherwise.
  std::unique_ptr<TlsTestClient> ConnectAgent(const CertFiles& cert) {
    auto c = Connect(&cert);
    if (c == nullptr) return nullptr;
    auto w = c->Hello();
    EXPECT_TRUE(w.has_value()) << proc_.Log();
    if (!w) return nullptr;
    EXPECT_EQ(w->type, protocol::FrameType::kWelcome) << w->payload;
    if (w->type != protocol::FrameType::kWelcome) return nullptr;
    return c;
  }
  // True when a client with `cert` cannot get a welcome: the handshake or the first exchange
  // fails and the server closes the connection.
  bool Refused(const CertFiles* cert) {
    std::string error;
    auto c = TlsTestClient::Connect(proc_.port(), Options(cert), &error);
    if (c == nullptr) return true;
    auto w = c->Hello();
    return !w.has_value();
  }
  // Runs tidemarkctl with args; returns its exit code.
  int Ctl(const std::string& args, std::string* out) {
    return RunCommand(
        std::string(TIDEMARK_CTL_BIN) + " --db " + ShellQuote(db_) + " " + args + " 2>&1", out);
  }

  TempRoot dir_;
  TestPki pki_;
  std::string db_ = dir_.Host("/collector.db");
  CollectorProcess proc_;
};

}  // namespace tidemark::testing
