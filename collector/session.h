// One agent connection of the collector's server (server.h): the TLS handshake and certificate
// checks, tidemark/1 frames read chunk by chunk against the in-flight budget, hello, offer and
// snapshot handled with the store thread (store_worker.h), the ack sent after the commit. All
// of a session's handlers run on its socket's strand. What the sessions and the server share
// (limits, budgets, counts per host and per source) is ServerState (server_state.h).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "collector/server_state.h"
#include "collector/store_worker.h"
#include "collector/tls_stream.h"
#include "common/status.h"
#include "common/transport/protocol.h"

namespace tidemark::collector {

// "ADDRESS:PORT", an IPv6 address in brackets.
std::string EndpointText(const boost::asio::ip::tcp::endpoint& ep);

// One agent connection. All handlers run on the socket's strand; the server keeps only weak
// references (ServerState::sessions) and reaches a session by posting to its executor().
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerState& shared, boost::asio::ip::tcp::socket socket,
          std::shared_ptr<boost::asio::ssl::context> ctx, bool overflow);

  ~Session();

  void Start();

  boost::asio::any_io_executor executor() { return stream_.get_executor(); }

  // On shutdown: a connection waiting for its next frame (or handshaking) is closed now; one
  // with a frame in progress finishes it (its ack is sent) and is closed then.
  void Drain();

  // After a reload (SIGHUP): checks the peer's certificate again against the new context (its
  // CRL, validity dates, chain) and closes the connection when it no longer passes. A
  // connection still handshaking is checked in OnHandshake against the current context.
  void Recheck(const std::shared_ptr<boost::asio::ssl::context>& ctx);

 private:
  // kIdle: waiting for a frame (idle_timeout); kHeader: part of a header is here, the rest is
  // read within frame_timeout; kPayload: reading the payload; kBusy: handling the frame.
  enum class State { kHandshake, kIdle, kHeader, kPayload, kBusy, kClosed };

  // The named edge of every completion handler: an exception (nlohmann, Asio, std::bad_alloc)
  // is logged with the event it came from and closes this connection; it never reaches
  // io_context::run().
  template <typename F>
  void Guard(const char* event, F&& f);
  void OnException(const char* event, const std::string& what) noexcept;

  bool Verify(bool preverified, X509_STORE_CTX* x);

  void ArmTimer(int64_t seconds, const char* event);

  // Gives the connection slot (and the host's) back (at close: a new agent may connect at
  // once).
  void ReleaseSlot();
  // Takes the connection out of its source's handshakes in progress (when the handshake ends,
  // or the connection before it).
  void ReleaseHandshake();

  void CloseNow();
  // Says why the TLS stream refused to go on (TlsStream::flood()).
  void LogFlood();

  // Closes a connection whose certificate was refused after the handshake; its TLS session
  // leaves the cache, so that it cannot be resumed either.
  void CloseRefused();

  void OnHandshake(const boost::system::error_code& ec);

  void ReadHeader();

  // True while the peer's certificate is within its validity dates; a live connection whose
  // certificate expired is closed at its next frame.
  bool CertificateStillValid();

  // The first bytes of a header: all of it (OnHeader), or a part, whose rest is then read
  // against frame_timeout.
  void OnHeaderStart(const boost::system::error_code& ec, size_t n);

  void OnHeader(const boost::system::error_code& ec);

  // Reads the payload chunk by chunk: the budget grows with the bytes that arrive, and a frame
  // that stops progressing (frame_timeout) or is too slow (min_frame_rate) is closed.
  void ReadPayload();

  void OnPayload(const boost::system::error_code& ec, size_t n);

  void ReleasePayload();

  void Malformed(const std::string& reason);
  void OutOfTurn(const std::string& reason);

  // The named edge of frame handling: whatever one frame throws (a decoder's type error,
  // std::bad_alloc) refuses that frame, never the collector. A snapshot is refused for good
  // (permanent bad_snapshot: the agent moves it to rejected/ rather than resending it forever);
  // any other frame is malformed and closes the connection.
  void SafeDispatch();

  void Dispatch();

  void OnHello();

  void OnHostRecorded(const StatusOr<bool>& changed);

  void OnOffer();

  void OnOfferDone(const StatusOr<PutResult>& r, const protocol::Offer& o, int64_t received_at);

  void Ack(const std::string& id, PutResult result, int64_t received_at, const char* via);

  void RefuseSnapshot(std::string_view code, const std::string& reason,
                      std::optional<std::string> id);

  void OnSnapshot();

  void OnStored(const StatusOr<PutResult>& r, const std::string& id, int64_t received_at);

  void SendError(std::string_view code, const std::string& message, std::optional<std::string> id,
                 bool permanent, bool close_after);

  void Send(std::string frame, bool close_after);

  // TLS close_notify (bounded by a short timer), then close.
  void Shutdown();

  ServerState& shared_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  TlsStream stream_;
  boost::asio::steady_timer timer_;
  bool overflow_;
  State state_ = State::kHandshake;
  bool draining_ = false;
  bool slot_released_ = false;
  bool host_counted_ = false;       // in ServerState::host_connections
  bool handshake_counted_ = false;  // in ServerState::source_handshakes under source_
  bool hello_done_ = false;
  bool writing_ = false;        // an async_write is in progress (out_ must stay)
  bool store_pending_ = false;  // a store job will answer this frame
  std::string peer_;
  std::string source_;  // PeerSource(peer_)
  std::string host_;
  std::string fingerprint_;
  std::string agent_version_;
  std::string verify_reason_;
  std::array<uint8_t, protocol::kHeaderSize> header_{};
  size_t header_received_ = 0;  // of the header being read
  protocol::FrameType type_ = protocol::FrameType::kHello;
  int64_t frame_length_ = 0;
  int64_t received_ = 0;
  std::chrono::steady_clock::time_point frame_started_;
  std::optional<std::string> snapshot_id_;  // of the snapshot frame being handled
  std::shared_ptr<std::string> payload_;
  int64_t reserved_ = 0;  // budget held: received_ <= reserved_ <= received_ + kReadChunk
  std::string out_;
};

}  // namespace tidemark::collector
