#include "ratelimit/memory_store.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/secret.h"
#include "route/hash.h"
#include "tls/crypto.h"

namespace imapgate::ratelimit {
namespace internal {

// Holds a table's value. A class value is a base, so that the entry's own fields go into its
// tail padding (SlidingWindow has 66 bytes of data in 72: the Itanium C++ ABI lays a derived
// class's members out after the base's data size when the base is not a POD, and SlidingWindow,
// with private members, is not).
template <typename V, bool = std::is_class_v<V>>
struct Holder : V {
  V& value() { return *this; }
};
template <typename V>
struct Holder<V, false> {
  V v{};
  V& value() { return v; }
};

// LruTable: a bounded map from a 64-bit keyed hash to a small value, for MemoryStore's shards.
//
// A key is known by 48 bits of its hash (bits 0..47; the shard is chosen by the top bits, so
// about 54 bits in all): two keys of one shard that share them are counted as one, at 1,000,000
// keys a chance in tens of thousands, and not one an attacker can aim at (the hash is keyed).
//
// Entries live in fixed chunks (allocated as the table fills, never moved or freed before the
// table), linked in a least-recently-used list by 32-bit indexes, and found through an
// open-addressing index (linear probing, at most half full, backward-shift deletion). No per-key
// heap allocation: an entry costs sizeof(Entry) plus 8 bytes or less of index. Full, it reuses
// the least recently touched entry. Not thread-safe (the shard's mutex guards it). Internal to
// ratelimit/.
template <typename V>
class LruTable {
 public:
  struct Entry : Holder<V> {
    uint16_t tag;      // hash bits 32..47
    uint32_t prev;
    uint32_t next;
    uint32_t hash_lo;  // hash bits 0..31 (the index's home slot comes from these)
    bool Is(uint64_t hash) const {
      return hash_lo == static_cast<uint32_t>(hash) && tag == static_cast<uint16_t>(hash >> 32);
    }
    void Set(uint64_t hash) {
      hash_lo = static_cast<uint32_t>(hash);
      tag = static_cast<uint16_t>(hash >> 32);
    }
  };
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr size_t kChunk = 256;
  // An index slot holds the entry's number + 1 in 24 bits (so a table holds at most this many)
  // and the low 8 bits of the key's hash above them.
  static constexpr size_t kMaxCapacity = (size_t{1} << 24) - 2;

  explicit LruTable(size_t capacity) : capacity_(std::clamp<size_t>(capacity, 1, kMaxCapacity)) {}
  ~LruTable() { std::free(index_); }
  LruTable(const LruTable&) = delete;
  LruTable& operator=(const LruTable&) = delete;

  // The value of `hash`, or nullptr; does not change the LRU order.
  V* Find(uint64_t hash) {
    const size_t pos = Locate(hash);
    return pos == kNoPos ? nullptr : &At(SlotEntry(index_[pos])).value();
  }

  // The value of `hash`, made most recently used; a new entry (V{}) if absent, reusing the least
  // recently used one when full.
  V& Touch(uint64_t hash) {
    const size_t pos = Locate(hash);
    if (pos != kNoPos) {
      const uint32_t idx = SlotEntry(index_[pos]);
      MoveToFront(idx);
      return At(idx).value();
    }
    uint32_t idx;
    if (size_ < capacity_) {
      if ((size_ + 1) * 2 > index_size_) GrowIndex();
      idx = static_cast<uint32_t>(size_++);
      if (idx >= allocated_) AllocateChunk();
      At(idx).Set(hash);
      Link(idx);
    } else {
      idx = tail_;
      EraseFromIndex(LocateEntry(idx));
      At(idx).Set(hash);
      MoveToFront(idx);
    }
    Entry& e = At(idx);
    e.value() = V{};
    InsertIntoIndex(idx);
    return e.value();
  }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Bytes allocated: chunks (with the allocator's header), the chunk list and the index.
  size_t bytes() const {
    return allocated_ * sizeof(Entry) + chunks_.size() * kMallocOverhead +
           chunks_.capacity() * sizeof(chunks_[0]) + index_size_ * sizeof(uint32_t) +
           (index_ ? kMallocOverhead : 0);
  }
  // The most bytes() can reach when full.
  static size_t BytesBound(size_t capacity) {
    if (capacity == 0) capacity = 1;
    const size_t chunks = (capacity + kChunk - 1) / kChunk;
    size_t index = 16;
    while (index < 2 * capacity) index *= 2;
    // The chunk list doubles as it grows: at most twice the chunks.
    return capacity * sizeof(Entry) + chunks * kMallocOverhead + 2 * chunks * sizeof(void*) +
           index * sizeof(uint32_t) + kMallocOverhead;
  }

 private:
  static constexpr size_t kNoPos = SIZE_MAX;
  static constexpr size_t kMallocOverhead = 16;

  Entry& At(uint32_t idx) { return chunks_[idx / kChunk][idx % kChunk]; }

  void AllocateChunk() {
    const size_t n = std::min(kChunk, capacity_ - allocated_);
    chunks_.push_back(std::unique_ptr<Entry[]>(new Entry[n]()));
    allocated_ += n;
  }

  void Link(uint32_t idx) {
    Entry& e = At(idx);
    e.prev = kNil;
    e.next = head_;
    if (head_ != kNil) At(head_).prev = idx;
    head_ = idx;
    if (tail_ == kNil) tail_ = idx;
  }
  void Unlink(uint32_t idx) {
    Entry& e = At(idx);
    if (e.prev != kNil) At(e.prev).next = e.next; else head_ = e.next;
    if (e.next != kNil) At(e.next).prev = e.prev; else tail_ = e.prev;
  }
  void MoveToFront(uint32_t idx) {
    if (head_ == idx) return;
    Unlink(idx);
    Link(idx);
  }

  static uint32_t SlotOf(uint32_t idx, uint32_t hash_lo) { return (hash_lo << 24) | (idx + 1); }
  static uint32_t SlotEntry(uint32_t slot) { return (slot & 0xFFFFFF) - 1; }

  // The index slot of `hash`, or kNoPos. The hash bits in a slot skip most other keys without
  // reading their entries (a cache miss each at a million keys).
  size_t Locate(uint64_t hash) {
    if (index_ == nullptr) return kNoPos;
    const size_t mask = index_size_ - 1;
    const uint32_t h8 = static_cast<uint32_t>(hash) & 0xFF;
    for (size_t pos = hash & mask;; pos = (pos + 1) & mask) {
      const uint32_t slot = index_[pos];
      if (slot == 0) return kNoPos;
      if ((slot >> 24) == h8 && At(SlotEntry(slot)).Is(hash)) return pos;
    }
  }
  // Where the index points at entry `idx` (which is in it).
  size_t LocateEntry(uint32_t idx) {
    const size_t mask = index_size_ - 1;
    size_t pos = At(idx).hash_lo & mask;
    while ((index_[pos] & 0xFFFFFF) != idx + 1) pos = (pos + 1) & mask;
    return pos;
  }
  // The home slot of the key at `pos`: from the slot's 8 hash bits while no key sits 256 or more
  // slots past its home (at most half full, practically never), else from its entry.
  size_t HomeOf(size_t pos, uint32_t slot) {
    const size_t mask = index_size_ - 1;
    if (long_probe_) return At(SlotEntry(slot)).hash_lo & mask;
    const size_t h8 = slot >> 24;
    if (mask < 0xFF) return h8 & mask;
    return (pos - ((pos - h8) & 0xFF)) & mask;
  }
  void InsertIntoIndex(uint32_t idx) {
    const size_t mask = index_size_ - 1;
    const uint32_t hash_lo = At(idx).hash_lo;
    size_t pos = hash_lo & mask;
    size_t distance = 0;
    while (index_[pos] != 0) {
      pos = (pos + 1) & mask;
      ++distance;
    }
    if (distance >= 0xFF) long_probe_ = true;
    index_[pos] = SlotOf(idx, hash_lo);
  }
  // Backward-shift deletion: no tombstones, so probe lengths stay short under churn.
  void EraseFromIndex(size_t pos) {
    const size_t mask = index_size_ - 1;
    size_t hole = pos;
    size_t j = pos;
    for (;;) {
      j = (j + 1) & mask;
      if (index_[j] == 0) break;
      const size_t home = HomeOf(j, index_[j]);
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      index_[hole] = index_[j];
      hole = j;
    }
    index_[hole] = 0;
  }
  void GrowIndex() {
    const size_t size = index_size_ == 0 ? 16 : index_size_ * 2;
    auto* fresh = static_cast<uint32_t*>(std::calloc(size, sizeof(uint32_t)));
    if (fresh == nullptr) throw std::bad_alloc();
    std::free(index_);
    index_ = fresh;
    index_size_ = size;
    long_probe_ = false;
    for (uint32_t idx = head_; idx != kNil; idx = At(idx).next) InsertIntoIndex(idx);
  }

  size_t capacity_;
  size_t size_ = 0;
  size_t allocated_ = 0;
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  uint32_t* index_ = nullptr;  // SlotOf(entry, hash); 0 = empty
  bool long_probe_ = false;    // some key sits 255+ slots past its home
  size_t index_size_ = 0;      // a power of two
  uint32_t head_ = kNil;       // most recently used
  uint32_t tail_ = kNil;       // least recently used
};

}  // namespace internal

// The layout MemoryBound's figures rest on: a window's entry in 80 bytes, a remembered pair's
// in 24.
static_assert(sizeof(internal::LruTable<SlidingWindow>::Entry) == 80);
static_assert(sizeof(internal::LruTable<int64_t>::Entry) == 24);

namespace {

using internal::LruTable;

// The kinds of window a key belongs to (hashed with its text, so two kinds never share a key).
enum class Kind : uint8_t { kAddress = 1, kSubnet, kUser, kUserAddress, kGlobal, kUsersTried,
                            kRemembered };

// Block keys longer than this are ignored: no address or subnet text comes near it.
constexpr size_t kMaxBlockKey = 128;
// What the allocator adds to each block it hands out (glibc: 8 to 16 bytes).
constexpr size_t kMallocOverhead = 16;

// An estimate of one block's bytes: a map node and a set node (each with the allocator's header
// and a red-black node header) holding a copy of the key, plus the key's heap buffer when it is
// too long for the small-string buffer.
size_t BlockBytes(const std::string& key) {
  constexpr size_t kNode = 32 + 16;  // rb-tree node header + malloc header
  const size_t heap = key.size() > 15 ? ((key.size() + 1 + 15) / 16) * 16 + 16 : 0;
  return 2 * kNode + sizeof(std::pair<const std::string, int64_t>) * 2 + 2 * heap + 16;
}

struct BlockRecord {
  BlockCause cause = BlockCause::kAddressFailures;
  int64_t expires_ms = 0;
};

}  // namespace

class MemoryStore::Impl {
 public:
  template <typename V>
  struct alignas(64) Shard {
    explicit Shard(size_t capacity) : table(capacity) {}
    mutable std::mutex mu;
    LruTable<V> table;
  };
  using WindowShard = Shard<SlidingWindow>;
  using RememberShard = Shard<int64_t>;  // (user, address) -> expiry (ms)

  Impl(const Policy& policy, const MemoryStoreOptions& options, const TimeSource* time)
      : window_(policy.window), remember_ms_(policy.remember_for.count()),
        max_blocks_(options.max_blocks), time_(time) {
    MakeShards(options.shards, options.max_keys, &windows_, &window_bits_);
    MakeShards(options.shards, options.max_remembered, &remembered_, &remembered_bits_);
    std::array<uint8_t, 16> key;
    tls::RandomBytes(std::span<uint8_t>(key.data(), key.size()));
    std::memcpy(&k0_, key.data(), 8);
    std::memcpy(&k1_, key.data() + 8, 8);
    SecureWipe(key.data(), key.size());
  }

  // `want` shards rounded up to a power of two (at most 4096), halved while a shard would get
  // no entry: each holds bound / shards entries (at most LruTable's kMaxCapacity, 16.7 M), so
  // all of them hold at most `bound`.
  static size_t ShardCount(size_t want, size_t bound) {
    size_t shards = 1;
    while (shards < want && shards < 4096) shards *= 2;
    while (shards > 1 && shards > bound) shards /= 2;
    return shards;
  }
  static size_t ShardCapacity(size_t want, size_t bound) {
    return std::clamp<size_t>(bound / ShardCount(want, bound), 1,
                              LruTable<SlidingWindow>::kMaxCapacity);
  }
  template <typename V>
  static void MakeShards(size_t want, size_t bound, std::vector<std::unique_ptr<Shard<V>>>* shards,
                         int* bits) {
    const size_t n = ShardCount(want, bound);
    *bits = 0;
    while ((size_t{1} << *bits) < n) ++*bits;
    shards->reserve(n);
    for (size_t i = 0; i < n; ++i) {
      shards->push_back(std::make_unique<Shard<V>>(ShardCapacity(want, bound)));
    }
  }

  int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               time_->MonotonicNow().time_since_epoch())
        .count();
  }

  // The keyed hash of (kind, text[, second]): framed, so ("ab", "c") and ("a", "bc") differ.
  uint64_t Hash(Kind kind, std::string_view text, std::string_view second = {}) const {
    char stack[512];
    const size_t n = 1 + 4 + text.size() + second.size();
    std::string heap;
    char* buf = stack;
    if (n > sizeof(stack)) {
      heap.resize(n);
      buf = heap.data();
    }
    buf[0] = static_cast<char>(kind);
    const uint32_t len = static_cast<uint32_t>(text.size());
    std::memcpy(buf + 1, &len, 4);
    if (!text.empty()) std::memcpy(buf + 5, text.data(), text.size());
    if (!second.empty()) std::memcpy(buf + 5 + text.size(), second.data(), second.size());
    return route::SipHash24(std::string_view(buf, n), k0_, k1_);
  }

  template <typename V>
  static Shard<V>& ShardOf(const std::vector<std::unique_ptr<Shard<V>>>& shards, int bits,
                           uint64_t hash) {
    return *shards[bits == 0 ? 0 : static_cast<size_t>(hash >> (64 - bits))];
  }

  uint32_t Count(uint64_t hash, int64_t now) const {
    WindowShard& s = ShardOf(windows_, window_bits_, hash);
    std::lock_guard<std::mutex> lock(s.mu);
    const SlidingWindow* w = s.table.Find(hash);
    return w == nullptr ? 0 : w->Count(window_, now);
  }

  uint32_t Add(uint64_t hash, uint32_t fingerprint, int64_t now) {
    WindowShard& s = ShardOf(windows_, window_bits_, hash);
    std::lock_guard<std::mutex> lock(s.mu);
    SlidingWindow& w = s.table.Touch(hash);
    w.Add(window_, now, fingerprint);
    return w.Count(window_, now);
  }

  bool Remembered(uint64_t hash, int64_t now) const {
    RememberShard& s = ShardOf(remembered_, remembered_bits_, hash);
    std::lock_guard<std::mutex> lock(s.mu);
    const int64_t* expires = s.table.Find(hash);
    return expires != nullptr && *expires > now;
  }

  void Remember(uint64_t hash, int64_t now) {
    RememberShard& s = ShardOf(remembered_, remembered_bits_, hash);
    std::lock_guard<std::mutex> lock(s.mu);
    s.table.Touch(hash) = now + remember_ms_;
  }

  // Blocks (under blocks_mu_): keyed by scope + text.
  static std::string BlockKey(BlockScope scope, std::string_view key) {
    std::string k(1, scope == BlockScope::kAddress ? 'a' : 's');
    k.append(key);
    return k;
  }
  void PurgeBlocksLocked(int64_t now) const {
    while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
      blocks_.erase(by_expiry_.begin()->second);
      by_expiry_.erase(by_expiry_.begin());
    }
  }
  void EraseBlockLocked(std::map<std::string, BlockRecord>::iterator it) const {
    by_expiry_.erase({it->second.expires_ms, it->first});
    blocks_.erase(it);
  }
  std::optional<BlockEntry> FindBlockLocked(BlockScope scope, const std::string& key,
                                            int64_t now) const {
    if (key.empty() || key.size() > kMaxBlockKey) return std::nullopt;
    auto it = blocks_.find(BlockKey(scope, key));
    if (it == blocks_.end()) return std::nullopt;
    return BlockEntry{scope, key, it->second.cause,
                      std::chrono::milliseconds(it->second.expires_ms - now)};
  }

  WindowSpec window_;
  int64_t remember_ms_;
  size_t max_blocks_;
  const TimeSource* time_;
  uint64_t k0_ = 0, k1_ = 0;
  int window_bits_ = 0;
  int remembered_bits_ = 0;
  std::vector<std::unique_ptr<WindowShard>> windows_;
  std::vector<std::unique_ptr<RememberShard>> remembered_;

  mutable std::mutex blocks_mu_;
  mutable std::map<std::string, BlockRecord> blocks_;
  mutable std::set<std::pair<int64_t, std::string>> by_expiry_;
};

MemoryStore::MemoryStore(const Policy& policy, const MemoryStoreOptions& options,
                         const TimeSource* time)
    : impl_(std::make_unique<Impl>(policy, options, time)) {}

MemoryStore::~MemoryStore() = default;

void MemoryStore::Check(const LoginKeys& keys, std::function<void(PreLoginAnswer)> done) {
  Impl& m = *impl_;
  const int64_t now = m.NowMs();
  PreLoginAnswer answer;
  LoginCounts& c = answer.facts.counts;
  c.address = m.Count(m.Hash(Kind::kAddress, keys.address), now);
  c.subnet = m.Count(m.Hash(Kind::kSubnet, keys.subnet), now);
  c.user = m.Count(m.Hash(Kind::kUser, keys.user), now);
  c.user_address = m.Count(m.Hash(Kind::kUserAddress, keys.user, keys.address), now);
  c.global = m.Count(m.Hash(Kind::kGlobal, {}), now);
  c.users_tried = m.Count(m.Hash(Kind::kUsersTried, keys.address), now);
  answer.facts.blocked = BlockedNow(keys.address, keys.subnet);
  answer.facts.remembered = m.Remembered(m.Hash(Kind::kRemembered, keys.user, keys.address), now);
  if (done) done(std::move(answer));
}

void MemoryStore::RecordFailure(const LoginKeys& keys, const FailureEvent& event,
                                std::function<void(FailureAnswer)> done) {
  Impl& m = *impl_;
  const int64_t now = m.NowMs();
  const uint32_t pw = event.password_fingerprint;
  FailureAnswer answer;
  LoginCounts& c = answer.counts;
  c.address = m.Add(m.Hash(Kind::kAddress, keys.address), pw, now);
  c.subnet = m.Add(m.Hash(Kind::kSubnet, keys.subnet), pw, now);
  c.user = m.Add(m.Hash(Kind::kUser, keys.user), pw, now);
  c.user_address = m.Add(m.Hash(Kind::kUserAddress, keys.user, keys.address), pw, now);
  c.global = m.Add(m.Hash(Kind::kGlobal, {}), pw, now);
  c.users_tried = m.Add(m.Hash(Kind::kUsersTried, keys.address), event.user_fingerprint, now);
  if (done) done(std::move(answer));
}

void MemoryStore::RecordSuccess(const LoginKeys& keys) {
  Impl& m = *impl_;
  m.Remember(m.Hash(Kind::kRemembered, keys.user, keys.address), m.NowMs());
}

void MemoryStore::Block(BlockScope scope, const std::string& key, BlockCause cause,
                        std::chrono::milliseconds duration) {
  Impl& m = *impl_;
  if (key.empty() || key.size() > kMaxBlockKey || m.max_blocks_ == 0) return;
  const int64_t now = m.NowMs();
  std::lock_guard<std::mutex> lock(m.blocks_mu_);
  m.PurgeBlocksLocked(now);
  std::string k = Impl::BlockKey(scope, key);
  auto it = m.blocks_.find(k);
  if (it != m.blocks_.end()) m.EraseBlockLocked(it);
  if (duration.count() <= 0) return;  // a block of no time is a lift
  // Full: the block that would end first makes room.
  if (m.blocks_.size() >= m.max_blocks_) m.EraseBlockLocked(m.blocks_.find(m.by_expiry_.begin()->second));
  const int64_t expires = now + duration.count();
  m.by_expiry_.emplace(expires, k);
  m.blocks_.emplace(std::move(k), BlockRecord{cause, expires});
}

void MemoryStore::Unblock(BlockScope scope, const std::string& key, std::function<void(bool)> done) {
  Impl& m = *impl_;
  bool lifted = false;
  if (!key.empty() && key.size() <= kMaxBlockKey) {
    std::lock_guard<std::mutex> lock(m.blocks_mu_);
    m.PurgeBlocksLocked(m.NowMs());
    auto it = m.blocks_.find(Impl::BlockKey(scope, key));
    if (it != m.blocks_.end()) {
      m.EraseBlockLocked(it);
      lifted = true;
    }
  }
  if (done) done(lifted);
}

void MemoryStore::ListBlocks(size_t limit, std::function<void(bool, std::vector<BlockEntry>)> done) {
  Impl& m = *impl_;
  std::vector<BlockEntry> out;
  {
    const int64_t now = m.NowMs();
    std::lock_guard<std::mutex> lock(m.blocks_mu_);
    m.PurgeBlocksLocked(now);
    out.reserve(std::min(limit, m.blocks_.size()));
    for (const auto& [k, b] : m.blocks_) {
      if (out.size() >= limit) break;
      out.push_back(BlockEntry{k[0] == 'a' ? BlockScope::kAddress : BlockScope::kSubnet,
                               k.substr(1), b.cause,
                               std::chrono::milliseconds(b.expires_ms - now)});
    }
  }
  if (done) done(true, std::move(out));
}

void MemoryStore::ReportAddress(const LoginKeys& keys, std::function<void(bool, KeyReport)> done) {
  Impl& m = *impl_;
  const int64_t now = m.NowMs();
  KeyReport report;
  report.key = keys.address;
  report.failures = m.Count(m.Hash(Kind::kAddress, keys.address), now);
  report.users_tried = m.Count(m.Hash(Kind::kUsersTried, keys.address), now);
  {
    std::lock_guard<std::mutex> lock(m.blocks_mu_);
    m.PurgeBlocksLocked(now);
    report.block = m.FindBlockLocked(BlockScope::kAddress, keys.address, now);
    if (!report.block) report.block = m.FindBlockLocked(BlockScope::kSubnet, keys.subnet, now);
  }
  if (done) done(true, std::move(report));
}

void MemoryStore::ReportUser(const std::string& user, std::function<void(bool, KeyReport)> done) {
  Impl& m = *impl_;
  KeyReport report;
  report.key = user;
  report.failures = m.Count(m.Hash(Kind::kUser, user), m.NowMs());
  if (done) done(true, std::move(report));
}

std::optional<BlockScope> MemoryStore::BlockedNow(const std::string& address,
                                                  const std::string& subnet) {
  Impl& m = *impl_;
  const int64_t now = m.NowMs();
  std::lock_guard<std::mutex> lock(m.blocks_mu_);
  m.PurgeBlocksLocked(now);
  if (m.blocks_.empty()) return std::nullopt;
  if (m.FindBlockLocked(BlockScope::kAddress, address, now)) return BlockScope::kAddress;
  if (m.FindBlockLocked(BlockScope::kSubnet, subnet, now)) return BlockScope::kSubnet;
  return std::nullopt;
}

size_t MemoryStore::key_count() const {
  size_t n = 0;
  for (const auto& s : impl_->windows_) {
    std::lock_guard<std::mutex> lock(s->mu);
    n += s->table.size();
  }
  return n;
}

size_t MemoryStore::block_count() const {
  std::lock_guard<std::mutex> lock(impl_->blocks_mu_);
  impl_->PurgeBlocksLocked(impl_->NowMs());
  return impl_->blocks_.size();
}

size_t MemoryStore::block_count(BlockScope scope) const {
  std::lock_guard<std::mutex> lock(impl_->blocks_mu_);
  impl_->PurgeBlocksLocked(impl_->NowMs());
  const char tag = scope == BlockScope::kAddress ? 'a' : 's';
  size_t n = 0;
  for (const auto& [key, record] : impl_->blocks_) n += !key.empty() && key[0] == tag ? 1 : 0;
  return n;
}

size_t MemoryStore::MemoryBytes() const {
  const Impl& m = *impl_;
  size_t bytes = sizeof(MemoryStore) + sizeof(Impl) +
                 (m.windows_.capacity() + m.remembered_.capacity()) * sizeof(void*);
  for (const auto& s : m.windows_) {
    std::lock_guard<std::mutex> lock(s->mu);
    bytes += sizeof(Impl::WindowShard) + kMallocOverhead + s->table.bytes();
  }
  for (const auto& s : m.remembered_) {
    std::lock_guard<std::mutex> lock(s->mu);
    bytes += sizeof(Impl::RememberShard) + kMallocOverhead + s->table.bytes();
  }
  std::lock_guard<std::mutex> lock(m.blocks_mu_);
  for (const auto& [k, b] : m.blocks_) bytes += BlockBytes(k);
  return bytes;
}

size_t MemoryStore::MemoryBound(const MemoryStoreOptions& options) {
  const size_t wn = Impl::ShardCount(options.shards, options.max_keys);
  const size_t wcap = Impl::ShardCapacity(options.shards, options.max_keys);
  const size_t rn = Impl::ShardCount(options.shards, options.max_remembered);
  const size_t rcap = Impl::ShardCapacity(options.shards, options.max_remembered);
  return sizeof(MemoryStore) + sizeof(Impl) + (wn + rn) * sizeof(void*) +
         wn * (sizeof(Impl::WindowShard) + kMallocOverhead +
               LruTable<SlidingWindow>::BytesBound(wcap)) +
         rn * (sizeof(Impl::RememberShard) + kMallocOverhead + LruTable<int64_t>::BytesBound(rcap)) +
         options.max_blocks * BlockBytes(std::string(kMaxBlockKey, 'x'));
}

}  // namespace imapgate::ratelimit
