// Strict base64 and the SASL mechanisms' messages (see sasl.h).
#include "imap/sasl.h"
#include "common/ascii.h"

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

// RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
bool IsB64Token(std::string_view t) {
  size_t i = 0;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < t.size(); ++i) {
    if (t[i] != '=') return false;
  }
  return true;
}


// "Bearer <b64token>" (the scheme case-insensitive, one space): the token, or empty.
std::string_view BearerToken(std::string_view value) {
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() || !AsciiEqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return {};
  }
  std::string_view token = value.substr(kScheme.size());
  if (token.size() > kMaxBearerTokenBytes || !IsB64Token(token)) return {};
  return token;
}

// A user name: non-empty, bounded, no NUL and no ^A.
bool IsValidUser(std::string_view user) {
  return !user.empty() && user.size() <= kMaxSaslUserBytes && user.find('\0') == std::string_view::npos &&
         user.find('\x01') == std::string_view::npos;
}

// RFC 5801 saslname: "," and "=" only as =2C and =3D; no NUL. Decoded into `out` (wiping).
bool DecodeSaslName(std::string_view in, WipingStringBase* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\0' || c == ',' || c == '\x01') return false;
    if (c != '=') {
      out->push_back(c);
      continue;
    }
    if (in.size() - i < 3) return false;
    const std::string_view esc = in.substr(i + 1, 2);
    if (esc == "2C") {
      out->push_back(',');
    } else if (esc == "3D") {
      out->push_back('=');
    } else {
      return false;
    }
    i += 2;
  }
  return true;
}

SecretString Encoded(const WipingStringBase& message) {
  std::string encoded = EncodeBase64(std::string_view(message.data(), message.size()));
  SecretString out(encoded);
  SecureWipe(encoded.data(), encoded.size());
  return out;
}

}  // namespace

bool IsSupportedSaslMechanism(std::string_view name) {
  return name == "PLAIN" || name == "LOGIN" || name == "XOAUTH2" || name == "OAUTHBEARER";
}

std::optional<SecretString> ParseSaslLoginField(std::string_view decoded, size_t max_bytes) {
  if (decoded.empty() || decoded.size() > max_bytes) return std::nullopt;
  if (decoded.find('\0') != std::string_view::npos) return std::nullopt;
  return SecretString(decoded);
}

std::optional<Xoauth2Credentials> ParseXoauth2(std::string_view decoded) {
  constexpr std::string_view kUser = "user=";
  constexpr std::string_view kAuth = "auth=";
  if (decoded.find('\0') != std::string_view::npos) return std::nullopt;
  if (decoded.size() < 2 || decoded.substr(0, kUser.size()) != kUser ||
      decoded.substr(decoded.size() - 2) != "\x01\x01") {
    return std::nullopt;
  }
  const std::string_view body = decoded.substr(kUser.size(), decoded.size() - kUser.size() - 2);
  const size_t sep = body.find('\x01');
  if (sep == std::string_view::npos) return std::nullopt;
  const std::string_view user = body.substr(0, sep);
  const std::string_view auth = body.substr(sep + 1);
  if (!IsValidUser(user)) return std::nullopt;
  if (auth.substr(0, kAuth.size()) != kAuth) return std::nullopt;  // also: a third field
  const std::string_view token = BearerToken(auth.substr(kAuth.size()));
  if (token.empty()) return std::nullopt;  // b64token excludes ^A: no field hides behind it
  return Xoauth2Credentials{SecretString(user), SecretString(token)};
}

std::optional<OauthBearerCredentials> ParseOauthBearer(std::string_view decoded) {
  if (decoded.find('\0') != std::string_view::npos) return std::nullopt;
  // gs2-header: cbind-flag "," [ "a=" saslname ] ","
  if (decoded.size() < 2 || (decoded[0] != 'n' && decoded[0] != 'y') || decoded[1] != ',') return std::nullopt;
  const size_t header_end = decoded.find(',', 2);
  if (header_end == std::string_view::npos) return std::nullopt;
  const std::string_view authz_field = decoded.substr(2, header_end - 2);
  if (authz_field.size() < 3 || authz_field.substr(0, 2) != "a=") return std::nullopt;  // required here
  if (authz_field.size() - 2 > 3 * kMaxSaslUserBytes) return std::nullopt;  // before decoding
  WipingStringBase authzid;
  if (!DecodeSaslName(authz_field.substr(2), &authzid)) return std::nullopt;
  const std::string_view user(authzid.data(), authzid.size());
  if (!IsValidUser(user)) return std::nullopt;

  // ^A *(key "=" value ^A) ^A
  std::string_view rest = decoded.substr(header_end + 1);
  if (rest.size() < 2 || rest.front() != '\x01' || rest.substr(rest.size() - 2) != "\x01\x01") return std::nullopt;
  rest = rest.substr(1, rest.size() - 2);  // pairs, each with its trailing ^A
  OauthBearerCredentials out;
  std::string_view token;
  size_t pairs = 0;
  while (!rest.empty()) {
    const size_t end = rest.find('\x01');
    if (end == std::string_view::npos) return std::nullopt;  // cannot happen: rest ends with ^A
    const std::string_view pair = rest.substr(0, end);
    rest = rest.substr(end + 1);
    if (++pairs > kMaxOauthKvPairs) return std::nullopt;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = pair.substr(eq + 1);
    for (char c : key) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return std::nullopt;
    }
    if (value.size() > kMaxOauthValueBytes) return std::nullopt;
    for (char c : value) {  // VCHAR / SP / HTAB / CR / LF
      const auto u = static_cast<unsigned char>(c);
      if (!((u >= 0x21 && u <= 0x7e) || u == ' ' || u == '\t' || u == '\r' || u == '\n')) return std::nullopt;
    }
    if (key == "auth") {
      if (!token.empty()) return std::nullopt;
      token = BearerToken(value);
      if (token.empty()) return std::nullopt;
    } else if (key == "host") {
      if (out.host || value.empty() || value.size() > kMaxOauthHostBytes) return std::nullopt;
      out.host = std::string(value);
    } else if (key == "port") {
      if (out.port || value.empty() || value.size() > 5) return std::nullopt;
      uint32_t port = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        port = port * 10 + static_cast<uint32_t>(c - '0');
      }
      if (port > 65535) return std::nullopt;
      out.port = static_cast<uint16_t>(port);
    }
    // Other keys (RFC 7628 §3.1 allows extensions) are bounded above and ignored.
  }
  if (token.empty()) return std::nullopt;
  out.authzid = SecretString(user);
  out.user = SecretString(user);
  out.token = SecretString(token);
  return out;
}

SecretString EncodeXoauth2(std::string_view user, std::string_view token) {
  WipingStringBase message;
  message.append("user=").append(user).append("\x01" "auth=Bearer ").append(token).append("\x01\x01");
  return Encoded(message);
}

SecretString EncodeOauthBearer(std::string_view user, std::string_view token) {
  WipingStringBase message;
  message.append("n,a=");
  for (char c : user) {
    if (c == ',') {
      message.append("=2C");
    } else if (c == '=') {
      message.append("=3D");
    } else {
      message.push_back(c);
    }
  }
  message.append(",\x01" "auth=Bearer ").append(token).append("\x01\x01");
  return Encoded(message);
}

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
