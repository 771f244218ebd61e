#include "auth/expiring_cache.h"

#include "common/secret.h"
#include "tls/crypto.h"

namespace imapgate::auth {

KeyedHasher::KeyedHasher() { tls::RandomBytes(key_); }

KeyedHasher::~KeyedHasher() { SecureWipe(key_.data(), key_.size()); }

CacheKey KeyedHasher::Hash(std::initializer_list<std::string_view> parts) const {
  size_t total = 0;
  for (std::string_view part : parts) total += 8 + part.size();
  WipingBytes framed;
  framed.reserve(total);
  for (std::string_view part : parts) {
    const uint64_t n = part.size();
    for (int shift = 56; shift >= 0; shift -= 8) framed.push_back(static_cast<char>((n >> shift) & 0xff));
    framed.insert(framed.end(), part.begin(), part.end());
  }
  const std::string_view key(reinterpret_cast<const char*>(key_.data()), key_.size());
  return tls::HmacSha256(key, std::string_view(framed.data(), framed.size()));
}

}  // namespace imapgate::auth
