// ByteQueue: the FIFO of bytes a connection has still to write.
//
// Appending copies in; Consume drops from the front after a write. The memory is allocated on
// demand and, once the queue is empty again, given back (a kept buffer is at most 4 KiB), so an
// idle connection holds no buffer. Two policies:
//  - kWipe: for bytes that may hold credentials (pre-login replies, a backend LOGIN). Bytes are
//    wiped as soon as they are consumed, and every byte of storage before it is moved, reused or
//    freed.
//  - kPlain: for relayed mail (already known to both ends); nothing is wiped, so the relay path
//    pays no per-byte cost, and an emptied queue frees its memory at once.
// Single-threaded; a movable value.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace imapgate::net {

class ByteQueue {
 public:
  enum class Policy { kWipe, kPlain };

  explicit ByteQueue(Policy policy = Policy::kWipe) : policy_(policy) {}
  ByteQueue(ByteQueue&& other) noexcept;
  ByteQueue& operator=(ByteQueue&& other) noexcept;
  ~ByteQueue();

  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  const char* data() const { return data_.get() + begin_; }
  std::string_view view() const { return std::string_view(data(), size()); }

  void Append(const char* bytes, size_t n);
  void Append(std::string_view bytes) { Append(bytes.data(), bytes.size()); }
  // Drops n bytes (n <= size()) from the front; an emptied queue releases its memory.
  void Consume(size_t n);
  // Drops everything (wiped under kWipe) and releases the memory (under kWipe a buffer of at
  // most 4 KiB is kept, wiped).
  void Clear();

  Policy policy() const { return policy_; }
  // Changes the policy for what follows (a connection handed from the login to the relay).
  void set_policy(Policy policy) { policy_ = policy; }
  // True if the queue holds memory (an idle relay holds none).
  bool holds_memory() const { return data_ != nullptr; }
  // For tests: whether `bytes` are anywhere in the storage, used or not.
  bool StorageContains(std::string_view bytes) const;

 private:
  // Wipes (kWipe) and frees the storage.
  void Release();

  Policy policy_;
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0, begin_ = 0, end_ = 0;
};

}  // namespace imapgate::net
