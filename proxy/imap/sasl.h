// SASL codecs used before login: strict base64 (RFC 4648, no whitespace, padding required) and
// PLAIN (RFC 4616). Pure functions; outputs that can hold secrets are SecretStrings, and
// temporary buffers are wiped.
#pragma once

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

}  // namespace imapgate::imap
