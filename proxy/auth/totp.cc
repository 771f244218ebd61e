#include "auth/totp.h"

#include <array>
#include <iterator>

#include "tls/crypto.h"

namespace imapgate::auth {
namespace {

constexpr uint32_t kPowersOfTen[] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};

int Base32Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<SecretString> DecodeBase32(std::string_view text) {
  if (text.empty() || text.size() > kMaxBase32Chars) return std::nullopt;
  size_t data_chars = text.size();
  while (data_chars > 0 && text[data_chars - 1] == '=') --data_chars;
  if (data_chars < text.size() && text.size() % 8 != 0) return std::nullopt;  // partial padding
  if (text.size() - data_chars > 6) return std::nullopt;
  // 8 characters carry 5 bytes; a final group of 2, 4, 5 or 7 characters carries 1..4 bytes.
  const size_t tail = data_chars % 8;
  if (tail == 1 || tail == 3 || tail == 6 || data_chars == 0) return std::nullopt;
  WipingBytes bytes;
  bytes.reserve(data_chars * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < data_chars; ++i) {
    const int v = Base32Value(text[i]);
    if (v < 0) {
      buffer = 0;
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  buffer = 0;
  return SecretString(std::string_view(bytes.data(), bytes.size()));
}

uint32_t Hotp(std::string_view key, uint64_t counter, int digits) {
  if (digits < 1 || digits > 9) return 0;
  char message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  std::array<uint8_t, tls::kSha1Bytes> mac = tls::HmacSha1(key, std::string_view(message, 8));
  const int offset = mac[19] & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  SecureWipe(mac.data(), mac.size());
  return binary % kPowersOfTen[digits];
}

std::optional<uint64_t> VerifyTotp(std::string_view key, std::string_view code,
                                   int64_t unix_seconds, const TotpParams& params) {
  if (params.step_seconds < 1 || params.step_seconds > 3600 || params.digits < 6 ||
      params.digits > 9 || params.skew_steps < 0 || params.skew_steps > 10 || unix_seconds < 0) {
    return std::nullopt;
  }
  if (code.size() != static_cast<size_t>(params.digits)) return std::nullopt;
  for (char c : code) {
    if (!IsDigit(c)) return std::nullopt;
  }
  const int64_t now_step = unix_seconds / params.step_seconds;
  std::optional<uint64_t> matched;
  char candidate[9];
  for (int64_t delta = -params.skew_steps; delta <= params.skew_steps; ++delta) {
    const int64_t step = now_step + delta;
    if (step < 0) continue;
    uint32_t value = Hotp(key, static_cast<uint64_t>(step), params.digits);
    for (int i = params.digits - 1; i >= 0; --i) {
      candidate[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    // Every candidate is compared; the first match is kept, without an early exit.
    const bool equal = ConstantTimeEquals(std::string_view(candidate, params.digits), code);
    if (equal && !matched) matched = static_cast<uint64_t>(step);
  }
  SecureWipe(candidate, sizeof(candidate));
  return matched;
}

std::optional<OtpSplit> SplitOtpSuffix(std::string_view secret, int digits) {
  if (digits < 1 || secret.size() <= static_cast<size_t>(digits)) return std::nullopt;
  const size_t split = secret.size() - static_cast<size_t>(digits);
  for (size_t i = split; i < secret.size(); ++i) {
    if (!IsDigit(secret[i])) return std::nullopt;
  }
  return OtpSplit{secret.substr(0, split), secret.substr(split)};
}

TotpReplayCache::TotpReplayCache(size_t max_entries, TotpParams params)
    : max_entries_(max_entries == 0 ? 1 : max_entries),
      window_seconds_(static_cast<int64_t>(2 * params.skew_steps + 1) * params.step_seconds) {}

bool TotpReplayCache::Consume(std::string_view user, uint64_t counter, int64_t now_unix) {
  const CacheKey key = hasher_.Hash({user});
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (now_unix < it->second.expires_at && counter <= it->second.last_counter) return false;
    it->second.last_counter = counter;
    it->second.expires_at = now_unix + window_seconds_;
    order_.splice(order_.end(), order_, it->second.position);
    return true;
  }
  if (entries_.size() >= max_entries_) {
    // order_ is by time touched, and every entry lives one window, so the expired entries are
    // at its front: drop those, or else the least recently touched one.
    while (!order_.empty() && now_unix >= entries_.find(order_.front())->second.expires_at) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
    if (entries_.size() >= max_entries_) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
  }
  order_.push_back(key);
  entries_.emplace(key, Entry{counter, now_unix + window_seconds_, std::prev(order_.end())});
  return true;
}

size_t TotpReplayCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

}  // namespace imapgate::auth
