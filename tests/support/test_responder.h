// A minimal tidemark/1 collector for agent tests: a TLS 1.3 server on 127.0.0.1 (test_pki
// certificates, client certificate required) that speaks just enough of docs/protocol.md to
// welcome, ack, ask for bodies, return errors or hang up mid-way, and records what it received.
// One thread serves one connection at a time; everything is bounded by timeouts.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/transport/protocol.h"
#include "tests/support/test_pki.h"

namespace tidemark::testing {

struct ResponderScript {
  bool offer_capability = true;
  bool offers_seen = true;  // answer an offer whose hash was stored with ack "seen"
  // Snapshots answered with a permanent bad_snapshot error ("*" = all).
  std::set<std::string> refuse_ids;
  bool refuse_all = false;
  std::string refuse_code = "bad_snapshot";         // the error code of those refusals
  std::string refuse_message = "scripted refusal";  // and their message
  bool close_after_refusal = false;    // hang up after sending it (as for frame_too_large)
  int stall_at_snapshot = -1;          // never answer the Nth snapshot (until the responder stops)
  bool store_failed = false;           // answer every snapshot with a transient store_failed
  int hang_up_at_snapshot = -1;        // close without an ack on the Nth snapshot (1-based)
  std::string hello_error;             // answer hello with this error code ...
  bool hello_error_permanent = false;  // ... permanent or not
  std::string welcome_host;            // override the host in the welcome
  uint32_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  // > 0: send the welcome one byte per TLS record, one every `trickle_ms` (a collector that
  // trickles, to test the agent's I/O deadline per frame).
  int trickle_ms = 0;
  // TLS 1.3 KeyUpdate messages sent (not asking for one back) before the welcome.
  int key_updates_before_welcome = 0;
};

struct ReceivedSnapshot {
  std::string snapshot_id;
  std::string content_hash;
  std::string host_id;  // the decoded document's host.id
  std::string peer_cn;  // the client certificate's CN
};

class TestResponder {
 public:
  // Serves with `server` (default: pki.server()), trusting client certificates from `pki`'s CA.
  // `port` 0 picks a free one.
  TestResponder(const TestPki& pki, ResponderScript script, const CertFiles* server = nullptr,
                int port = 0);
  ~TestResponder();
  TestResponder(const TestResponder&) = delete;
  TestResponder& operator=(const TestResponder&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Snapshots stored (acked "stored"), in order; every snapshot frame received; offers; hellos.
  std::vector<ReceivedSnapshot> stored() const;
  std::vector<std::string> snapshot_frames() const;
  std::vector<std::string> offers() const;
  std::vector<protocol::Hello> hellos() const;
  int frames() const { return frames_; }
  int handshakes_failed() const { return handshakes_failed_; }
  int connections() const { return connections_; }

 private:
  void Serve();
  void HandleConnection(int fd);
  void ServeFrames(SSL* ssl, const std::string& cn);
  bool OnHello(SSL* ssl, const std::string& payload, const std::string& cn);
  bool OnOffer(SSL* ssl, const std::string& payload);
  bool OnSnapshot(SSL* ssl, const std::string& payload, const std::string& cn);

  ResponderScript script_;
  std::string ca_file_;
  std::string cert_file_;
  std::string key_file_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<ReceivedSnapshot> stored_;
  std::map<std::string, std::string> hash_by_id_;
  std::vector<std::string> snapshot_frames_;
  std::vector<std::string> offers_;
  std::vector<protocol::Hello> hellos_;
  std::atomic<int> frames_{0};
  std::atomic<int> handshakes_failed_{0};
  std::atomic<int> connections_{0};
  int snapshots_seen_ = 0;
};

// A TCP port on 127.0.0.1 with nothing accepting connections (bound, not listening): connects
// are refused until it is released.
class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  int port() const { return port_; }
  // Frees the port (for a responder to listen on it).
  void Release();

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace tidemark::testing
