// BoundedItems: a list of items that a local user of the audited host can grow (world-writable
// files, crontab entries, authorized keys ...), kept within a number of items and a number of
// bytes of compact JSON text so that a snapshot stays deliverable whatever the user does. Every
// item offered is counted; Report() records a cut with Section::NoteTruncated (docs/snapshot.md,
// "Bounded lists"). Items marked `priority` (those no unprivileged user can create, e.g. owned by
// root) are kept before the others, so that a user's flood cannot push them out of the list.
// A plain value, used by one thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent {

class BoundedItems {
 public:
  BoundedItems(size_t max_items, size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  // Offers one item; returns true when it is kept (so far: a priority item may still push a
  // non-priority one out at Take()).
  bool Add(nlohmann::json item, bool priority = false) {
    ++total_;
    size_t bytes = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() + 1;
    Bucket& b = priority ? priority_ : rest_;
    if (b.items.size() >= max_items_ || b.bytes + bytes > max_bytes_) return false;
    b.items.emplace_back(std::move(item), bytes);
    b.bytes += bytes;
    return true;
  }

  // Counts `n` items that were never offered (e.g. not looked at after a budget ran out).
  void CountMore(size_t n) { total_ += n; }

  // Returns how many items were offered (the host's true count, or a lower bound).
  size_t total() const { return total_; }
  size_t max_items() const { return max_items_; }
  size_t max_bytes() const { return max_bytes_; }

  // Returns the kept items, priority ones first (each group in the order offered), within the
  // bounds; sets kept().
  ItemArray Take() {
    ItemArray out;
    size_t bytes = 0;
    for (Bucket* b : {&priority_, &rest_}) {
      for (auto& [item, size] : b->items) {
        if (out.size() >= max_items_ || bytes + size > max_bytes_) break;
        out.push_back(item);
        bytes += size;
      }
      b->items.clear();
    }
    kept_ = out.size();
    return out;
  }
  size_t kept() const { return kept_; }

  // After Take(): records a cut of the list `name` in `out` (data.truncated, an error), with
  // the number kept as its limit: the item count or the byte bound, whichever cut it.
  void Report(Section& out, const std::string& name) const {
    if (kept_ >= total_) return;
    out.NoteTruncated(name, kept_, total_);
    out.data["truncated"][name]["max_bytes"] = max_bytes_;
    out.data["truncated"][name]["kept"] = kept_;
  }

 private:
  struct Bucket {
    std::vector<std::pair<nlohmann::json, size_t>> items;
    size_t bytes = 0;
  };
  size_t max_items_;
  size_t max_bytes_;
  size_t total_ = 0;
  size_t kept_ = 0;
  Bucket priority_;
  Bucket rest_;
};

}  // namespace tidemark::agent
