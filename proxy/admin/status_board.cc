// StatusBoard and RefusalRing.

#include "admin/status_board.h"

#include <algorithm>

namespace imapgate::admin {
namespace {

std::string Cut(std::string_view s) {
  return std::string(s.substr(0, RefusalRing::kMaxFieldBytes));
}

}  // namespace

RefusalRing::RefusalRing(size_t capacity) : capacity_(std::clamp<size_t>(capacity, 1, kMaxCapacity)) {
  slots_.reserve(capacity_);
}

void RefusalRing::Record(int64_t at_unix_seconds, std::string_view listener, std::string_view reason,
                         std::string_view client_address) {
  Refusal r{at_unix_seconds, Cut(listener), Cut(reason), Cut(client_address)};
  std::lock_guard<std::mutex> lock(mu_);
  ++total_;
  if (slots_.size() < capacity_) {
    slots_.push_back(std::move(r));
    return;
  }
  slots_[next_] = std::move(r);
  next_ = (next_ + 1) % capacity_;
}

std::vector<Refusal> RefusalRing::Recent() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Refusal> out;
  out.reserve(slots_.size());
  // Oldest is at next_ once full (0 before); walk backwards from the newest.
  const size_t n = slots_.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t newest = (next_ + n - 1) % n;
    out.push_back(slots_[(newest + n - i) % n]);
  }
  return out;
}

uint64_t RefusalRing::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

StatusCounts StatusBoard::Counts() const {
  StatusCounts c;
  c.logins_ok = logins_ok_.load(std::memory_order_relaxed);
  c.logins_failed = logins_failed_.load(std::memory_order_relaxed);
  c.tls_handshakes_ok = tls_ok_.load(std::memory_order_relaxed);
  c.tls_handshakes_failed = tls_failed_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace imapgate::admin
