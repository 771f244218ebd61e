// Strict base64 and SASL PLAIN (see sasl.h).
#include "imap/sasl.h"

#include <cstdint>

namespace imapgate::imap {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kMaxPlainFieldBytes = 1024;

// The 6-bit value of a base64 character, or -1.
int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<SecretString> DecodeBase64(std::string_view text, size_t max_decoded_bytes) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = text[text.size() - 2] == '=' ? 2 : 1;  // size is a non-zero multiple of 4
  }
  const size_t decoded_size = text.size() / 4 * 3 - pad;
  if (decoded_size > max_decoded_bytes) return std::nullopt;  // before allocating anything

  WipingBytes out;
  out.reserve(decoded_size);
  const size_t data_chars = text.size() - pad;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data_chars; ++i) {
    const int v = Sextet(text[i]);
    if (v < 0) {
      SecureWipe(&acc, sizeof acc);
      return std::nullopt;  // '=' inside, whitespace or any other byte
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Canonical encoding only: the bits left over by padding must be zero.
  const bool clean = (acc & ((1u << bits) - 1)) == 0;
  SecureWipe(&acc, sizeof acc);
  if (!clean) return std::nullopt;
  return SecretString(std::string_view(out.data(), out.size()));
}

std::string EncodeBase64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<SaslPlainCredentials> ParseSaslPlain(std::string_view decoded) {
  const size_t first = decoded.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = decoded.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (decoded.find('\0', second + 1) != std::string_view::npos) return std::nullopt;
  std::string_view authzid = decoded.substr(0, first);
  std::string_view authcid = decoded.substr(first + 1, second - first - 1);
  std::string_view password = decoded.substr(second + 1);
  if (authzid.size() > kMaxPlainFieldBytes || authcid.size() > kMaxPlainFieldBytes ||
      password.size() > kMaxPlainFieldBytes) {
    return std::nullopt;
  }
  if (authcid.empty() || password.empty()) return std::nullopt;
  SaslPlainCredentials creds;
  creds.authzid = SecretString(authzid);
  creds.authcid = SecretString(authcid);
  creds.password = SecretString(password);
  return creds;
}

}  // namespace imapgate::imap
