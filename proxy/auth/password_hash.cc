#include "auth/password_hash.h"
#include "common/ascii.h"

#include <argon2.h>
#include <crypt.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/secret.h"
#include "tls/crypto.h"

namespace imapgate::auth {
namespace {

// Default costs for HashPassword.
// - argon2: t=3 passes over m=64 MiB with p=1 lane. RFC 9106 section 4 recommends t=3, m=64 MiB
//   when memory is constrained (its second option; p=4 there, but p>1 makes libargon2 spawn a
//   thread per lane, which a shared verification pool should not do). Dovecot (libsodium's
//   INTERACTIVE limits) uses t=2, m=64 MiB, p=1; libargon2's own CLI default (t=3, m=4 MiB) is
//   too little memory for a password database.
// - yescrypt: libcrypt's default cost (count 0 -> "j9T": N=4096, r=32, 16 MiB), the Debian
//   /etc/shadow default.
// - bcrypt: cost 12 (libcrypt and Dovecot default to 5, which is too cheap today).
// - SHA-512-crypt: 5000 rounds, libcrypt's and Dovecot's default; for compatibility only.
constexpr uint32_t kArgon2Passes = 3;
constexpr uint32_t kArgon2MemoryKiB = 64 * 1024;
constexpr uint32_t kArgon2Lanes = 1;
constexpr size_t kArgon2SaltBytes = 16;
constexpr size_t kArgon2HashBytes = 32;
constexpr unsigned long kBcryptCost = 12;

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool IsCrypt64(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}
bool IsBase64(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}
template <typename Pred>
bool AllOf(std::string_view s, Pred pred) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }


// Splits "a$b$c" on '$' (the leading '$' already removed).
std::vector<std::string_view> SplitDollar(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find('$', start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool ParseUnsigned(std::string_view text, unsigned* out) {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0')) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string Base64Encode(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    uint32_t v = static_cast<uint32_t>(data[i]) << 16;
    if (i + 1 < size) v |= static_cast<uint32_t>(data[i + 1]) << 8;
    if (i + 2 < size) v |= data[i + 2];
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < size ? kBase64[(v >> 6) & 63] : '=';
    out += i + 2 < size ? kBase64[v & 63] : '=';
  }
  return out;
}

Status Malformed(std::string_view what) {
  return InvalidArgument("malformed " + std::string(what) + " hash");
}

// Each checker receives the hash without prefix and checks its whole structure, so a bare salt
// (which could never match) or a truncated hash is refused at load time.
int Crypt64Index(char c) {
  if (c == '.') return 0;
  if (c == '/') return 1;
  if (c >= '0' && c <= '9') return c - '0' + 2;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 12;
  if (c >= 'a' && c <= 'z') return c - 'a' + 38;
  return -1;
}

// "$y$<flavor><N><r>$<salt>$<hash>". Only the common three-character parameter string (each
// value in yescrypt's one-character encoding, no extra parameters) is accepted, so the memory
// cost 128*N*r can be bounded: N = 2^(1 + index), r = 1 + index.
Status CheckYescrypt(std::string_view h) {
  const std::vector<std::string_view> p = SplitDollar(h.substr(1));  // y, params, salt, hash
  if (p.size() != 4 || p[0] != "y" || p[1].size() != 3 || p[2].empty() || p[3].size() != 43 ||
      !AllOf(p[1], IsCrypt64) || !AllOf(p[2], IsCrypt64) || !AllOf(p[3], IsCrypt64)) {
    return Malformed("yescrypt");
  }
  const int log2_n = 1 + Crypt64Index(p[1][1]);
  const int r = 1 + Crypt64Index(p[1][2]);
  if (Crypt64Index(p[1][1]) > 47 || Crypt64Index(p[1][2]) > 47 ||
      uint64_t{128} * r * (uint64_t{1} << log2_n) > uint64_t{kMaxArgon2MemoryKiB} * 1024) {
    return InvalidArgument("yescrypt parameters unsupported or too costly (at most 1 GiB)");
  }
  return Status::Ok();
}

Status CheckBcrypt(std::string_view h) {
  const std::vector<std::string_view> p = SplitDollar(h.substr(1));  // 2b, cost, salt+hash
  unsigned cost = 0;
  if (p.size() != 3 || (p[0] != "2b" && p[0] != "2y" && p[0] != "2a") || p[1].size() != 2 ||
      !(p[1][0] >= '0' && p[1][0] <= '9') || !(p[1][1] >= '0' && p[1][1] <= '9') ||
      p[2].size() != 53 || !AllOf(p[2], IsCrypt64)) {
    return Malformed("bcrypt");
  }
  cost = static_cast<unsigned>((p[1][0] - '0') * 10 + (p[1][1] - '0'));
  if (cost < 4 || cost > kMaxBcryptCost) {
    return InvalidArgument("bcrypt cost must be between 4 and " + std::to_string(kMaxBcryptCost) +
                           ", got " + std::to_string(cost));
  }
  return Status::Ok();
}

Status CheckSha512Crypt(std::string_view h) {
  std::vector<std::string_view> p = SplitDollar(h.substr(1));  // 6, [rounds=N], salt, hash
  if (p.size() == 4 && StartsWith(p[1], "rounds=")) {
    unsigned rounds = 0;
    if (!ParseUnsigned(p[1].substr(7), &rounds)) return Malformed("SHA-512-crypt");
    if (rounds < 1000 || rounds > kMaxSha512CryptRounds) {
      return InvalidArgument("SHA-512-crypt rounds must be between 1000 and " +
                             std::to_string(kMaxSha512CryptRounds) + ", got " +
                             std::to_string(rounds));
    }
    p.erase(p.begin() + 1);
  }
  if (p.size() != 3 || p[0] != "6" || p[1].empty() || p[1].size() > 16 || p[2].size() != 86 ||
      !AllOf(p[1], IsCrypt64) || !AllOf(p[2], IsCrypt64)) {
    return Malformed("SHA-512-crypt");
  }
  return Status::Ok();
}

// "$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>", salt and hash in unpadded base64.
Status CheckArgon2(std::string_view h, std::string_view variant) {
  const std::vector<std::string_view> p = SplitDollar(h.substr(1));
  if (p.size() != 5 || p[0] != variant || p[1] != "v=19") return Malformed(variant);
  std::string_view params = p[2];
  unsigned values[3] = {};
  const char* names[3] = {"m=", "t=", "p="};
  for (int i = 0; i < 3; ++i) {
    const size_t comma = params.find(',');
    const std::string_view item = params.substr(0, comma);
    if ((i < 2) != (comma != std::string_view::npos) || !StartsWith(item, names[i]) ||
        !ParseUnsigned(item.substr(2), &values[i])) {
      return Malformed(variant);
    }
    params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
  }
  const unsigned m = values[0], t = values[1], lanes = values[2];
  if (lanes < 1 || lanes > kMaxArgon2Lanes || t < 1 || t > kMaxArgon2Passes || m < 8 * lanes ||
      m > kMaxArgon2MemoryKiB) {
    return InvalidArgument(std::string(variant) + " cost out of range (at most m=" +
                           std::to_string(kMaxArgon2MemoryKiB) + ",t=" +
                           std::to_string(kMaxArgon2Passes) + ",p=" +
                           std::to_string(kMaxArgon2Lanes) + ")");
  }
  // 8..64 bytes of salt, 16..64 bytes of hash, in unpadded base64.
  auto length_ok = [](std::string_view b64, size_t min_bytes, size_t max_bytes) {
    return b64.size() % 4 != 1 && b64.size() * 3 / 4 >= min_bytes && b64.size() * 3 / 4 <= max_bytes &&
           AllOf(b64, IsBase64);
  };
  if (!length_ok(p[3], 8, 64) || !length_ok(p[4], 16, 64)) return Malformed(variant);
  return Status::Ok();
}

// Dovecot's {SHA256}: standard base64 (padded) of a 32-byte digest.
Status CheckSha256(std::string_view h) {
  if (h.size() != 44 || h[43] != '=' || !AllOf(h.substr(0, 43), IsBase64)) {
    return InvalidArgument("malformed {SHA256} hash (expected the base64 of a 32-byte digest)");
  }
  // The last character before '=' carries 4 bits of data and 2 zero bits: refuse non-canonical
  // text, so comparing our own encoding with it is exact.
  const char* pos = std::char_traits<char>::find(kBase64, 64, h[42]);
  if (((pos - kBase64) & 3) != 0) return InvalidArgument("malformed {SHA256} hash (not canonical)");
  return Status::Ok();
}

// The scheme the bare hash text says, or nullopt.
std::optional<HashScheme> SchemeOfText(std::string_view h) {
  if (StartsWith(h, "$y$")) return HashScheme::kYescrypt;
  if (StartsWith(h, "$2b$") || StartsWith(h, "$2y$") || StartsWith(h, "$2a$")) return HashScheme::kBcrypt;
  if (StartsWith(h, "$6$")) return HashScheme::kSha512Crypt;
  if (StartsWith(h, "$argon2id$")) return HashScheme::kArgon2id;
  if (StartsWith(h, "$argon2i$")) return HashScheme::kArgon2i;
  return std::nullopt;
}

bool IsCryptScheme(HashScheme s) {
  return s == HashScheme::kYescrypt || s == HashScheme::kBcrypt || s == HashScheme::kSha512Crypt;
}

// A heap-allocated struct crypt_data (about 32 KiB), zeroed before use and wiped after.
struct CryptData {
  CryptData() : data(new crypt_data()) {}
  ~CryptData() { SecureWipe(data.get(), sizeof(crypt_data)); }
  std::unique_ptr<crypt_data> data;
};

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

StatusOr<PasswordHash> ParsePasswordHash(std::string_view stored) {
  if (stored.empty()) return InvalidArgument("empty password hash");
  if (stored.size() > kMaxStoredHashBytes) {
    return InvalidArgument("password hash longer than " + std::to_string(kMaxStoredHashBytes) + " bytes");
  }
  std::string_view prefix;
  std::string_view text = stored;
  if (text[0] == '{') {
    const size_t close = text.find('}');
    if (close == std::string_view::npos || close == 1 || close > 32) {
      return InvalidArgument("unknown hash format (plaintext passwords are refused)");
    }
    prefix = text.substr(1, close - 1);
    text = text.substr(close + 1);
    if (AsciiEqualsIgnoreCase(prefix, "PLAIN") || AsciiEqualsIgnoreCase(prefix, "CLEARTEXT") ||
        AsciiEqualsIgnoreCase(prefix, "PLAIN-TRUNC") || AsciiEqualsIgnoreCase(prefix, "CLEAR")) {
      return InvalidArgument("plaintext passwords are refused; store a hash (e.g. argon2id)");
    }
  }
  if (AsciiEqualsIgnoreCase(prefix, "SHA256")) {
    if (Status s = CheckSha256(text); !s.ok()) return s;
    return PasswordHash{HashScheme::kSha256, std::string(text)};
  }
  const std::optional<HashScheme> scheme = SchemeOfText(text);
  if (!scheme) {
    // The prefix is not quoted either: a plaintext password may look like "{Summer2026}".
    return InvalidArgument(prefix.empty()
                               ? "unknown hash format (plaintext passwords are refused)"
                               : "unknown hash format (unsupported {SCHEME} prefix; plaintext "
                                 "passwords are refused)");
  }
  if (!prefix.empty()) {
    bool agrees = false;
    if (AsciiEqualsIgnoreCase(prefix, "CRYPT")) agrees = IsCryptScheme(*scheme);
    else if (AsciiEqualsIgnoreCase(prefix, "BLF-CRYPT")) agrees = *scheme == HashScheme::kBcrypt;
    else if (AsciiEqualsIgnoreCase(prefix, "SHA512-CRYPT")) agrees = *scheme == HashScheme::kSha512Crypt;
    else if (AsciiEqualsIgnoreCase(prefix, "ARGON2ID")) agrees = *scheme == HashScheme::kArgon2id;
    else if (AsciiEqualsIgnoreCase(prefix, "ARGON2I")) agrees = *scheme == HashScheme::kArgon2i;
    else return InvalidArgument("unknown hash format (unsupported scheme prefix)");
    if (!agrees) {
      return InvalidArgument("the scheme prefix disagrees with the hash, which is " +
                             std::string(HashSchemeName(*scheme)));
    }
  }
  Status status;
  switch (*scheme) {
    case HashScheme::kYescrypt: status = CheckYescrypt(text); break;
    case HashScheme::kBcrypt: status = CheckBcrypt(text); break;
    case HashScheme::kSha512Crypt: status = CheckSha512Crypt(text); break;
    case HashScheme::kArgon2id: status = CheckArgon2(text, "argon2id"); break;
    case HashScheme::kArgon2i: status = CheckArgon2(text, "argon2i"); break;
    case HashScheme::kSha256: break;
  }
  if (!status.ok()) return status;
  if (IsCryptScheme(*scheme)) {
    const std::string copy(text);
    if (crypt_checksalt(copy.c_str()) != CRYPT_SALT_OK) {
      return InvalidArgument("libcrypt refuses this " + std::string(HashSchemeName(*scheme)) + " hash");
    }
  }
  return PasswordHash{*scheme, std::string(text)};
}

bool VerifyPassword(const PasswordHash& hash, std::string_view password) {
  if (password.size() > kMaxPasswordBytes || HasNul(password)) return false;
  switch (hash.scheme) {
    case HashScheme::kYescrypt:
    case HashScheme::kBcrypt:
    case HashScheme::kSha512Crypt: {
      const SecretString phrase(password);  // NUL-terminated, wiped
      CryptData data;
      const char* out = crypt_r(phrase.view().data(), hash.encoded.c_str(), data.data.get());
      if (out == nullptr || out[0] != '$') return false;
      return ConstantTimeEquals(out, hash.encoded);
    }
    case HashScheme::kArgon2id:
    case HashScheme::kArgon2i: {
      const char* pwd = password.empty() ? "" : password.data();
      // argon2_verify re-hashes with the encoded parameters and compares in constant time
      // (argon2_compare); libargon2 wipes its working memory (FLAG_clear_internal_memory, on by
      // default). The password itself is only read, never copied.
      const int rc = hash.scheme == HashScheme::kArgon2id
                         ? argon2id_verify(hash.encoded.c_str(), pwd, password.size())
                         : argon2i_verify(hash.encoded.c_str(), pwd, password.size());
      return rc == ARGON2_OK;
    }
    case HashScheme::kSha256: {
      std::array<uint8_t, tls::kSha256Bytes> digest = tls::Sha256(password);
      std::string encoded = Base64Encode(digest.data(), digest.size());
      const bool match = ConstantTimeEquals(encoded, hash.encoded);
      SecureWipe(digest.data(), digest.size());
      SecureWipe(encoded.data(), encoded.size());
      return match;
    }
  }
  return false;
}

StatusOr<std::string> HashPassword(HashScheme scheme, std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return InvalidArgument("password longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (HasNul(password)) return InvalidArgument("password contains a NUL byte");
  switch (scheme) {
    case HashScheme::kYescrypt:
    case HashScheme::kBcrypt:
    case HashScheme::kSha512Crypt: {
      const char* prefix = scheme == HashScheme::kYescrypt ? "$y$" : scheme == HashScheme::kBcrypt ? "$2b$" : "$6$";
      const unsigned long count = scheme == HashScheme::kBcrypt ? kBcryptCost : 0;
      std::array<uint8_t, 32> random{};
      tls::RandomBytes(random);
      char setting[CRYPT_GENSALT_OUTPUT_SIZE];
      if (crypt_gensalt_rn(prefix, count, reinterpret_cast<const char*>(random.data()),
                           static_cast<int>(random.size()), setting, sizeof(setting)) == nullptr) {
        return Internal("crypt_gensalt_rn failed for " + std::string(HashSchemeName(scheme)));
      }
      SecureWipe(random.data(), random.size());
      const SecretString phrase(password);
      CryptData data;
      const char* out = crypt_r(phrase.view().data(), setting, data.data.get());
      if (out == nullptr || out[0] != '$') {
        return Internal("crypt_r failed for " + std::string(HashSchemeName(scheme)));
      }
      return std::string(out);
    }
    case HashScheme::kArgon2id:
    case HashScheme::kArgon2i: {
      std::array<uint8_t, kArgon2SaltBytes> salt{};
      tls::RandomBytes(salt);
      const argon2_type type = scheme == HashScheme::kArgon2id ? Argon2_id : Argon2_i;
      std::string encoded(argon2_encodedlen(kArgon2Passes, kArgon2MemoryKiB, kArgon2Lanes,
                                            salt.size(), kArgon2HashBytes, type),
                          '\0');
      const int rc = argon2_hash(kArgon2Passes, kArgon2MemoryKiB, kArgon2Lanes,
                                 password.empty() ? "" : password.data(),
                                 password.size(), salt.data(), salt.size(), nullptr,
                                 kArgon2HashBytes, encoded.data(), encoded.size(), type,
                                 ARGON2_VERSION_13);
      if (rc != ARGON2_OK) return Internal(std::string("argon2 failed: ") + argon2_error_message(rc));
      encoded.resize(encoded.find('\0'));
      return encoded;
    }
    case HashScheme::kSha256: {
      std::array<uint8_t, tls::kSha256Bytes> digest = tls::Sha256(password);
      std::string out = "{SHA256}" + Base64Encode(digest.data(), digest.size());
      SecureWipe(digest.data(), digest.size());
      return out;
    }
  }
  return InvalidArgument("unknown hash scheme");
}

StatusOr<PasswordHash> HashWithCostOf(const PasswordHash& model, std::string_view password) {
  if (password.size() > kMaxPasswordBytes || HasNul(password)) {
    return InvalidArgument("password too long or containing a NUL byte");
  }
  switch (model.scheme) {
    case HashScheme::kYescrypt:
    case HashScheme::kBcrypt:
    case HashScheme::kSha512Crypt: {
      const SecretString phrase(password);
      CryptData data;
      const char* out = crypt_r(phrase.view().data(), model.encoded.c_str(), data.data.get());
      if (out == nullptr || out[0] != '$') return Internal("crypt_r failed");
      return PasswordHash{model.scheme, out};
    }
    case HashScheme::kArgon2id:
    case HashScheme::kArgon2i: {
      // "$argon2id$v=19$m=M,t=T,p=P$..." (already checked by ParsePasswordHash).
      const std::vector<std::string_view> parts = SplitDollar(std::string_view(model.encoded).substr(1));
      if (parts.size() != 5) return InvalidArgument("malformed argon2 hash");
      unsigned m = 0, t = 0, lanes = 0;
      std::string_view params = parts[2];
      const size_t c1 = params.find(','), c2 = params.rfind(',');
      if (c1 == std::string_view::npos || c1 == c2 || !ParseUnsigned(params.substr(2, c1 - 2), &m) ||
          !ParseUnsigned(params.substr(c1 + 3, c2 - c1 - 3), &t) ||
          !ParseUnsigned(params.substr(c2 + 3), &lanes)) {
        return InvalidArgument("malformed argon2 hash");
      }
      std::array<uint8_t, kArgon2SaltBytes> salt{};
      tls::RandomBytes(salt);
      const argon2_type type = model.scheme == HashScheme::kArgon2id ? Argon2_id : Argon2_i;
      std::string encoded(argon2_encodedlen(t, m, lanes, salt.size(), kArgon2HashBytes, type), '\0');
      const int rc = argon2_hash(t, m, lanes, password.empty() ? "" : password.data(), password.size(),
                                 salt.data(), salt.size(), nullptr, kArgon2HashBytes, encoded.data(),
                                 encoded.size(), type, ARGON2_VERSION_13);
      if (rc != ARGON2_OK) return Internal(std::string("argon2 failed: ") + argon2_error_message(rc));
      encoded.resize(encoded.find('\0'));
      return PasswordHash{model.scheme, std::move(encoded)};
    }
    case HashScheme::kSha256: {
      StatusOr<std::string> stored = HashPassword(HashScheme::kSha256, password);
      if (!stored.ok()) return stored.status();
      return PasswordHash{HashScheme::kSha256, stored->substr(8)};  // without "{SHA256}"
    }
  }
  return InvalidArgument("unknown hash scheme");
}

std::string_view HashSchemeName(HashScheme scheme) {
  switch (scheme) {
    case HashScheme::kYescrypt: return "yescrypt";
    case HashScheme::kBcrypt: return "bcrypt";
    case HashScheme::kSha512Crypt: return "sha512-crypt";
    case HashScheme::kArgon2id: return "argon2id";
    case HashScheme::kArgon2i: return "argon2i";
    case HashScheme::kSha256: return "sha256";
  }
  return "unknown";
}

bool IsSlowHash(HashScheme scheme) { return scheme != HashScheme::kSha256; }

}  // namespace imapgate::auth
