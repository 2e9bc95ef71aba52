#include "common/snapshot.h"

#include <gtest/gtest.h>

#include "common/identity.h"
#include "common/sha256.h"

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
  sudo.data["grants"] = json::array();
  sudo.Finish();
  s.sections["accounts"] = accounts;
  s.sections["sudo"] = sudo;
  return s;
}

TEST(SnapshotTest, EncodesEnvelopeAndSections) {
  json j = EncodeSnapshot(Sample());
  EXPECT_EQ(j["schema"], "tidemark.snapshot/1");
  EXPECT_EQ(j["host"]["id"], "web-01");
  EXPECT_EQ(j["agent"]["version"], "0.1.0");
  EXPECT_EQ(j["sections"], json::array({"accounts", "sudo"}));
  EXPECT_EQ(j["accounts"]["status"], "ok");
  EXPECT_EQ(j["accounts"]["duration_ms"], 3);
  EXPECT_EQ(j["accounts"]["users"][0]["name"], "root");
  EXPECT_EQ(j["sudo"]["status"], "partial");
  EXPECT_EQ(j["sudo"]["errors"][0]["path"], "/etc/sudoers");
  EXPECT_EQ(j["sudo"]["errors"][0]["line"], 12);
  EXPECT_EQ(j["content_hash"].get<std::string>().substr(0, 7), "sha256:");
}

TEST(SnapshotTest, RoundTrips) {
  Snapshot s = Sample();
  auto decoded = DecodeSnapshot(EncodeSnapshot(s).dump());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->host.id, "web-01");
  EXPECT_EQ(decoded->collected_at, s.collected_at);
  ASSERT_EQ(decoded->sections.size(), 2u);
  EXPECT_EQ(decoded->sections["sudo"].errors, s.sections["sudo"].errors);
  EXPECT_EQ(decoded->sections["accounts"].data, s.sections["accounts"].data);
  EXPECT_EQ(ContentHash(*decoded), ContentHash(s));
}

TEST(SnapshotTest, HashIgnoresVolatileMetadataButNotContent) {
  Snapshot a = Sample();
  Snapshot b = Sample();
  b.collected_at = "2030-01-01T00:00:00Z";
  b.agent_version = "9.9.9";
  b.sections["accounts"].duration_ms = 999;
  EXPECT_EQ(ContentHash(a), ContentHash(b));
  b.sections["accounts"].data["users"][0]["uid"] = 1;
  EXPECT_NE(ContentHash(a), ContentHash(b));
  Snapshot c = Sample();
  c.sections["sudo"].errors[0].line = 13;
  EXPECT_NE(ContentHash(a), ContentHash(c));
}

TEST(SnapshotTest, CanonicalFormHasSortedKeysAndNoWhitespace) {
  Snapshot s = Sample();
  std::string canonical = CanonicalSections(s);
  EXPECT_EQ(canonical.find(' '), canonical.find("syntax error") + 6);  // only inside strings
  EXPECT_EQ(canonical.find("duration_ms"), std::string::npos);
  EXPECT_LT(canonical.find("\"accounts\""), canonical.find("\"sudo\""));
  EXPECT_LT(canonical.find("\"errors\""), canonical.find("\"status\""));
  EXPECT_EQ(canonical.find("collected_at"), std::string::npos);
  EXPECT_EQ(ContentHash(s), "sha256:" + Sha256Hex(canonical));
}

TEST(SnapshotTest, SerializeEqualsEncodeDump) {
  Snapshot s = Sample();
  s.sections["accounts"].data["aaa"] = json::object({{"z", 1}, {"a", "\u00e9\n"}});
  s.sections["accounts"].data["files"] = json::array({1, 2});
  s.sections["accounts"].data["zzz"] = nullptr;
  s.sections["empty"] = Section{};
  std::string text = SerializeSnapshot(s);
  EXPECT_EQ(json::parse(text), EncodeSnapshot(s));
  EXPECT_EQ(text.back(), '\n');
  // Sections first, envelope last (so that a writer can stream), in sorted order each.
  EXPECT_LT(text.find("\"accounts\""), text.find("\"empty\""));
  EXPECT_LT(text.find("\"sudo\""), text.find("\"agent\""));
  EXPECT_TRUE(DecodeSnapshot(text).ok());
  // And the canonical text equals the merged object without duration_ms.
  json all = json::object();
  for (const auto& [name, section] : s.sections) {
    all[name] = EncodeSection(section);
    all[name].erase("duration_ms");
  }
  EXPECT_EQ(CanonicalSections(s), all.dump());
}

TEST(SnapshotTest, WriterStreamsHashesAndRejectsUnsortedSections) {
  Snapshot s = Sample();
  std::vector<std::string> pieces;
  SnapshotWriter writer([&](std::string_view piece) {
    pieces.emplace_back(piece);
    return Status::Ok();
  });
  ASSERT_TRUE(writer.AddSection("accounts", s.sections["accounts"]).ok());
  ASSERT_TRUE(writer.AddSection("sudo", s.sections["sudo"]).ok());
  Status out_of_order = writer.AddSection("b_out_of_order", Section{});
  EXPECT_FALSE(out_of_order.ok());
  EXPECT_EQ(out_of_order.code(), StatusCode::kInternal);
  EXPECT_NE(out_of_order.message().find("increasing name order: b_out_of_order"), std::string::npos)
      << out_of_order.message();
  ASSERT_TRUE(writer.Finish(s.host, s.collected_at, s.agent_version).ok());
  EXPECT_EQ(writer.content_hash(), ContentHash(s));
  EXPECT_GE(pieces.size(), 1u);
  std::string text;
  for (const auto& p : pieces) text += p;
  EXPECT_EQ(json::parse(text), EncodeSnapshot(s));

  Snapshot empty;
  empty.host.id = "h";
  std::string empty_text = SerializeSnapshot(empty);
  EXPECT_EQ(json::parse(empty_text)["content_hash"], ContentHash(empty));
  EXPECT_EQ(ContentHash(empty), "sha256:" + Sha256Hex("{}"));
}

TEST(SnapshotTest, WriterStopsOnSinkError) {
  Snapshot s = Sample();
  int calls = 0;
  auto failing = [&calls](std::string_view) {
    ++calls;
    return Status(StatusCode::kIoError, "disk full");
  };
  SnapshotWriter small(failing);
  EXPECT_TRUE(small.AddSection("accounts", s.sections["accounts"]).ok());  // still buffered
  EXPECT_EQ(small.Finish(s.host, s.collected_at, s.agent_version).code(), StatusCode::kIoError);
  // A large section reaches the sink while it is written; the error stops the writer.
  Section big;
  for (int i = 0; i < 20000; ++i)
    big.items["users"].push_back({{"name", "user" + std::to_string(i)}});
  calls = 0;
  SnapshotWriter writer(failing);
  EXPECT_EQ(writer.AddSection("accounts", big).code(), StatusCode::kIoError);
  EXPECT_EQ(writer.AddSection("sudo", Section{}).code(), StatusCode::kIoError);
  EXPECT_EQ(calls, 1);
}

TEST(SnapshotTest, ItemArraysAreEquivalentToDataArrays) {
  Snapshot as_items = Sample();
  Snapshot as_data = Sample();
  json users = json::array();
  for (int i = 0; i < 3000; ++i) {
    json user = {{"name", "u" + std::to_string(i)}, {"uid", i}, {"z", {{"b", 1}, {"a", nullptr}}}};
    as_items.sections["accounts"].items["users2"].push_back(user);
    users.push_back(user);
  }
  as_items.sections["accounts"].items["empty"];  // declared, no items: []
  as_data.sections["accounts"].data["users2"] = users;
  as_data.sections["accounts"].data["empty"] = json::array();
  EXPECT_EQ(as_items.sections["accounts"].items["users2"].size(), 3000u);
  EXPECT_EQ(CanonicalSections(as_items), CanonicalSections(as_data));
  EXPECT_EQ(ContentHash(as_items), ContentHash(as_data));
  EXPECT_EQ(json::parse(SerializeSnapshot(as_items)), EncodeSnapshot(as_data));
  EXPECT_EQ(EncodeSnapshot(as_items), EncodeSnapshot(as_data));
  as_items.sections["accounts"].Materialize();
  EXPECT_TRUE(as_items.sections["accounts"].items.empty());
  EXPECT_EQ(as_items.sections["accounts"].data, as_data.sections["accounts"].data);
}

TEST(SnapshotTest, RejectsMalformedInput) {
  EXPECT_EQ(DecodeSnapshot("{").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(DecodeSnapshot("{").status().message().find("not valid JSON"), std::string::npos);
  EXPECT_FALSE(DecodeSnapshot("[]").ok());
  EXPECT_EQ(DecodeSnapshot("[]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(DecodeSnapshot("[]").status().message().find("not a JSON object"), std::string::npos)
      << DecodeSnapshot("[]").status().message();
  EXPECT_FALSE(DecodeSnapshot("{}").ok());
  EXPECT_NE(DecodeSnapshot("{}").status().message().find("schema"), std::string::npos);
  json j = EncodeSnapshot(Sample());
  j["sudo"].erase("status");
  EXPECT_NE(DecodeSnapshot(j.dump()).status().message().find("no status"), std::string::npos);
  j = EncodeSnapshot(Sample());
  j.erase("accounts");
  EXPECT_NE(DecodeSnapshot(j.dump()).status().message().find("missing"), std::string::npos);
  j = EncodeSnapshot(Sample());
  j["sudo"]["status"] = "fine";
  EXPECT_NE(DecodeSnapshot(j.dump()).status().message().find("unknown status"), std::string::npos);
}

TEST(SnapshotTest, RejectsUnknownMajorVersionButAcceptsMinor) {
  json j = EncodeSnapshot(Sample());
  j["schema"] = "tidemark.snapshot/2";
  auto r = DecodeSnapshot(j.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsupported snapshot schema 'tidemark.snapshot/2'"),
            std::string::npos);
  j["schema"] = "tidemark.snapshot/1.3";
  EXPECT_TRUE(DecodeSnapshot(j.dump()).ok());
  j["schema"] = "other/1";
  auto other = DecodeSnapshot(j.dump());
  EXPECT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("unknown schema 'other/1'"), std::string::npos)
      << other.status().message();
}

TEST(SnapshotTest, RejectsTamperedContent) {
  json j = EncodeSnapshot(Sample());
  j["accounts"]["users"][0]["uid"] = 1000;
  auto r = DecodeSnapshot(j.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("content_hash does not match"), std::string::npos);
}

TEST(SnapshotTest, FinishDerivesStatus) {
  Section ok;
  ok.Finish();
  EXPECT_EQ(ok.status, SectionStatus::kOk);
  Section partial;
  partial.AddError("/x", std::nullopt, "m");
  partial.Finish();
  EXPECT_EQ(partial.status, SectionStatus::kPartial);
  Section error;
  error.status = SectionStatus::kError;
  error.AddError("/x", std::nullopt, "m");
  error.Finish();
  EXPECT_EQ(error.status, SectionStatus::kError);
}

}  // namespace
}  // namespace tidemark

namespace tidemark {
namespace {

TEST(SnapshotTest, NoteTruncatedRecordsLimitTotalAndMakesThePartial) {
  Section s;
  s.data["world_writable"] = nlohmann::json::array();
  s.NoteTruncated("world_writable", 10000, 100000);
  s.Finish();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  EXPECT_EQ(s.data["truncated"]["world_writable"]["limit"], 10000);
  EXPECT_EQ(s.data["truncated"]["world_writable"]["total"], 100000);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].message.find("world_writable"), std::string::npos);
}

TEST(SnapshotTest, ErrorsAreBoundedHoweverTheyWereAdded) {
  // Through AddError: the first ones and the last ten are kept, the rest only counted.
  Section added;
  for (size_t i = 0; i < 5000; ++i) {
    added.AddError("/etc/sysctl.d/" + std::to_string(i) + ".conf", 1, "line is not an assignment");
  }
  EXPECT_EQ(added.errors.size(), kMaxSectionErrors - 1);
  added.Finish();
  ASSERT_EQ(added.errors.size(), kMaxSectionErrors);
  EXPECT_EQ(added.errors.front().path, "/etc/sysctl.d/0.conf");
  EXPECT_EQ(added.errors[988].path, "/etc/sysctl.d/988.conf");
  EXPECT_EQ(added.errors[989].path, "/etc/sysctl.d/4990.conf");
  EXPECT_EQ(added.errors[kMaxSectionErrors - 2].path, "/etc/sysctl.d/4999.conf");
  EXPECT_EQ(added.errors.back().message,
            "list 'errors' truncated: 999 of 5000 errors kept (the first 989 and the last 10)");
  EXPECT_EQ(added.data["truncated"]["errors"],
            (nlohmann::json{{"limit", kMaxSectionErrors - 1}, {"total", 5000}}));
  EXPECT_EQ(added.status, SectionStatus::kPartial);

  // Pushed directly by a collector (and on a section in error): cut all the same.
  Section pushed;
  pushed.status = SectionStatus::kError;
  pushed.errors.resize(kMaxSectionErrors + 1, SectionError{"/etc/x", std::nullopt, "bad"});
  pushed.Finish();
  EXPECT_EQ(pushed.errors.size(), kMaxSectionErrors);
  EXPECT_EQ(pushed.data["truncated"]["errors"]["total"], kMaxSectionErrors + 1);
  EXPECT_EQ(pushed.status, SectionStatus::kError);

  // Where a collector stopped is said after the errors of what it read: it is kept, however
  // many came before (a sudoers tree of many bad files cut at its file limit).
  Section stopped;
  for (int i = 0; i < 2000; ++i) stopped.AddError("/etc/sudoers.d/f" + std::to_string(i), 1, "bad");
  stopped.AddError("/etc/sudoers.d/f2000", std::nullopt,
                   "more than 128 files in the sudoers tree; everything after it is not read");
  stopped.Finish();
  ASSERT_EQ(stopped.errors.size(), kMaxSectionErrors);
  EXPECT_EQ(stopped.errors[kMaxSectionErrors - 2].path, "/etc/sudoers.d/f2000");
  EXPECT_NE(stopped.errors[kMaxSectionErrors - 2].message.find("is not read"), std::string::npos);
  EXPECT_EQ(stopped.errors[kMaxSectionErrors - 3].path, "/etc/sudoers.d/f1999");
  EXPECT_EQ(stopped.data["truncated"]["errors"]["total"], 2001);

  // Exactly one over: nothing is lost but the one in the middle.
  Section one_over;
  for (size_t i = 0; i < kMaxSectionErrors; ++i) {
    one_over.AddError("/e/" + std::to_string(i), 1, "bad");
  }
  one_over.Finish();
  ASSERT_EQ(one_over.errors.size(), kMaxSectionErrors);
  EXPECT_EQ(one_over.errors[988].path, "/e/988");
  EXPECT_EQ(one_over.errors[989].path, "/e/990");
  EXPECT_EQ(one_over.errors[998].path, "/e/999");

  // Below the bound nothing changes.
  Section few;
  few.errors.resize(kMaxSectionErrors - 1, SectionError{"/etc/x", 2, "bad"});
  few.Finish();
  EXPECT_EQ(few.errors.size(), kMaxSectionErrors - 1);
  EXPECT_FALSE(few.data.contains("truncated"));
}

}  // namespace
}  // namespace tidemark

namespace tidemark {
namespace {

// The volatile object of a section: in the document, never in the hash, wherever it sorts.
// Found by the dpkg_status fuzz target (fuzz/regressions/dpkg_status/): an error quoting a long
// package name of bytes that are not UTF-8 was written as U+FFFD three bytes for one, over the
// decoder's 4096 bytes, and the collector refused the whole snapshot.
TEST(SnapshotTest, ErrorPathsAndMessagesAreWrittenWithinTheDecodersLimits) {
  Snapshot s = Sample();
  Section& sudo = s.sections["sudo"];
  std::string raw_message = "installed package " + std::string(2000, '\xC9') + " has no Version";
  sudo.AddError(std::string(5000, 'p'), 1, raw_message);
  sudo.Finish();
  std::string text = SerializeSnapshot(s);
  StatusOr<Snapshot> back = DecodeSnapshot(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  const std::vector<SectionError>& errors = back->sections.at("sudo").errors;
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "syntax error");  // short and valid: unchanged
  const SectionError& cut = errors[1];
  std::string ending = "…(" + std::to_string(raw_message.size()) + " bytes)";
  EXPECT_LE(cut.message.size(), kMaxErrorMessageBytes);
  EXPECT_GT(cut.message.size(), kMaxErrorMessageBytes - 4);
  EXPECT_EQ(cut.message.substr(0, 21), "installed package \xEF\xBF\xBD");
  EXPECT_EQ(cut.message.substr(cut.message.size() - ending.size()), ending);
  EXPECT_EQ(cut.path, std::string(kMaxErrorPathBytes - 15, 'p') + "…(5000 bytes)");
  // Written again from the decoded form: nothing changes, the same content hash.
  EXPECT_EQ(SerializeSnapshot(*back), text);
}

// A host writes lines of up to 1 MiB into the files the agent reads (the parsers' line limit):
// 400,000 bytes that are not UTF-8 are written as 1,200,000 bytes of U+FFFD, and "package:" in
// front of a 1 MiB name passes 1 MiB too; the decoder accepts no string over 1 MiB, so either
// made the collector refuse the host's whole snapshot.
TEST(SnapshotTest, StringsAreWrittenWithinTheDecodersLimitAndTheCutIsAnError) {
  Snapshot s = Sample();
  Section& sudo = s.sections["sudo"];
  sudo.data["note"] = std::string(400000, '\xC9');
  sudo.data["fits"] = std::string(1u << 20, 'f');  // exactly the limit: kept as it is
  sudo.items["entries"].push_back({{"id", "package:" + std::string(1u << 20, 'a')}});
  sudo.items["entries"].push_back({{"id", "small"}});
  sudo.Finish();
  std::string text = SerializeSnapshot(s);
  StatusOr<Snapshot> back = DecodeSnapshot(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  const Section& got = back->sections.at("sudo");
  std::string note = got.data.at("note").get<std::string>();
  EXPECT_LE(note.size(), 1u << 20);
  EXPECT_GT(note.size(), (1u << 20) - 3);
  EXPECT_EQ(note.substr(0, 3), "\xEF\xBF\xBD");
  EXPECT_EQ(note.substr(note.size() - 17), "…(400000 bytes)");
  EXPECT_EQ(got.data.at("fits").get<std::string>(), std::string(1u << 20, 'f'));
  const json& entries = got.data.at("entries");
  ASSERT_EQ(entries.size(), 2u);
  std::string id = entries[0].at("id").get<std::string>();
  EXPECT_LE(id.size(), 1u << 20);
  EXPECT_EQ(id.substr(id.size() - 18), "…(1048584 bytes)");
  EXPECT_EQ(entries[1].at("id"), "small");
  EXPECT_EQ(got.status, SectionStatus::kPartial);
  ASSERT_FALSE(got.errors.empty());
  EXPECT_NE(got.errors.back().message.find("2 string(s) longer than 1048576 bytes"),
            std::string::npos)
      << got.errors.back().message;
  // Finishing again reports nothing more.
  size_t errors = sudo.errors.size();
  sudo.Finish();
  EXPECT_EQ(sudo.errors.size(), errors);
}

TEST(SnapshotTest, VolatileDataIsWrittenButNotHashed) {
  for (const char* neighbour : {"aaa", "zzz", "warnings"}) {  // "volatile" first-ish, last, middle
    Snapshot a;
    a.host = {"h", "h", "/"};
    a.collected_at = "2026-12-03T00:00:00Z";
    Section net;
    net.data[neighbour] = nlohmann::json::array({1, 2});
    net.data["listeners"] = nlohmann::json::array({{{"port", 22}}});
    net.volatile_data["process_scan"] = {{"processes_seen", 123}};
    a.sections["network"] = net;
    Snapshot b = a;
    b.sections["network"].volatile_data["process_scan"]["processes_seen"] = 456;
    EXPECT_EQ(ContentHash(a), ContentHash(b)) << neighbour;
    EXPECT_EQ(CanonicalSections(a).find("volatile"), std::string::npos);

    std::string text = SerializeSnapshot(b);
    EXPECT_EQ(nlohmann::json::parse(text), EncodeSnapshot(b)) << text;
    auto decoded = DecodeSnapshot(text);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString() << "\n" << text;
    EXPECT_EQ(decoded->sections["network"].volatile_data["process_scan"]["processes_seen"], 456);
    EXPECT_FALSE(decoded->sections["network"].data.contains("volatile"));
    EXPECT_EQ(ContentHash(*decoded), ContentHash(a));

    Snapshot c = a;  // a change outside `volatile` still changes the hash
    c.sections["network"].data["listeners"][0]["port"] = 2222;
    EXPECT_NE(ContentHash(a), ContentHash(c));
  }
}

TEST(SnapshotTest, VolatileMustBeAnObject) {
  Snapshot a = Sample();
  nlohmann::json j = EncodeSnapshot(a);
  j["accounts"]["volatile"] = 5;
  auto r = DecodeSnapshot(j.dump());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("volatile"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace tidemark
