// tidemark/1 framing (docs/protocol.md): header layout, limits, malformed input, messages.
#include "common/transport/protocol.h"

#include <gtest/gtest.h>

#include <functional>

namespace tidemark::protocol {
namespace {

std::array<uint8_t, kHeaderSize> HeaderOf(std::string_view frame) {
  std::array<uint8_t, kHeaderSize> h{};
  for (size_t i = 0; i < kHeaderSize; ++i) h[i] = static_cast<uint8_t>(frame[i]);
  return h;
}

TEST(ProtocolTest, HeaderIsMagicVersionTypeAndBigEndianLength) {
  std::string frame = EncodeFrame(FrameType::kAck, std::string(0x010203, 'x'));
  ASSERT_EQ(frame.size(), kHeaderSize + 0x010203);
  EXPECT_EQ(frame.substr(0, 4), std::string("TM\x01\x05", 4));
  EXPECT_EQ(static_cast<uint8_t>(frame[4]), 0x00);
  EXPECT_EQ(static_cast<uint8_t>(frame[5]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(frame[6]), 0x02);
  EXPECT_EQ(static_cast<uint8_t>(frame[7]), 0x03);
  auto h = DecodeHeader(HeaderOf(frame), kDefaultMaxFrameBytes);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->type, FrameType::kAck);
  EXPECT_EQ(h->length, 0x010203u);
}

TEST(ProtocolTest, RejectsGarbageOtherVersionsUnknownTypesAndOversizedFrames) {
  auto garbage = DecodeHeader(HeaderOf("GET / HT"), kDefaultMaxFrameBytes);
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(garbage.status().message().find("magic"), std::string::npos);
  std::string v2 = EncodeFrame(FrameType::kHello, "{}");
  v2[2] = 2;
  EXPECT_NE(DecodeHeader(HeaderOf(v2), kDefaultMaxFrameBytes).status().message().find("version 2"),
            std::string::npos);
  for (uint8_t type : {0, 8, 255}) {
    std::string f = EncodeFrame(FrameType::kHello, "{}");
    f[3] = static_cast<char>(type);
    EXPECT_NE(DecodeHeader(HeaderOf(f), kDefaultMaxFrameBytes).status().message().find("type"),
              std::string::npos);
  }
  auto big = EncodeHeader(FrameType::kSnapshot, 1001);
  EXPECT_EQ(DecodeHeader(big, 1000).status().code(), StatusCode::kTooLarge);
  EXPECT_TRUE(DecodeHeader(big, 1001).ok());
}

TEST(ProtocolTest, SnapshotPayloadRoundTripsAndRejectsBadMeta) {
  std::string frame = EncodeSnapshotFrame("web-01-20261128T190000Z-0011223344556677", "sha256:ab",
                                          "{\"schema\":1}");
  auto p = ParseSnapshotPayload(std::string_view(frame).substr(kHeaderSize));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->snapshot_id, "web-01-20261128T190000Z-0011223344556677");
  EXPECT_EQ(p->content_hash, "sha256:ab");
  EXPECT_EQ(p->body, "{\"schema\":1}");

  auto refused = [](const StatusOr<SnapshotPayload>& r, const std::string& why) {
    EXPECT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << why;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  refused(ParseSnapshotPayload(""), "shorter than its meta length");
  refused(ParseSnapshotPayload(std::string("\x00\x00\x10\x00{}", 6)),  // meta too long
          "meta length exceeds the payload");
  refused(ParseSnapshotPayload(std::string("\x00\x00\x00\x02{}", 6)),  // no fields
          "field \"snapshot_id\" missing");
  std::string bad_id = EncodeSnapshotFrame("../../etc", "sha256:ab", "{}");
  auto bad = ParseSnapshotPayload(std::string_view(bad_id).substr(kHeaderSize));
  ASSERT_FALSE(bad.ok());  // well-formed: refused for good, not malformed (the test below)
  EXPECT_EQ(bad.status().code(), StatusCode::kRejected);
  std::string no_body = EncodeSnapshotFrame("a", "sha256:ab", "");
  refused(ParseSnapshotPayload(std::string_view(no_body).substr(kHeaderSize)), "has no document");
}

// The collector refuses such a snapshot for good (bad_snapshot) but closes the connection on a
// malformed frame: it tells the two apart by the code, never by the message.
TEST(ProtocolTest, AnInvalidSnapshotIdIsRejectedAndAMalformedFrameIsInvalid) {
  std::string bad_id = EncodeSnapshotFrame("../../etc", "sha256:ab", "{}");
  auto p = ParseSnapshotPayload(std::string_view(bad_id).substr(kHeaderSize));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kRejected);
  EXPECT_EQ(p.status().message(), "invalid snapshot_id");
  auto no_fields = ParseSnapshotPayload(std::string("\x00\x00\x00\x02{}", 6));
  ASSERT_FALSE(no_fields.ok());
  EXPECT_EQ(no_fields.status().code(), StatusCode::kInvalidArgument);

  auto offer = OfferFromJson(ToJson(Offer{"a/b", "sha256:ab", "not a time"}));
  ASSERT_FALSE(offer.ok());
  EXPECT_EQ(offer.status().code(), StatusCode::kRejected);
  auto late = OfferFromJson(ToJson(Offer{"id1", "sha256:ab", "not a time"}));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(late.status().message().find("collected_at"), std::string::npos);
}

TEST(ProtocolTest, JsonPayloadsMustBeOneObject) {
  EXPECT_TRUE(ParseJsonPayload("{\"a\":1}").ok());
  for (const auto& [payload, why] : std::vector<std::pair<std::string, std::string>>{
           {"[1]", "payload is not a JSON object"},
           {"{\"a\":1} {}", "payload not valid JSON"},
           {std::string("\xff\xfe", 2), "payload not valid JSON"},
           {"", "payload not valid JSON"}}) {
    auto j = ParseJsonPayload(payload);
    EXPECT_FALSE(j.ok()) << payload;
    EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument) << payload;
    EXPECT_NE(j.status().message().find(why), std::string::npos) << j.status().message();
  }
}

TEST(ProtocolTest, MessagesRoundTripAndNameMissingFields) {
  Hello hello{"0.1.0", 1, {"offer"}, 3, 1};
  auto h = HelloFromJson(ToJson(hello));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->spool_dropped, 3);
  EXPECT_EQ(h->spool_rejected, 1);
  EXPECT_EQ(h->capabilities, std::vector<std::string>{"offer"});

  auto ack = AckFromJson(ToJson(Ack{"id1", "seen", "2026-11-28T19:00:00Z"}));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->result, "seen");
  auto maybe = AckFromJson({{"snapshot_id", "x"}, {"result", "maybe"}, {"received_at", ""}});
  EXPECT_FALSE(maybe.ok());
  EXPECT_EQ(maybe.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(maybe.status().message().find("unknown ack result \"maybe\""), std::string::npos)
      << maybe.status().message();

  auto missing = OfferFromJson({{"snapshot_id", "x"}, {"content_hash", "sha256:1"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("collected_at"), std::string::npos);

  auto err = ErrorFromJson(ToJson(Error{std::string(kErrIdentityMismatch), "no", "id9", true}));
  ASSERT_TRUE(err.ok());
  EXPECT_TRUE(err->permanent);
  EXPECT_EQ(err->snapshot_id.value_or(""), "id9");

  auto welcome = WelcomeFromJson(ToJson(Welcome{"0.1.0", 1, "web-01", 1024, {}}));
  ASSERT_TRUE(welcome.ok());
  EXPECT_EQ(welcome->host, "web-01");
  EXPECT_EQ(welcome->max_frame_bytes, 1024u);
  EXPECT_FALSE(
      WelcomeFromJson(
          {{"collector_version", "1"}, {"protocol", 1}, {"host", "h"}, {"max_frame_bytes", -1}})
          .ok());
}

TEST(ProtocolTest, HostAndSnapshotIdRules) {
  EXPECT_TRUE(IsValidHostId("web-01.example.org"));
  EXPECT_TRUE(IsValidHostId("db_2"));
  EXPECT_FALSE(IsValidHostId(""));
  EXPECT_FALSE(IsValidHostId("-x"));
  EXPECT_FALSE(IsValidHostId(".x"));
  EXPECT_FALSE(IsValidHostId("a..b"));
  EXPECT_FALSE(IsValidHostId("a b"));
  EXPECT_FALSE(IsValidHostId("a/b"));
  EXPECT_FALSE(IsValidHostId(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidHostId(std::string(254, 'a')));
  std::string id = NewSnapshotId("web-01", 1795892400);  // 2026-11-28T19:00:00Z
  EXPECT_TRUE(IsValidSnapshotId(id));
  EXPECT_EQ(id.substr(0, 24), "web-01-20261128T190000Z-");
  EXPECT_EQ(id.size(), 24u + 16u);
  EXPECT_NE(id, NewSnapshotId("web-01", 1795892400));
  EXPECT_FALSE(IsValidSnapshotId("a/b"));
  EXPECT_FALSE(IsValidSnapshotId(std::string(129, 'a')));
}

// Every value type, for the tables below: the decoders must answer each with a Status.
std::vector<nlohmann::json> AllTypes() {
  return {nullptr,
          true,
          -1,
          uint64_t{18446744073709551615u},
          1.5,
          "",
          "x",
          std::string(300, 'a'),
          nlohmann::json::array(),
          nlohmann::json::array({1, "a", nullptr}),
          nlohmann::json::object(),
          {{"a", {{"b", 1}}}}};
}

// Replaces the value at each position of `good` (top level and one level down) with each type,
// and removes it, and checks that `decode` returns a Status for each: no throw, and a wrong type
// where a known field was is refused.
void ForEachMistypedField(const nlohmann::json& good,
                          const std::function<Status(const nlohmann::json&)>& decode) {
  ASSERT_TRUE(decode(good).ok()) << good.dump();
  for (const auto& value : AllTypes()) {
    EXPECT_NO_THROW(decode(value)) << value.dump();
    EXPECT_FALSE(good == value || decode(value).ok()) << value.dump();
    if (good != value) {
      EXPECT_EQ(decode(value).code(), StatusCode::kInvalidArgument) << value.dump();
    }
  }
  for (auto it = good.begin(); it != good.end(); ++it) {
    for (const auto& value : AllTypes()) {
      nlohmann::json j = good;
      j[it.key()] = value;
      Status s;
      EXPECT_NO_THROW(s = decode(j)) << j.dump();
      if (it.value().type() != value.type() && !(it.value().is_number() && value.is_number())) {
        EXPECT_FALSE(s.ok()) << j.dump();
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << j.dump();
        EXPECT_NE(s.message().find("\"" + it.key() + "\""), std::string::npos) << s.message();
      }
      if (it.value().is_object()) {
        for (auto in = it.value().begin(); in != it.value().end(); ++in) {
          nlohmann::json k = good;
          k[it.key()][in.key()] = value;
          EXPECT_NO_THROW((void)decode(k)) << k.dump();
        }
      }
    }
    nlohmann::json without = good;
    without.erase(it.key());
    EXPECT_NO_THROW((void)decode(without)) << without.dump();
  }
}

TEST(ProtocolTest, DecodersAnswerEveryMistypedFieldWithAStatus) {
  auto status = [](const auto& r) { return r.status(); };
  ForEachMistypedField(ToJson(Hello{"0.1.0", 1, {"offer"}, 3, 1}),
                       [&](const nlohmann::json& j) { return status(HelloFromJson(j)); });
  ForEachMistypedField(ToJson(Welcome{"0.1.0", 1, "web-01", 1024, {"offer"}}),
                       [&](const nlohmann::json& j) { return status(WelcomeFromJson(j)); });
  ForEachMistypedField(ToJson(Offer{"id1", "sha256:ab", "2026-11-28T19:00:00Z"}),
                       [&](const nlohmann::json& j) { return status(OfferFromJson(j)); });
  ForEachMistypedField(ToJson(Ack{"id1", "stored", "2026-11-28T19:00:00Z"}),
                       [&](const nlohmann::json& j) { return status(AckFromJson(j)); });
  ForEachMistypedField(ToJson(SendBody{"id1"}),
                       [&](const nlohmann::json& j) { return status(SendBodyFromJson(j)); });
  ForEachMistypedField(ToJson(Error{"busy", "later", "id1", true}),
                       [&](const nlohmann::json& j) { return status(ErrorFromJson(j)); });
  // The snapshot frame's meta, through the payload parser.
  auto meta_payload = [](const nlohmann::json& meta) {
    std::string text = meta.dump();
    std::string payload(4, '\0');
    for (int i = 0; i < 4; ++i) payload[i] = static_cast<char>(text.size() >> (24 - 8 * i));
    return payload + text + "{}";
  };
  ForEachMistypedField(
      {{"snapshot_id", "id1"}, {"content_hash", "sha256:ab"}},
      [&](const nlohmann::json& j) { return ParseSnapshotPayload(meta_payload(j)).status(); });
}

TEST(ProtocolTest, OfferTimesAreBoundedRfc3339) {
  EXPECT_TRUE(OfferFromJson(ToJson(Offer{"id1", "sha256:ab", "2026-11-28T19:00:00.5+01:00"})).ok());
  for (const std::string& bad : std::vector<std::string>{
           "", "yesterday", "2026-11-28T19:00:00Z\n2026-11-28 forged", "2026-13-28T19:00:00Z",
           "2026-11-28T19:00:00Z" + std::string(60, ' '),
           "2026-11-28T19:00:00." + std::string(60, '0') + "Z"}) {
    auto offer = OfferFromJson(ToJson(Offer{"id1", "sha256:ab", bad}));
    ASSERT_FALSE(offer.ok()) << bad;
    EXPECT_NE(offer.status().message().find("collected_at"), std::string::npos);
  }
}

TEST(ProtocolTest, JsonPayloadsAreBoundedWhileParsing) {
  // Nesting that would overflow a recursive copy is refused by the parser itself.
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto j = ParseJsonPayload(deep);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("nested deeper"), std::string::npos);
  std::string deep_meta = std::string(4, '\0') + deep + "{}";
  for (int i = 0; i < 4; ++i) deep_meta[i] = static_cast<char>(deep.size() >> (24 - 8 * i));
  auto p = ParseSnapshotPayload(deep_meta);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("nested deeper"), std::string::npos);
  auto duplicate = ParseJsonPayload(R"({"code":"a","code":"b","message":"m"})");
  EXPECT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(duplicate.status().message().find("duplicate key"), std::string::npos)
      << duplicate.status().message();
  auto long_string = ParseJsonPayload("{\"m\":\"" + std::string(100000, 'a') + "\"}");
  EXPECT_FALSE(long_string.ok());
  EXPECT_EQ(long_string.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(long_string.status().message().find("string is longer than"), std::string::npos)
      << long_string.status().message();
}

}  // namespace
}  // namespace tidemark::protocol
