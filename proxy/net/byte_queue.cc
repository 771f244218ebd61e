#include "net/byte_queue.h"

#include <string.h>

#include <algorithm>
#include <utility>

#include "common/secret.h"

namespace imapgate::net {
namespace {

// An emptied kWipe queue keeps a buffer this small (wiped) for the next reply.
constexpr size_t kKeptCapacity = 4096;

}  // namespace

ByteQueue::ByteQueue(ByteQueue&& other) noexcept
    : policy_(other.policy_), data_(std::move(other.data_)), capacity_(std::exchange(other.capacity_, 0)),
      begin_(std::exchange(other.begin_, 0)), end_(std::exchange(other.end_, 0)) {}

ByteQueue& ByteQueue::operator=(ByteQueue&& other) noexcept {
  if (this != &other) {
    Release();
    policy_ = other.policy_;
    data_ = std::move(other.data_);
    capacity_ = std::exchange(other.capacity_, 0);
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
  }
  return *this;
}

ByteQueue::~ByteQueue() { Release(); }

void ByteQueue::Release() {
  if (data_ && policy_ == Policy::kWipe) SecureWipe(data_.get(), capacity_);
  data_.reset();
  capacity_ = begin_ = end_ = 0;
}

void ByteQueue::Append(const char* bytes, size_t n) {
  if (n == 0) return;
  if (end_ + n > capacity_) {
    size_t used = size();
    if (used + n <= capacity_ && begin_ > 0) {
      memmove(data_.get(), data_.get() + begin_, used);
      if (policy_ == Policy::kWipe) SecureWipe(data_.get() + used, capacity_ - used);
    } else {
      size_t cap = std::max<size_t>({used + n, capacity_ * 2, 4096});
      std::unique_ptr<char[]> bigger(new char[cap]);
      if (used > 0) memcpy(bigger.get(), data_.get() + begin_, used);
      Release();
      data_ = std::move(bigger);
      capacity_ = cap;
    }
    begin_ = 0;
    end_ = used;
  }
  memcpy(data_.get() + end_, bytes, n);
  end_ += n;
}

void ByteQueue::Consume(size_t n) {
  n = std::min(n, size());
  if (policy_ == Policy::kWipe) SecureWipe(data_.get() + begin_, n);  // written: gone at once
  begin_ += n;
  if (begin_ != end_) return;
  if (policy_ == Policy::kWipe && capacity_ <= kKeptCapacity) {
    begin_ = end_ = 0;  // keep the small buffer (already wiped)
    return;
  }
  Release();
}

void ByteQueue::Clear() {
  if (data_ && policy_ == Policy::kWipe && capacity_ <= kKeptCapacity) {
    SecureWipe(data_.get(), capacity_);  // keep the small buffer, wiped
    begin_ = end_ = 0;
    return;
  }
  Release();
}

bool ByteQueue::StorageContains(std::string_view bytes) const {
  if (!data_ || bytes.empty()) return false;
  return std::string_view(data_.get(), capacity_).find(bytes) != std::string_view::npos;
}

}  // namespace imapgate::net
