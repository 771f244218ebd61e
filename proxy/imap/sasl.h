// SASL codecs used before login: strict base64 (RFC 4648, no whitespace, padding required),
// PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), XOAUTH2 (Google's format) and
// OAUTHBEARER (RFC 7628). Pure functions; outputs that can hold secrets are SecretStrings, and
// temporary buffers are wiped. Every field has a bound (constants below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/secret.h"

namespace imapgate::imap {

// Decodes strict base64. Returns nullopt on any invalid character, bad padding, or when the
// decoded size would exceed max_decoded_bytes.
std::optional<SecretString> DecodeBase64(std::string_view text, size_t max_decoded_bytes);
std::string EncodeBase64(std::string_view bytes);

struct SaslPlainCredentials {
  SecretString authzid;  // may be empty
  SecretString authcid;  // the user; non-empty
  SecretString password; // non-empty
};

// Decodes a PLAIN message: authzid NUL authcid NUL passwd. Each field at most 1024 octets and
// NUL-free; authcid and password non-empty. nullopt on any violation.
std::optional<SaslPlainCredentials> ParseSaslPlain(std::string_view decoded);

// Bounds of the SASL decoders below (octets, after base64 decoding).
inline constexpr size_t kMaxSaslUserBytes = 1024;         // user / authzid of every mechanism
inline constexpr size_t kMaxSaslPasswordBytes = 1024;     // LOGIN mechanism password
inline constexpr size_t kMaxBearerTokenBytes = 4096;      // XOAUTH2 / OAUTHBEARER token
inline constexpr size_t kMaxOauthHostBytes = 255;         // OAUTHBEARER host= (RFC 1035 name)
inline constexpr size_t kMaxOauthKvPairs = 8;             // OAUTHBEARER key=value pairs
inline constexpr size_t kMaxOauthValueBytes = 4096 + 7;   // any OAUTHBEARER value ("Bearer " + token)
// Largest decoded message any mechanism accepts (OAUTHBEARER with every field at its bound fits).
inline constexpr size_t kMaxSaslMessageBytes = 8192;

// The mechanisms imapgate implements, as advertised (AUTH=<name>): PLAIN, LOGIN, XOAUTH2,
// OAUTHBEARER. True when `name` (exact, upper case) is one of them.
bool IsSupportedSaslMechanism(std::string_view name);

// The LOGIN mechanism's two server challenges, base64 ("Username:", "Password:").
inline constexpr std::string_view kSaslLoginUserChallenge = "VXNlcm5hbWU6";
inline constexpr std::string_view kSaslLoginPasswordChallenge = "UGFzc3dvcmQ6";

// One decoded LOGIN-mechanism answer (the user name, or the password): non-empty, NUL-free, at
// most `max_bytes`. nullopt otherwise.
std::optional<SecretString> ParseSaslLoginField(std::string_view decoded, size_t max_bytes);

// XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A (exactly these two fields, in this
// order; the scheme name is case-insensitive). The user is non-empty, NUL- and ^A-free, at most
// kMaxSaslUserBytes; the token is an RFC 6750 b64token of at most kMaxBearerTokenBytes.
struct Xoauth2Credentials {
  SecretString user;
  SecretString token;
};
std::optional<Xoauth2Credentials> ParseXoauth2(std::string_view decoded);

// OAUTHBEARER (RFC 7628 §3.1): gs2-header ("n" or "y" channel-binding flag, never "p=";
// "a=<saslname>" authzid with =2C/=3D escapes) ^A, then key=value pairs each ended by ^A
// (host, port, auth, and other alphabetic keys, at most kMaxOauthKvPairs, none repeated), then
// ^A. `auth` ("Bearer <b64token>") is required. The authzid is required too: it is the user
// name the session logs in as (the token alone names no user imapgate could route).
struct OauthBearerCredentials {
  SecretString authzid;  // decoded saslname
  SecretString user;     // == authzid
  std::optional<std::string> host;
  std::optional<uint16_t> port;
  SecretString token;
};
std::optional<OauthBearerCredentials> ParseOauthBearer(std::string_view decoded);

// Base64 client messages for a backend login with a bearer token (no validation: the caller
// passes what ParseXoauth2 / ParseOauthBearer accepted). The result and every temporary holding
// the token are wiping storage.
SecretString EncodeXoauth2(std::string_view user, std::string_view token);
SecretString EncodeOauthBearer(std::string_view user, std::string_view token);

}  // namespace imapgate::imap
