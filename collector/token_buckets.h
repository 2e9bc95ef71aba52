// Token buckets, one per key (a source of log lines, of connections): a bucket holds up to
// `burst` tokens, refills at `rate` tokens a second, and an event passes when it can take one.
// The log's flood limit (log.h LogLimiter) and the connection rate per source (session.h) use
// them. Not thread-safe: the owner holds its lock around them.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace tidemark::collector {

struct TokenBucket {
  using Clock = std::chrono::steady_clock;
  double tokens = 0;
  Clock::time_point at{};

  // Refills at `rate` a second up to `burst`, then takes a token when there is one.
  bool Take(double burst, double rate, Clock::time_point now);
};

class TokenBuckets {
 public:
  using Clock = TokenBucket::Clock;
  // At most `max_keys` buckets are kept: a new key beyond them first drops the buckets that are
  // full again (they would start full anyway), or all of them when that frees less than a
  // quarter, so that events from ever new keys cost a scan per quarter of the table, not per
  // event. A dropped key starts again with a full bucket.
  explicit TokenBuckets(size_t max_keys) : max_keys_(max_keys) {}

  // Takes a token from `key`'s bucket (a new key's starts full); false when it has none.
  bool Take(std::string_view key, double burst, double rate, Clock::time_point now);
  size_t size() const { return buckets_.size(); }

 private:
  size_t max_keys_;
  std::map<std::string, TokenBucket, std::less<>> buckets_;
};

}  // namespace tidemark::collector
