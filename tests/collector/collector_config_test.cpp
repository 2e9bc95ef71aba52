// The collector's configuration: defaults, file + flags, usage errors naming the key
// (collector/config.h), and the binary's exit codes for them.
#include <gtest/gtest.h>

#include "collector/config.h"
#include "collector/log.h"
#include "collector/session.h"
#include "collector/tls_context.h"
#include "collector/token_buckets.h"
#include "tests/support/temp_root.h"

namespace tidemark::collector {
namespace {

using tidemark::testing::RunCommand;
using tidemark::testing::ShellQuote;
using tidemark::testing::TempRoot;

TEST(CollectorConfigTest, Defaults) {
  auto p = ParseCollectorArgs({});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->config.listen_host, "0.0.0.0");
  EXPECT_EQ(p->config.listen_port, 7411);
  EXPECT_EQ(p->config.ca, "/etc/tidemark/ca.crt");
  EXPECT_EQ(p->config.cert, "/etc/tidemark/collector.crt");
  EXPECT_EQ(p->config.key, "/etc/tidemark/collector.key");
  EXPECT_EQ(p->config.db, "/var/lib/tidemark/tidemark.db");
  EXPECT_EQ(p->config.max_frame_bytes, 64u << 20);
  EXPECT_FALSE(p->config.tls12);
}

TEST(CollectorConfigTest, InflightAndFrameProgressLimits) {
  auto d = ParseCollectorArgs({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->config.max_host_inflight_bytes, 128ll << 20);
  EXPECT_EQ(d->config.frame_timeout_s, 30);
  EXPECT_EQ(d->config.min_frame_rate, 16384);
  EXPECT_EQ(d->config.max_host_connections, 8);
  EXPECT_EQ(d->config.max_host_bytes_per_day, 1ll << 30);
  EXPECT_EQ(d->config.max_evaluate_bytes, 16ll << 20);
  auto p = ParseCollectorArgs({"--max-host-inflight-bytes", "65536", "--frame-timeout", "5",
                               "--min-frame-rate", "0", "--max-host-connections", "2",
                               "--max-host-bytes-per-day", "0", "--max-evaluate-bytes", "65536"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->config.max_host_connections, 2);
  EXPECT_EQ(p->config.max_host_bytes_per_day, 0);
  EXPECT_EQ(p->config.max_evaluate_bytes, 65536);
  EXPECT_EQ(p->config.max_host_inflight_bytes, 65536);
  EXPECT_EQ(p->config.frame_timeout_s, 5);
  EXPECT_EQ(p->config.min_frame_rate, 0);
  for (const auto& args : std::vector<std::vector<std::string>>{{"--frame-timeout", "0"},
                                                                {"--max-host-inflight-bytes", "10"},
                                                                {"--min-frame-rate", "-1"},
                                                                {"--max-host-connections", "0"},
                                                                {"--max-host-bytes-per-day", "-1"},
                                                                {"--max-evaluate-bytes", "100"}}) {
    auto r = ParseCollectorArgs(args);
    ASSERT_FALSE(r.ok()) << args[0];
    EXPECT_NE(r.status().message().find(args[0].substr(2, 5)), std::string::npos)
        << r.status().message();
  }
}

TEST(CollectorConfigTest, LimitsPerSource) {
  auto d = ParseCollectorArgs({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->config.max_source_handshakes, 64);
  EXPECT_EQ(d->config.source_connection_rate, 100);
  EXPECT_EQ(d->config.source_connection_burst, 1000);
  auto p = ParseCollectorArgs({"--max-source-handshakes", "3", "--source-connection-rate", "0",
                               "--source-connection-burst", "7"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->config.max_source_handshakes, 3);
  EXPECT_EQ(p->config.source_connection_rate, 0);  // no limit
  EXPECT_EQ(p->config.source_connection_burst, 7);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--max-source-handshakes", "0"},
                                             {"--source-connection-rate", "-1"},
                                             {"--source-connection-burst", "0"},
                                             {"--source-connection-rate", "fast"}}) {
    auto r = ParseCollectorArgs(args);
    ASSERT_FALSE(r.ok()) << args[0] << " " << args[1];
    EXPECT_NE(r.status().message().find(args[0].substr(2)), std::string::npos)
        << r.status().message();
  }
}

TEST(CollectorConfigTest, SessionCache) {
  auto d = ParseCollectorArgs({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->config.session_cache, 20000);
  auto off = ParseCollectorArgs({"--session-cache", "0"});
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->config.session_cache, 0);
  auto bad = ParseCollectorArgs({"--session-cache", "-1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("session_cache"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(CollectorHelp().find("--session-cache N"), std::string::npos);
}

TEST(CollectorConfigTest, FileAndFlagsFlagWins) {
  TempRoot dir;
  dir.Write("/c.conf",
            "listen = 127.0.0.1:9000\nmax_connections = 5\nidle_timeout = 30\ntls12 = true\n"
            "crl = /x/crl.pem\n");
  auto p = ParseCollectorArgs(
      {"--config", dir.Host("/c.conf"), "--max-connections", "7", "--listen=[::1]:7000"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->config.listen_host, "::1");
  EXPECT_EQ(p->config.listen_port, 7000);
  EXPECT_EQ(p->config.max_connections, 7);
  EXPECT_EQ(p->config.idle_timeout_s, 30);
  EXPECT_TRUE(p->config.tls12);
  EXPECT_EQ(p->config.crl, "/x/crl.pem");
  auto flag_only = ParseCollectorArgs({"--tls12", "--handshake-timeout", "3"});
  ASSERT_TRUE(flag_only.ok()) << flag_only.status().ToString();
  EXPECT_TRUE(flag_only->config.tls12);
  EXPECT_EQ(flag_only->config.handshake_timeout_s, 3);
}

TEST(CollectorConfigTest, ErrorsNameTheKey) {
  TempRoot dir;
  dir.Write("/bad.conf", "max_frame_bytes = lots\n");
  auto p = ParseCollectorArgs({"--config", dir.Host("/bad.conf")});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("max_frame_bytes"), std::string::npos)
      << p.status().message();
  EXPECT_NE(p.status().message().find("bad.conf:1"), std::string::npos) << p.status().message();
  dir.Write("/unknown.conf", "colour = blue\n");
  p = ParseCollectorArgs({"--config", dir.Host("/unknown.conf")});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("colour"), std::string::npos) << p.status().message();
  for (const auto& args : std::vector<std::vector<std::string>>{{"--listen", "7411"},
                                                                {"--listen", "1.2.3.4:99999"},
                                                                {"--max-connections", "0"},
                                                                {"--bogus", "1"},
                                                                {"--db", ""},
                                                                {"extra"}}) {
    auto r = ParseCollectorArgs(args);
    EXPECT_FALSE(r.ok()) << args[0];
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << args[0];
    EXPECT_NE(r.status().message().find(args[0]), std::string::npos) << r.status().message();
  }
  auto r = ParseCollectorArgs({"--listen", "7411"});
  EXPECT_NE(r.status().message().find("listen"), std::string::npos) << r.status().message();
}

TEST(CollectorConfigTest, BinaryExitCodes) {
  std::string out, err;
  EXPECT_EQ(RunCommand(std::string(TIDEMARK_COLLECTOR_BIN) + " --help", &out, &err), 0);
  EXPECT_NE(out.find("--max-inflight-bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("7411"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(std::string(TIDEMARK_COLLECTOR_BIN) + " --max-connections many", &out, &err),
            2);
  EXPECT_NE(err.find("max_connections"), std::string::npos) << err;
  EXPECT_EQ(RunCommand(std::string(TIDEMARK_COLLECTOR_BIN) + " --no-such-flag", &out, &err), 2);
  EXPECT_NE(err.find("no-such-flag"), std::string::npos) << err;
  TempRoot dir;
  // Missing certificate files: cannot start, exit 1, the file named.
  EXPECT_EQ(
      RunCommand(std::string(TIDEMARK_COLLECTOR_BIN) + " --listen 127.0.0.1:0 --key " +
                     ShellQuote(dir.Host("/none.key")) + " --db " + ShellQuote(dir.Host("/db")),
                 &out, &err),
      1);
  EXPECT_NE(err.find("none.key"), std::string::npos) << err;
}

TEST(CollectorLogTest, OneLineKeyValueQuoted) {
  EXPECT_EQ(Log::Format(LogLevel::kWarning, "handshake_refused",
                        {{"peer", "127.0.0.1:5"}, {"reason", "certificate has expired"}}),
            "warning handshake_refused peer=127.0.0.1:5 reason=\"certificate has expired\"");
  EXPECT_EQ(Log::Format(LogLevel::kInfo, "x", {{"v", "a\nb\"c"}, {"e", ""}}),
            "info x v=\"a\\x0ab\\\"c\" e=\"\"");
}

TEST(CollectorLogTest, EscapesEverythingThatCouldForgeALineAndBoundsValues) {
  // C1 (CSI), U+2028, a bidi override, invalid UTF-8, ESC and CR: all escaped.
  std::string v = "a\x1b[2K\r\xc2\x9b\xe2\x80\xa8\xe2\x80\xae\xff\xfe z";
  EXPECT_EQ(Log::Format(LogLevel::kError, "e", {{"v", v}}),
            "error e v=\"a\\x1b[2K\\x0d\\u009b\\u2028\\u202e\\xff\\xfe z\"");
  EXPECT_EQ(Log::Format(LogLevel::kCritical, "store_corrupt", {{"db", "/x.db"}}),
            "critical store_corrupt db=/x.db");
  // Every value is bounded; Clip bounds agent text tighter, never inside a UTF-8 sequence.
  std::string huge(10 << 20, 'v');
  EXPECT_LT(Log::Format(LogLevel::kInfo, "hello", {{"agent_version", huge}}).size(),
            kMaxLogValueBytes + 64);
  std::string clipped = Clip(huge, kMaxAgentVersionBytes);
  EXPECT_EQ(clipped.substr(0, kMaxAgentVersionBytes), std::string(kMaxAgentVersionBytes, 'v'));
  EXPECT_EQ(clipped.substr(kMaxAgentVersionBytes), "\xe2\x80\xa6(10485760 bytes)");
  EXPECT_EQ(Clip(std::string(3, 'a') + "\xc3\xa9", 4), "aaa\xe2\x80\xa6(5 bytes)");
  EXPECT_EQ(Clip("short", 128), "short");
}

TEST(CollectorLogTest, TheSourceIsTheHostElseThePeersAddress) {
  EXPECT_EQ(LogSource({{"peer", "192.0.2.7:40000"}, {"host", "web1"}}), "web1");
  EXPECT_EQ(LogSource({{"peer", "192.0.2.7:40000"}, {"reason", "x"}}), "192.0.2.7");
  // An IPv6 peer is its /64 (it may pick any address in it), a mapped IPv4 peer its address.
  EXPECT_EQ(LogSource({{"peer", "[2001:db8::1]:40000"}}), "2001:db8::/64");
  EXPECT_EQ(LogSource({{"peer", "[2001:db8:0:7:a:b:c:d]:1"}}),
            LogSource({{"peer", "[2001:db8:0:7:ffff::1]:2"}}));
  EXPECT_EQ(LogSource({{"peer", "[2001:db8:0:7:a:b:c:d]:1"}}), "2001:db8:0:7::/64");
  EXPECT_NE(LogSource({{"peer", "[2001:db8:0:7::1]:1"}}),
            LogSource({{"peer", "[2001:db8:0:8::1]:1"}}));
  EXPECT_EQ(LogSource({{"peer", "[::ffff:192.0.2.7]:40000"}}), "192.0.2.7");
  EXPECT_EQ(LogSource({{"peer", "[::1]:40000"}}), "::/64");
  EXPECT_EQ(LogSource({{"peer", "192.0.2.7:40000"}, {"host", ""}}), "192.0.2.7");
  EXPECT_EQ(LogSource({{"addr", "0.0.0.0"}}), "");
}

TEST(CollectorLogTest, APeersSourceComesFromItsEndpointAsTheSessionsWriteIt) {
  // The sessions name a peer with EndpointText; PeerSource must read that form back.
  namespace ip = boost::asio::ip;
  auto source = [](const char* address) {
    return PeerSource(EndpointText(ip::tcp::endpoint(ip::make_address(address), 40000)));
  };
  EXPECT_EQ(source("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(source("2001:db8:0:1::5"), "2001:db8:0:1::/64");
  EXPECT_EQ(source("2001:db8:0:1:ffff:ffff:ffff:ffff"), "2001:db8:0:1::/64");
  EXPECT_EQ(source("::ffff:192.0.2.7"), "192.0.2.7");
}

TEST(CollectorLogTest, OneSourceCannotFloodTheLogOrSpendTheOthersShare) {
  using Clock = LogLimiter::Clock;
  LogLimiter::Limits limits;
  limits.source_burst = 3;
  limits.source_rate = 1;
  limits.total_burst = 5;
  limits.total_rate = 2;
  limits.max_sources = 4;
  LogLimiter l(limits);
  Clock::time_point t0 = Clock::now();
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += l.Admit(LogLevel::kWarning, "bad", "10.0.0.1", t0);
  EXPECT_EQ(admitted, 3);  // its burst; the other 97 did not use the total's tokens
  EXPECT_TRUE(l.Admit(LogLevel::kWarning, "bad", "10.0.0.2", t0));
  EXPECT_TRUE(l.Admit(LogLevel::kInfo, "other", "10.0.0.1", t0));  // another event
  // Errors, critical lines and the collector's own lines always pass.
  EXPECT_TRUE(l.Admit(LogLevel::kError, "bad", "10.0.0.1", t0));
  EXPECT_TRUE(l.Admit(LogLevel::kCritical, "bad", "10.0.0.1", t0));
  EXPECT_TRUE(l.Admit(LogLevel::kInfo, "stopped", "", t0));
  // A second later the source has one more token.
  EXPECT_TRUE(l.Admit(LogLevel::kWarning, "bad", "10.0.0.1", t0 + std::chrono::seconds(1)));
  EXPECT_FALSE(l.Admit(LogLevel::kWarning, "bad", "10.0.0.1", t0 + std::chrono::seconds(1)));
  auto summary = l.TakeSuppressed(t0 + std::chrono::seconds(1), false);
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0].first, "bad");
  EXPECT_EQ(summary[0].second, 98u);
  EXPECT_TRUE(l.TakeSuppressed(t0 + std::chrono::seconds(1), true).empty());  // counts restarted

  // Many sources at once: the total bounds them (5 at once, then 2 a second).
  LogLimiter many(limits);
  admitted = 0;
  for (int i = 0; i < 50; ++i) {
    admitted += many.Admit(LogLevel::kInfo, "hello", "h" + std::to_string(i), t0);
  }
  EXPECT_EQ(admitted, 5);
  admitted = 0;
  for (int i = 0; i < 50; ++i) {
    admitted += many.Admit(LogLevel::kInfo, "hello", "h" + std::to_string(i),
                           t0 + std::chrono::seconds(10));
  }
  EXPECT_EQ(admitted, 5);  // refilled to its burst, not to 20
  // Summaries come at most once per interval, unless forced.
  EXPECT_EQ(many.TakeSuppressed(t0 + std::chrono::seconds(10), false).at(0).second, 90u);
  EXPECT_FALSE(many.Admit(LogLevel::kInfo, "hello", "h0", t0 + std::chrono::seconds(10)));
  EXPECT_TRUE(many.TakeSuppressed(t0 + std::chrono::seconds(10), false).empty());
  EXPECT_EQ(many.TakeSuppressed(t0 + std::chrono::seconds(10), true).at(0).second, 1u);

  // The buckets kept are bounded (max_sources 4): a fifth source, with none of the four full
  // again, drops them all, and a dropped source starts again at its burst.
  limits.total_burst = 1000;
  LogLimiter bounded(limits);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bounded.Admit(LogLevel::kWarning, "bad", "a", t0));
  EXPECT_FALSE(bounded.Admit(LogLevel::kWarning, "bad", "a", t0));
  for (const char* other : {"b", "c", "d"}) {
    EXPECT_TRUE(bounded.Admit(LogLevel::kWarning, "bad", other, t0));
  }
  EXPECT_FALSE(bounded.Admit(LogLevel::kWarning, "bad", "a", t0));  // still kept: 4 buckets
  EXPECT_TRUE(bounded.Admit(LogLevel::kWarning, "bad", "e", t0));   // the fifth
  EXPECT_TRUE(bounded.Admit(LogLevel::kWarning, "bad", "a", t0));   // dropped, full again
}

TEST(TokenBucketsTest, EachKeyHasItsBurstThenItsRateAndTheKeysKeptAreBounded) {
  using Clock = TokenBuckets::Clock;
  const Clock::time_point t0 = Clock::now();
  TokenBuckets b(3);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(b.Take("a", 2, 4, t0));
  EXPECT_FALSE(b.Take("a", 2, 4, t0));                                   // its burst spent
  EXPECT_TRUE(b.Take("b", 2, 4, t0));                                    // another key's own
  EXPECT_FALSE(b.Take("a", 2, 4, t0 + std::chrono::milliseconds(200)));  // 0.8 tokens
  EXPECT_TRUE(b.Take("a", 2, 4, t0 + std::chrono::milliseconds(250)));   // one
  EXPECT_FALSE(b.Take("a", 2, 4, t0 + std::chrono::milliseconds(250)));
  EXPECT_TRUE(b.Take("c", 2, 4, t0));
  EXPECT_EQ(b.size(), 3u);
  // A fourth key drops the buckets that are full again ("b" and "c" after a second), not "a",
  // which is still short of its burst.
  const Clock::time_point t1 = t0 + std::chrono::milliseconds(1000);
  EXPECT_TRUE(b.Take("a", 2, 4, t1));
  EXPECT_TRUE(b.Take("a", 2, 4, t1));
  EXPECT_FALSE(b.Take("a", 2, 4, t1));
  EXPECT_TRUE(b.Take("d", 2, 4, t1));
  EXPECT_EQ(b.size(), 2u);              // "a" and "d"
  EXPECT_FALSE(b.Take("a", 2, 4, t1));  // kept, still empty
}

TEST(CollectorLogTest, SuppressedLinesAreCountedInALineOfTheirOwn) {
  std::vector<std::string> lines;
  LogLimiter::Limits limits;
  limits.source_burst = 2;
  limits.source_rate = 0.001;
  Log::SetSink([&](const std::string& line) { lines.push_back(line); }, limits);
  for (int i = 0; i < 10; ++i) {
    Log::Warn("handshake_refused", {{"peer", "192.0.2.9:" + std::to_string(1000 + i)}});
  }
  Log::Error("store_failed", {{"host", "web1"}});
  Log::FlushSuppressed();
  Log::SetSink(nullptr);
  // The first suppression is said at the next line, later ones once per summary_interval (a
  // second) or at FlushSuppressed.
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "warning handshake_refused peer=192.0.2.9:1000");
  EXPECT_EQ(lines[1], "warning handshake_refused peer=192.0.2.9:1001");
  EXPECT_EQ(lines[2], "warning log_suppressed event=handshake_refused lines=1");
  EXPECT_EQ(lines[3], "error store_failed host=web1");
  EXPECT_EQ(lines[4], "warning log_suppressed event=handshake_refused lines=7");
}

}  // namespace
}  // namespace tidemark::collector
