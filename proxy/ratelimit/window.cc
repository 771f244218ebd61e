#include "ratelimit/window.h"

#include <algorithm>

namespace imapgate::ratelimit {
namespace {

int ClampBuckets(const WindowSpec& spec) {
  return std::clamp(spec.buckets, 1, SlidingWindow::kMaxBuckets);
}

// floor(a / b) for b > 0, also for a negative `a`.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b) != 0 && a < 0) --q;
  return q;
}

// A recent fingerprint is kept with the slot it was counted in: 27 bits of the fingerprint and
// the slot number modulo 32 (an entry is dropped once it is `buckets` <= 12 slots old, and a
// slot advance moves fewer than 12 slots, so ages below 24 never alias).
constexpr uint32_t kFingerprintMask = (1u << 27) - 1;
constexpr int kTagShift = 27;
constexpr int64_t kTagModulo = 32;

uint32_t RecentFingerprint(uint32_t fingerprint) {
  const uint32_t fp = fingerprint & kFingerprintMask;
  return fp == 0 ? 1 : fp;
}
uint32_t RecentEntry(uint32_t fingerprint, int64_t slot) {
  return RecentFingerprint(fingerprint) |
         (static_cast<uint32_t>(((slot % kTagModulo) + kTagModulo) % kTagModulo) << kTagShift);
}
// How many slots before `slot` the entry was counted.
int64_t RecentAge(uint32_t entry, int64_t slot) {
  const int64_t tag = entry >> kTagShift;
  const int64_t now = ((slot % kTagModulo) + kTagModulo) % kTagModulo;
  return (now - tag + kTagModulo) % kTagModulo;
}

}  // namespace

int64_t WindowSpec::BucketMs() const {
  const int64_t ms = length.count() / ClampBuckets(*this);
  return std::max<int64_t>(ms, 1);
}

// The layout the store's memory bound is computed from (window.h: "72 bytes").
static_assert(sizeof(SlidingWindow) <= 72, "SlidingWindow grew: revisit the store's memory bound");

void SlidingWindow::Advance(const WindowSpec& spec, int64_t slot) {
  if (slot <= newest_slot_) return;
  const int buckets = ClampBuckets(spec);
  const int64_t passed = slot - newest_slot_;
  if (passed >= buckets) {
    // The whole window went by: nothing counted is left, nor any fingerprint to remember.
    counts_.fill(0);
    recent_.fill(0);
    head_ = 0;
    recent_next_ = 0;
  } else {
    for (int64_t i = 0; i < passed; ++i) {
      head_ = static_cast<uint8_t>((head_ + 1) % buckets);
      counts_[head_] = 0;
    }
    // Fingerprints counted in a slot that has left the window may count again.
    for (uint32_t& entry : recent_) {
      if (entry != 0 && RecentAge(entry, slot) >= buckets) entry = 0;
    }
  }
  newest_slot_ = slot;
}

bool SlidingWindow::Add(const WindowSpec& spec, int64_t now_ms, uint32_t fingerprint) {
  // A clock a little behind (another instance's) counts in the newest slot.
  const int64_t slot = std::max(FloorDiv(now_ms, spec.BucketMs()), newest_slot_);
  Advance(spec, slot);
  if (fingerprint != 0) {
    const uint32_t fp = RecentFingerprint(fingerprint);
    for (uint32_t seen : recent_) {
      if (seen != 0 && (seen & kFingerprintMask) == fp) return false;
    }
    recent_[recent_next_] = RecentEntry(fingerprint, slot);
    recent_next_ = static_cast<uint8_t>((recent_next_ + 1) % kRecentFingerprints);
  }
  if (counts_[head_] < UINT16_MAX) ++counts_[head_];
  return true;
}

uint32_t SlidingWindow::Count(const WindowSpec& spec, int64_t now_ms) const {
  const int buckets = ClampBuckets(spec);
  const int64_t slot = std::max(FloorDiv(now_ms, spec.BucketMs()), newest_slot_);
  // The window ending at `slot` holds slots (slot - buckets, slot]; ours are newest_slot_ - k.
  const int64_t age = slot - newest_slot_;
  if (age >= buckets) return 0;
  uint32_t sum = 0;
  for (int64_t k = 0; k < buckets - age; ++k) {
    sum += counts_[static_cast<size_t>((head_ - k + buckets) % buckets)];
  }
  return sum;
}

bool SlidingWindow::Expired(const WindowSpec& spec, int64_t now_ms) const {
  return Count(spec, now_ms) == 0;
}

}  // namespace imapgate::ratelimit
