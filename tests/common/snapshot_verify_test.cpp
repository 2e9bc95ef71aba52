// The snapshot decoders facing hostile documents (issue 9, defects 1, 2, 8 and 12): every field
// mistyped at every position of the envelope, nesting far deeper than a stack, duplicate and
// unknown keys, over-long identifying fields. DecodeSnapshot (a tree) and VerifySnapshotText
// (one streaming pass, used by the collector) must never throw, and must agree: the same
// documents accepted, with the same content hash.
#include "common/snapshot_verify.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/snapshot.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using nlohmann::json;

Snapshot Sample() {
  Snapshot s;
  s.host = {"web-01", "web-01", "/"};
  s.collected_at = "2026-11-28T19:00:00Z";
  s.agent_version = "0.1.0";
  Section accounts;
  accounts.data["users"] = json::array({{{"name", "root"}, {"uid", 0}}});
  accounts.duration_ms = 3;
  Section sudo;
  sudo.AddError("/etc/sudoers", 12, "syntax error");
  sudo.AddError("", std::nullopt, "no includedir");
  sudo.data["grants"] = json::array();
  sudo.Finish();
  s.sections["accounts"] = accounts;
  s.sections["sudo"] = sudo;
  return s;
}

// Decodes `text` both ways; checks that neither throws and that they agree. Returns the
// verifier's status.
Status DecodeBothWays(const std::string& text) {
  StatusOr<Snapshot> decoded = Status(StatusCode::kInternal, "not run");
  StatusOr<VerifiedSnapshot> verified = Status(StatusCode::kInternal, "not run");
  EXPECT_NO_THROW(decoded = DecodeSnapshot(text)) << text.substr(0, 300);
  EXPECT_NO_THROW(verified = VerifySnapshotText(text)) << text.substr(0, 300);
  EXPECT_EQ(decoded.ok(), verified.ok()) << text.substr(0, 300) << "\n"
                                         << decoded.status().ToString() << "\n"
                                         << verified.status().ToString();
  if (decoded.ok() && verified.ok()) {
    EXPECT_EQ(ContentHash(*decoded), verified->content_hash);
    EXPECT_EQ(decoded->host.id, verified->host.id);
    EXPECT_EQ(decoded->host.hostname, verified->host.hostname);
    EXPECT_EQ(decoded->host.root, verified->host.root);
    EXPECT_EQ(decoded->collected_at, verified->collected_at);
    EXPECT_EQ(decoded->agent_version, verified->agent_version);
  } else if (!decoded.ok() && !verified.ok()) {
    EXPECT_EQ(decoded.status().message(), verified.status().message());
  }
  return verified.status();
}

void ExpectRefused(const std::string& text, const std::string& why) {
  Status s = DecodeBothWays(text);
  ASSERT_FALSE(s.ok()) << text.substr(0, 300);
  EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
}

std::vector<json> AllTypes() {
  return {nullptr,
          true,
          false,
          0,
          -1,
          uint64_t{18446744073709551615u},
          1.5,
          "",
          "x",
          json::array(),
          json::array({1, "a"}),
          json::object(),
          {{"a", {{"b", 1}}}}};
}

TEST(SnapshotVerifyTest, AcceptsEveryWriterFormWithTheSameHash) {
  Snapshot s = Sample();
  std::string expected = ContentHash(s);
  for (const std::string& text :
       {SerializeSnapshot(s), EncodeSnapshot(s).dump(), EncodeSnapshot(s).dump(2)}) {
    ASSERT_TRUE(DecodeBothWays(text).ok()) << text;
    auto v = VerifySnapshotText(text);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->content_hash, expected);
    EXPECT_EQ(v->host.id, "web-01");
    EXPECT_EQ(v->collected_at, "2026-11-28T19:00:00Z");
    EXPECT_EQ(v->agent_version, "0.1.0");
    EXPECT_EQ(v->sections, (std::vector<std::string>{"accounts", "sudo"}));
  }
  Snapshot empty = s;
  empty.sections.clear();
  EXPECT_TRUE(DecodeBothWays(SerializeSnapshot(empty)).ok());
  EXPECT_EQ(VerifySnapshotText(SerializeSnapshot(empty))->content_hash, ContentHash(empty));
}

TEST(SnapshotVerifyTest, StreamingHashEqualsTheTreeHashOnAwkwardData) {
  Snapshot s = Sample();
  Section& odd = s.sections["odd"];
  odd.data["strings"] = json::array({"", "tab\there", "nl\n", "quote\"back\\slash", "\x01\x1f\x7f",
                                     "caf\xc3\xa9", "\xf0\x9f\x94\x91", "/etc/\xe2\x80\xae"});
  odd.data["numbers"] = json::array({0, -1, INT64_MIN, INT64_MAX, uint64_t{18446744073709551615u}});
  odd.data["nested"] = {{"a", {{"b", json::array({json::object(), json::array(), nullptr})}}},
                        {"\"", 1},
                        {"~", 2},
                        {"\xc3\xa9", 3},
                        {"A", false},
                        {"", true}};
  ItemArray items;
  for (int i = 0; i < 50; ++i) items.push_back({{"id", "item:" + std::to_string(i)}, {"n", i}});
  odd.items["items"] = items;
  odd.AddError("/p\x1b[2K", 1, "m\r\n");
  odd.Finish();
  Snapshot materialized = s;
  materialized.sections["odd"].Materialize();
  std::string expected = ContentHash(materialized);
  for (const std::string& text : {SerializeSnapshot(s), EncodeSnapshot(materialized).dump(),
                                  EncodeSnapshot(materialized).dump(1, '\t')}) {
    ASSERT_TRUE(DecodeBothWays(text).ok());
    EXPECT_EQ(VerifySnapshotText(text)->content_hash, expected);
  }
  // Escapes the writer would not use, same value: same hash.
  json j = EncodeSnapshot(materialized);
  std::string text = j.dump();
  size_t at = text.find("\"root\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 6, "\"\\u0072o\\/ot\"");  // "ro/ot": another value
  Status changed = DecodeBothWays(text);
  EXPECT_FALSE(changed.ok());
  EXPECT_EQ(changed.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(changed.message().find("content_hash does not match"), std::string::npos)
      << changed.message();
  text = j.dump();
  text.replace(text.find("\"root\""), 6, "\"\\u0072oot\"");
  EXPECT_TRUE(DecodeBothWays(text).ok());
  EXPECT_EQ(VerifySnapshotText(text)->content_hash, expected);
}

TEST(SnapshotVerifyTest, CollectedFixtureRootsDecodeAlikeBothWays) {
  // The agent's real output for a root assembled from the project's fixtures, compact and
  // pretty.
  testing::TempRoot root;
  namespace fs = std::filesystem;
  const fs::path fixtures = TIDEMARK_FIXTURES_DIR;
  fs::copy(fixtures / "sudoers/debian_stock/etc", root.path() + "/etc",
           fs::copy_options::recursive);
  fs::create_directories(root.path() + "/etc/pam.d");
  fs::copy(fixtures / "pam/debian12", root.path() + "/etc/pam.d", fs::copy_options::recursive);
  root.Write("/etc/hostname", "fixture-host\n");
  root.Write("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/a:/bin/sh\n");
  root.Write("/etc/group", "root:x:0:\nsudo:x:27:alice\n");
  root.Write("/root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummy c\n");
  for (const char* flags : {"", " --pretty"}) {
    std::string out = root.path() + "/snapshot.json";
    std::string cmd = std::string(TIDEMARK_AGENT_BIN) + " collect --root " + root.path() + flags +
                      " --output " + out + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()) == -1, false);
    std::ifstream in(out);
    std::stringstream buf;
    buf << in.rdbuf();
    ASSERT_FALSE(buf.str().empty()) << cmd;
    EXPECT_TRUE(DecodeBothWays(buf.str()).ok()) << flags;
  }
}

TEST(SnapshotVerifyTest, EveryMistypedEnvelopeFieldIsRefusedWithoutThrowing) {
  // Defect 1: "hostname": 5 made DecodeSnapshot throw (json::value on a non-string).
  json good = EncodeSnapshot(Sample());
  ASSERT_TRUE(DecodeBothWays(good.dump()).ok());
  std::vector<std::vector<std::string>> positions = {{"schema"},
                                                     {"host"},
                                                     {"host", "id"},
                                                     {"host", "hostname"},
                                                     {"host", "root"},
                                                     {"collected_at"},
                                                     {"agent"},
                                                     {"agent", "version"},
                                                     {"content_hash"},
                                                     {"sections"},
                                                     {"accounts"},
                                                     {"accounts", "status"},
                                                     {"accounts", "errors"},
                                                     {"accounts", "duration_ms"},
                                                     {"sudo", "errors"}};
  for (const auto& path : positions) {
    for (const json& value : AllTypes()) {
      json j = good;
      json* at = &j;
      for (size_t i = 0; i + 1 < path.size(); ++i) at = &(*at)[path[i]];
      json original = (*at)[path.back()];
      (*at)[path.back()] = value;
      Status s = DecodeBothWays(j.dump());
      bool same_kind = original.type() == value.type() ||
                       (original.is_number_integer() && value.is_number_integer());
      if (!same_kind) {
        EXPECT_FALSE(s.ok()) << j.dump();
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << j.dump();
        EXPECT_NE(s.message().find("malformed snapshot"), std::string::npos) << s.message();
      }
      (*at).erase(path.back());
      DecodeBothWays(j.dump());
    }
  }
  // Every position of a section error and of the sections list.
  for (const json& value : AllTypes()) {
    for (const char* key : {"path", "line", "message"}) {
      json j = good;
      j["sudo"]["errors"][0][key] = value;
      Status s = DecodeBothWays(j.dump());
      bool fits = (value.is_string() && std::string(key) != "line") ||
                  (std::string(key) == "line" && (value.is_number_integer() || value.is_null()));
      if (!fits) {
        EXPECT_FALSE(s.ok()) << j.dump();
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << j.dump();
        EXPECT_NE(s.message().find("malformed snapshot"), std::string::npos) << s.message();
      }
    }
    json j = good;
    j["sudo"]["errors"][1] = value;
    if (!value.is_object()) {
      Status s = DecodeBothWays(j.dump());
      EXPECT_FALSE(s.ok());
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << j.dump();
      EXPECT_NE(s.message().find("malformed snapshot"), std::string::npos) << s.message();
    }
    j = good;
    j["sections"][1] = value;
    if (value != "sudo") {
      Status s = DecodeBothWays(j.dump());
      EXPECT_FALSE(s.ok());
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << j.dump();
      EXPECT_NE(s.message().find("malformed snapshot"), std::string::npos) << s.message();
    }
  }
  ExpectRefused(R"({"schema":"tidemark.snapshot/1","host":{"id":"h","hostname":5}})",
                "host.hostname is not a string");
  ExpectRefused("[]", "not a JSON object");
  ExpectRefused("5", "not a JSON object");
}

std::string Deep(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// Replaces the first occurrence of `from` in the compact sample document.
std::string Edited(const std::string& from, const std::string& to) {
  std::string text = SerializeSnapshot(Sample());
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(SnapshotVerifyTest, NestingIsLimitedWhileParsing) {
  // Defect 2: 75,000 levels overflowed the stack; 60,000 were stored and crashed readers.
  for (size_t depth : {75000u, 60000u, 65u}) {
    ExpectRefused(Edited("\"grants\":[]", "\"grants\":" + Deep(depth)), "nested deeper than 64");
  }
  EXPECT_TRUE(VerifySnapshotText(Edited("\"grants\":[]", "\"grants\":" + Deep(61)))
                  .status()
                  .message()
                  .find("content_hash does not match") != std::string::npos);
  ExpectRefused(std::string(200000, '{'), "malformed snapshot");
}

TEST(SnapshotVerifyTest, RefusesDuplicateAndForeignKeys) {
  // Defect 12: what is stored must be exactly the canonical form plus the documented envelope.
  ExpectRefused(Edited("\"schema\":", "\"schema\":\"x\",\"schema\":"), "duplicate key 'schema'");
  ExpectRefused(Edited("\"id\":\"web-01\"", "\"id\":\"web-01\",\"id\":\"web-02\""),
                "duplicate key 'id'");
  ExpectRefused(Edited("{\"name\":\"root\"", "{\"name\":\"root\",\"name\":\"toor\""),
                "duplicate key 'name'");
  ExpectRefused(Edited("\"status\":\"ok\"", "\"status\":\"ok\",\"status\":\"ok\""),
                "duplicate key 'status'");
  ExpectRefused(Edited("\"duration_ms\":3,", "\"duration_ms\":3,\"duration_ms\":4,"),
                "duplicate key 'duration_ms'");
  ExpectRefused(Edited("\"line\":12", "\"line\":12,\"line\":13"), "duplicate key 'line'");
  std::string sudo = SerializeSnapshot(Sample());
  std::string section =
      sudo.substr(sudo.find(",\"sudo\":"), sudo.find(",\"agent\":") - sudo.find(",\"sudo\":"));
  ExpectRefused(Edited(",\"agent\":", section + ",\"agent\":"), "duplicate key 'sudo'");
  ExpectRefused(Edited(",\"agent\":{", ",\"zz\":{\"errors\":[],\"status\":\"ok\"},\"agent\":{"),
                "top-level key 'zz' is not a listed section");
  ExpectRefused(Edited(",\"agent\":{", ",\"zz\":1,\"agent\":{"), "section 'zz' is not an object");
  ExpectRefused(Edited("\"agent\":{", "\"Extra\":1,\"agent\":{"),
                "neither an envelope field nor a section");
  ExpectRefused(Edited("\"root\":\"/\"", "\"root\":\"/\",\"os\":\"x\""),
                "unknown key 'os' in host");
  ExpectRefused(Edited("\"version\":\"0.1.0\"", "\"version\":\"0.1.0\",\"x\":1"),
                "unknown key 'x' in agent");
  ExpectRefused(Edited("{\"line\":12,\"message\":\"syntax error\"",
                       "{\"message\":\"syntax error\",\"line\":12"),
                "out of canonical order");
  ExpectRefused(Edited("\"line\":12", "\"line\":12,\"secret\":1"),
                "unknown key 'secret' in a section error");
  ExpectRefused(Edited("{\"line\":12,", "{"), "lacks path, line or message");
  ExpectRefused(Edited("[\"accounts\",\"sudo\"]", "[\"accounts\",\"sudo\",\"sudo\"]"),
                "listed twice");
  ExpectRefused(Edited("[\"accounts\",\"sudo\"]", "[\"sudo\",\"accounts\"]"), "not sorted");
  ExpectRefused(Edited("[\"accounts\",\"sudo\"]", "[\"accounts\"]"), "not a listed section");
  ExpectRefused(Edited("[\"accounts\",\"sudo\"]", "[\"accounts\",\"sudo\",\"zz\"]"),
                "listed section 'zz' is missing");
  // Keys inside a section in another order than the canonical form.
  ExpectRefused(Edited("{\"name\":\"root\",\"uid\":0}", "{\"uid\":0,\"name\":\"root\"}"),
                "out of canonical order");
  // Numbers are integers.
  ExpectRefused(Edited("\"uid\":0", "\"uid\":0.0"), "not an integer");
  ExpectRefused(Edited("\"uid\":0", "\"uid\":1e300"), "not an integer");
}

TEST(SnapshotVerifyTest, BoundsEveryIdentifyingField) {
  // Defect 8: lengths are bounded at decode; the limits themselves are accepted.
  auto with = [](const std::function<void(Snapshot&)>& edit) {
    Snapshot s = Sample();
    edit(s);
    return SerializeSnapshot(s);
  };
  struct Case {
    std::function<void(Snapshot&, size_t)> set;
    size_t max;
    const char* field;
  };
  std::vector<Case> cases = {
      {[](Snapshot& s, size_t n) { s.host.id = std::string(n, 'a'); }, 253, "host.id"},
      {[](Snapshot& s, size_t n) { s.host.hostname = std::string(n, 'h'); }, 253, "host.hostname"},
      {[](Snapshot& s, size_t n) { s.host.root = std::string(n, 'r'); }, 4096, "host.root"},
      {[](Snapshot& s, size_t n) { s.agent_version = std::string(n, 'v'); }, 128, "agent.version"},
      {[](Snapshot& s, size_t n) {
         s.collected_at = "2026-11-28T19:00:00." + std::string(n - 21, '0') + "Z";
       },
       64, "collected_at"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(DecodeBothWays(with([&](Snapshot& s) { c.set(s, c.max); })).ok()) << c.field;
    ExpectRefused(with([&](Snapshot& s) { c.set(s, c.max + 1); }), c.field);
  }
  // An error's path and message: the writer cuts them to the limits (snapshot_test), so a text
  // over them is made by hand here.
  EXPECT_TRUE(DecodeBothWays(with([](Snapshot& s) {
                s.sections["sudo"].errors[0].message = std::string(4096, 'm');
                s.sections["sudo"].errors[0].path = std::string(4096, 'p');
              })).ok());
  ExpectRefused(Edited("\"syntax error\"", "\"" + std::string(4097, 'm') + "\""),
                "a section error's message is longer than 4096 bytes");
  ExpectRefused(Edited("\"/etc/sudoers\"", "\"" + std::string(4097, 'p') + "\""),
                "a section error's path is longer than 4096 bytes");
  ExpectRefused(with([](Snapshot& s) { s.host.id = "web 01"; }), "host.id 'web 01' is not valid");
  ExpectRefused(with([](Snapshot& s) { s.collected_at = "2026-11-28T19:00:00Z\n2026-11-28 x"; }),
                "not an RFC 3339 time");
  ExpectRefused(with([](Snapshot& s) { s.collected_at = "yesterday"; }), "not an RFC 3339 time");
  // A huge agent.version is refused, and the message does not quote it whole.
  Status huge =
      DecodeBothWays(with([](Snapshot& s) { s.agent_version = std::string(10 << 20, 'v'); }));
  ASSERT_FALSE(huge.ok());
  EXPECT_LT(huge.message().size(), 300u);
}

TEST(SnapshotVerifyTest, VolatileIsCheckedButNotHashed) {
  Snapshot s = Sample();
  s.sections["sudo"].volatile_data["scan"] = {{"seen", 5}, {"pids", json::array({1, 2})}};
  std::string text = SerializeSnapshot(s);
  ASSERT_TRUE(DecodeBothWays(text).ok());
  EXPECT_EQ(VerifySnapshotText(text)->content_hash, ContentHash(Sample()));
  // Anywhere in its section, once, an object, its keys in order like the rest.
  std::string moved = text;
  size_t at = moved.find(",\"volatile\":");
  size_t end = moved.find("}}", at) + 2;
  std::string entry = moved.substr(at, end - at);
  moved.erase(at, end - at);
  size_t sudo = moved.find("\"sudo\":{");
  ASSERT_NE(sudo, std::string::npos);
  moved.insert(sudo + 8, entry.substr(1) + ",");  // first in its section
  EXPECT_TRUE(DecodeBothWays(moved).ok()) << moved;
  ExpectRefused(Edited("\"duration_ms\":3,", "\"duration_ms\":3,\"volatile\":5,"),
                "volatile is not an object");
  ExpectRefused(Edited("\"duration_ms\":3,", "\"duration_ms\":3,\"volatile\":{},\"volatile\":{},"),
                "duplicate key 'volatile'");
  ExpectRefused(Edited("\"duration_ms\":3,", "\"duration_ms\":3,\"volatile\":{\"b\":1,\"a\":1},"),
                "out of canonical order");
}

TEST(SnapshotVerifyTest, ForeignMajorVersionIsNamedEvenWhenTheStructureDiffers) {
  json j = EncodeSnapshot(Sample());
  j["schema"] = "tidemark.snapshot/2";
  j["newfield"] = {{"x", 1}};
  ExpectRefused(j.dump(), "unsupported snapshot schema 'tidemark.snapshot/2'");
}

TEST(SnapshotVerifyTest, TheTreeBuiltInTheVerifyingPassIsTheParsedDocument) {
  // DecodeSnapshot builds its tree in the verifying pass (one parse): every value, key, escape
  // and nesting must land as a plain parse puts it.
  Snapshot s = Sample();
  Section& odd = s.sections["odd"];
  odd.data["strings"] = json::array({"", "tab\there", "quote\"back\\slash", "caf\xc3\xa9"});
  odd.data["numbers"] = json::array({0, -1, INT64_MIN, INT64_MAX, uint64_t{18446744073709551615u}});
  odd.data["nested"] = {{"a", {{"b", json::array({json::object(), json::array(), nullptr})}}},
                        {"\"", 1},
                        {"A", false}};
  s.sections["sudo"].volatile_data["scan"] = {{"seen", 5}};
  odd.AddError("/p", 1, "m");
  odd.Finish();
  for (const std::string& text : {SerializeSnapshot(s), EncodeSnapshot(s).dump(2)}) {
    json tree;
    ASSERT_TRUE(VerifySnapshotText(text, &tree).ok());
    EXPECT_EQ(tree, json::parse(text));
  }
  // A refused document: the error is the verifier's, whatever the tree holds.
  json tree;
  auto refused = VerifySnapshotText(Edited("\"uid\":0", "\"uid\":0.5"), &tree);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("not an integer"), std::string::npos);
}

}  // namespace
}  // namespace tidemark
