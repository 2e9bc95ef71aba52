#include "agent/uplink/sender.h"

#include <algorithm>
#include <optional>

namespace tidemark::agent::uplink {
namespace {

namespace proto = tidemark::protocol;

// Frames from the collector are small JSON objects.
constexpr uint32_t kMaxIncomingFrame = 1u << 20;
constexpr size_t kBodyChunk = 64 * 1024;

// What the collector answered about one snapshot.
struct Reply {
  enum Kind { kAck, kSendBody, kError } kind = kError;
  proto::Ack ack;
  proto::Error error;
};

StatusOr<Reply> ReadReply(Connection& conn, const std::string& snapshot_id) {
  auto frame = conn.ReadFrame(kMaxIncomingFrame);
  if (!frame.ok()) return frame.status();
  auto violation = [&](const std::string& what) {
    return Status{StatusCode::kUnavailable,
                  conn.peer() + ": protocol violation by the collector: " + what};
  };
  auto json = proto::ParseJsonPayload(frame->payload);
  if (!json.ok()) return violation(json.status().message());
  Reply reply;
  switch (frame->type) {
    case proto::FrameType::kAck: {
      auto ack = proto::AckFromJson(*json);
      if (!ack.ok()) return violation(ack.status().message());
      if (ack->snapshot_id != snapshot_id) {
        return violation("ack for " + ack->snapshot_id.substr(0, 128) + " while waiting for " +
                         snapshot_id);
      }
      reply.kind = Reply::kAck;
      reply.ack = *ack;
      return reply;
    }
    case proto::FrameType::kSendBody: {
      auto sb = proto::SendBodyFromJson(*json);
      if (!sb.ok()) return violation(sb.status().message());
      if (sb->snapshot_id != snapshot_id) return violation("send_body for another snapshot");
      reply.kind = Reply::kSendBody;
      return reply;
    }
    case proto::FrameType::kError: {
      auto err = proto::ErrorFromJson(*json);
      if (!err.ok()) return violation(err.status().message());
      reply.kind = Reply::kError;
      reply.error = *err;
      return reply;
    }
    default:
      return violation("unexpected " + std::string(proto::FrameTypeName(frame->type)) + " frame");
  }
}

Status SendSnapshot(Connection& conn, const Spool& spool, const SpoolEntry& e) {
  std::string meta =
      nlohmann::json{{"snapshot_id", e.meta.snapshot_id}, {"content_hash", e.meta.content_hash}}
          .dump();
  uint64_t length = 4 + meta.size() + e.body_bytes;
  auto header = proto::EncodeHeader(proto::FrameType::kSnapshot, static_cast<uint32_t>(length));
  std::string first(header.begin(), header.end());
  auto n = static_cast<uint32_t>(meta.size());
  for (int shift : {24, 16, 8, 0}) first.push_back(static_cast<char>((n >> shift) & 0xff));
  first += meta;
  // The frame as a whole has one I/O deadline.
  const auto deadline = conn.IoDeadline();
  if (Status s = conn.Write(first, deadline); !s.ok()) return s;
  for (uint64_t off = 0; off < e.body_bytes; off += kBodyChunk) {
    auto chunk = spool.ReadBody(
        e, off, static_cast<size_t>(std::min<uint64_t>(kBodyChunk, e.body_bytes - off)));
    // A spool file that cannot be read half-way: the frame cannot be completed, so the
    // connection is dropped (the collector sees a truncated frame) and the file stays queued.
    if (!chunk.ok()) return Status{StatusCode::kUnavailable, chunk.status().message()};
    if (Status s = conn.Write(*chunk, deadline); !s.ok()) return s;
  }
  return Status::Ok();
}

bool ClosesConnection(const std::string& code) {
  return code == proto::kErrMalformedFrame || code == proto::kErrFrameTooLarge ||
         code == proto::kErrProtocol;
}

// The collector's error as text for a log line, bounded; the log sink (daemon.cpp) escapes
// control characters in every line, so a collector cannot forge lines or drive a terminal.
std::string Describe(const proto::Error& e) {
  return e.code.substr(0, 64) + ": " + e.message.substr(0, 512);
}

// hello / welcome: reports the spool's losses (remembered as reported once the collector
// welcomed them) and checks that the collector names this agent as its certificate does.
StatusOr<proto::Welcome> Greet(Connection& conn, Spool& spool, const TlsIdentity& identity,
                               const SendOptions& options, const LogFn& log) {
  SpoolCounters reported = spool.counters();
  proto::Hello hello;
  hello.agent_version = options.agent_version;
  hello.capabilities = {"offer"};
  hello.spool_dropped = reported.dropped;
  hello.spool_rejected = reported.rejected;
  if (Status s = conn.Write(proto::EncodeJsonFrame(proto::FrameType::kHello, ToJson(hello)));
      !s.ok()) {
    return s;
  }
  auto frame = conn.ReadFrame(kMaxIncomingFrame);
  if (!frame.ok()) return frame.status();
  auto json = proto::ParseJsonPayload(frame->payload);
  if (!json.ok()) {
    return Status(StatusCode::kUnavailable,
                  conn.peer() + ": invalid answer to hello: " + json.status().message());
  }
  if (frame->type == proto::FrameType::kError) {
    auto err = proto::ErrorFromJson(*json);
    if (!err.ok()) return Status(StatusCode::kUnavailable, conn.peer() + ": invalid error frame");
    return Status(err->permanent ? StatusCode::kPermissionDenied : StatusCode::kUnavailable,
                  conn.peer() + ": the collector refused the hello (" + Describe(*err) + ")");
  }
  if (frame->type != proto::FrameType::kWelcome) {
    return Status(StatusCode::kUnavailable, conn.peer() + ": expected welcome, got " +
                                                std::string(proto::FrameTypeName(frame->type)));
  }
  auto welcome = proto::WelcomeFromJson(*json);
  if (!welcome.ok()) {
    return Status(StatusCode::kUnavailable,
                  conn.peer() + ": invalid welcome: " + welcome.status().message());
  }
  if (welcome->host != identity.host_id()) {
    return Status(StatusCode::kPermissionDenied,
                  conn.peer() + ": the collector identifies this agent as '" +
                      welcome->host.substr(0, 253) + "', its certificate says '" +
                      identity.host_id() + "'");
  }
  if (reported.dropped != 0 || reported.rejected != 0) {
    log("send: reported to the collector: " + std::to_string(reported.dropped) +
        " snapshot(s) dropped from a full spool, " + std::to_string(reported.rejected) +
        " rejected");
  }
  if (Status s = spool.CountersReported(reported); !s.ok()) log("send: " + s.message());
  return welcome;
}

// Delivers one spooled snapshot (an offer first when the collector may already hold its
// state, the body when asked or not offered) and handles the answer: acked ones leave the
// spool, permanently refused ones go to rejected/. Returns whether the connection must be
// opened again (the collector closes it after some refusals); an error stops the run.
StatusOr<bool> SendEntry(Connection& conn, Spool& spool, const SpoolEntry& e,
                         const proto::Welcome& welcome, const SendOptions& options,
                         const LogFn& log, SendReport& report) {
  std::string meta_json = nlohmann::json{
      {"snapshot_id", e.meta.snapshot_id},
      {"content_hash",
       e.meta.content_hash}}.dump();
  uint64_t frame_bytes = 4 + meta_json.size() + e.body_bytes;
  if (frame_bytes > welcome.max_frame_bytes) {
    Status s = spool.Reject(e, std::to_string(frame_bytes) +
                                   " bytes, over the collector's max_frame_bytes " +
                                   std::to_string(welcome.max_frame_bytes));
    if (!s.ok()) return s;
    ++report.rejected;
    return false;
  }
  bool can_offer = std::find(welcome.capabilities.begin(), welcome.capabilities.end(), "offer") !=
                   welcome.capabilities.end();
  bool offer =
      can_offer && (options.always_offer || (!spool.last_acked_hash().empty() &&
                                             e.meta.content_hash == spool.last_acked_hash()));
  Status sent;
  if (offer) {
    proto::Offer o{e.meta.snapshot_id, e.meta.content_hash, e.meta.collected_at};
    sent = conn.Write(proto::EncodeJsonFrame(proto::FrameType::kOffer, ToJson(o)));
  } else {
    sent = SendSnapshot(conn, spool, e);
  }
  if (!sent.ok()) return sent;
  auto reply = ReadReply(conn, e.meta.snapshot_id);
  if (reply.ok() && reply->kind == Reply::kSendBody) {
    if (!offer) {
      return Status(StatusCode::kUnavailable,
                    conn.peer() +
                        ": protocol violation by the collector: send_body "
                        "after a snapshot");
    }
    if (Status s = SendSnapshot(conn, spool, e); !s.ok()) return s;
    reply = ReadReply(conn, e.meta.snapshot_id);
  }
  if (!reply.ok()) return reply.status();
  if (reply->kind == Reply::kAck) {
    if (Status s = spool.Remove(e); !s.ok()) return s;
    if (Status s = spool.SetLastAckedHash(e.meta.content_hash); !s.ok()) {
      log("send: " + s.message());
    }
    ++report.acked;
    log("send: snapshot " + e.meta.snapshot_id + " acknowledged (" +
        reply->ack.result.substr(0, 32) + ", received at " + reply->ack.received_at.substr(0, 64) +
        ")");
    return false;
  }
  if (reply->kind == Reply::kSendBody) {
    return Status(StatusCode::kUnavailable,
                  conn.peer() + ": protocol violation by the collector: a second send_body");
  }
  const proto::Error& err = reply->error;
  bool about_other = err.snapshot_id && *err.snapshot_id != e.meta.snapshot_id;
  if (!err.permanent || about_other) {
    return Status(StatusCode::kUnavailable,
                  conn.peer() + ": the collector could not take snapshot " + e.meta.snapshot_id +
                      " now (" + Describe(err) + ")");
  }
  if (Status s = spool.Reject(e, "collector: " + Describe(err)); !s.ok()) return s;
  ++report.rejected;
  return ClosesConnection(err.code);
}

}  // namespace

SendReport SendSpool(Spool& spool, const TlsIdentity& identity, const SendOptions& options,
                     const LogFn& log, int cancel_fd) {
  SendReport report;
  auto listed = spool.List();
  if (!listed.ok()) {
    report.last_error = listed.status();
    log("send: " + listed.status().message());
    return report;
  }
  const std::vector<SpoolEntry>& entries = *listed;
  size_t next = 0;
  auto finish = [&](Status why) {
    report.remaining = static_cast<int>(entries.size() - next);
    report.last_error = why;
    if (!why.ok()) {
      report.refused = report.refused || why.code() == StatusCode::kPermissionDenied;
      log("send: " + why.message() +
          (report.remaining > 0
               ? "; " + std::to_string(report.remaining) + " snapshot(s) stay in the spool"
               : ""));
    }
    return report;
  };
  while (next < entries.size()) {
    auto conn_or = Connection::Open(identity, options.endpoint, options.server_name,
                                    options.timeouts, cancel_fd);
    if (!conn_or.ok()) return finish(conn_or.status());
    Connection& conn = **conn_or;
    auto welcome = Greet(conn, spool, identity, options, log);
    if (!welcome.ok()) return finish(welcome.status());
    bool reconnect = false;
    while (next < entries.size() && !reconnect) {
      auto sent = SendEntry(conn, spool, entries[next], *welcome, options, log, report);
      if (!sent.ok()) return finish(sent.status());
      ++next;
      reconnect = *sent;
    }
    conn.Close();
  }
  return finish(Status::Ok());
}

}  // namespace tidemark::agent::uplink
