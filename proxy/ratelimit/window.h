// SlidingWindow: one key's failure count over a sliding time window, counting distinct events.
//
// The window (config `abuse.window`, default 10 min) is split into `buckets` equal slots (default
// 6: 100 s granularity); a count is the sum of the slots that overlap the last `length`. An event
// carries a 32-bit fingerprint (a keyed hash of the password tried, or of the user name for the
// spraying count); an event whose fingerprint is among the key's last kRecentFingerprints counted
// ones is not counted again, so a client retrying one stale password adds 1, not one per try
// (Dovecot keeps the last 10 (user, password) CRC32s for the same reason). Fingerprint 0 means
// "always count" (connection rates). Pure: time is passed in (milliseconds on any monotonic or
// wall scale, as long as one window always gets the same scale); not thread-safe (the store
// locks). 72 bytes (66 of data, padded), so a million keys fit in under 100 MB with the store's
// index (MemoryStore::MemoryBound). A recent fingerprint is kept as 27 of its bits beside the
// number (mod 32) of the slot it was counted in, and is forgotten when that slot leaves the
// window, so a stale password retried all day adds 1 to the count, never more.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace imapgate::ratelimit {

// The shape of every window of one policy: its length and its number of slots.
struct WindowSpec {
  std::chrono::milliseconds length{600'000};
  int buckets = 6;  // 1..SlidingWindow::kMaxBuckets
  // The slot length in ms (length / buckets, at least 1).
  int64_t BucketMs() const;
};

class SlidingWindow {
 public:
  static constexpr int kMaxBuckets = 12;
  static constexpr int kRecentFingerprints = 8;

  // Records one event at `now_ms`. Returns true if it was counted, false if `fingerprint` (non-zero)
  // repeats one of the recent counted events still inside the window. Saturates at 65535 per slot.
  bool Add(const WindowSpec& spec, int64_t now_ms, uint32_t fingerprint);
  // The events counted in the window that ends at `now_ms`.
  uint32_t Count(const WindowSpec& spec, int64_t now_ms) const;
  // True when nothing counted remains inside the window at `now_ms` (the entry may be dropped).
  bool Expired(const WindowSpec& spec, int64_t now_ms) const;

 private:
  // Moves the ring forward to the slot of `now_ms`, zeroing the slots it passes.
  void Advance(const WindowSpec& spec, int64_t slot);

  int64_t newest_slot_ = 0;  // absolute slot number (now_ms / BucketMs) of counts_[head_]
  std::array<uint16_t, kMaxBuckets> counts_{};
  // 0 = empty; else 27 bits of a fingerprint | (its slot % 32) << 27.
  std::array<uint32_t, kRecentFingerprints> recent_{};
  uint8_t head_ = 0;         // index of the newest slot in counts_
  uint8_t recent_next_ = 0;  // where the next counted fingerprint goes
};

}  // namespace imapgate::ratelimit
