// token_buckets.h: token buckets per key.
#include "collector/token_buckets.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace tidemark::collector {

bool TokenBucket::Take(double burst, double rate, Clock::time_point now) {
  if (now > at) {
    double elapsed = std::chrono::duration<double>(now - at).count();
    tokens = std::min(burst, tokens + elapsed * rate);
    at = now;
  }
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

bool TokenBuckets::Take(std::string_view key, double burst, double rate, Clock::time_point now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      for (auto i = buckets_.begin(); i != buckets_.end();) {
        TokenBucket probe = i->second;
        probe.Take(burst, rate, now);
        i = probe.tokens + 1 >= burst ? buckets_.erase(i) : std::next(i);
      }
      if (buckets_.size() > max_keys_ * 3 / 4) buckets_.clear();
    }
    it = buckets_.emplace(std::string(key), TokenBucket{burst, now}).first;
  }
  return it->second.Take(burst, rate, now);
}

}  // namespace tidemark::collector
