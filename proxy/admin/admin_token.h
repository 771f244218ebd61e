// AdminToken: the bearer token that authorizes admin API changes, and its constant-time check.
//
// The token is read from a file (its first line, without surrounding whitespace), kept in a
// SecretString (wiped when freed, never logged), and compared with ConstantTimeEquals. An empty
// AdminToken (none configured) matches nothing, so every change is refused.
#pragma once

#include <string>
#include <string_view>

#include "common/secret.h"
#include "common/status.h"

namespace imapgate::admin {

class AdminToken {
 public:
  // Longest token accepted, in bytes, and the most a token file may hold.
  static constexpr size_t kMaxTokenBytes = 256;
  static constexpr size_t kMinTokenBytes = 16;

  AdminToken() = default;  // none configured
  // A token given directly (tests, or a config that already read it). Fails on a token shorter
  // than kMinTokenBytes or longer than kMaxTokenBytes, or with bytes outside printable ASCII
  // without spaces (what RFC 6750's b64token allows, and more).
  static StatusOr<AdminToken> FromString(std::string_view token);
  // Reads the token from path: a regular file of at most kMaxTokenBytes + 1 bytes, not readable
  // or writable by others (chmod 600 or 640). The message of an error names the path, never the
  // contents.
  static StatusOr<AdminToken> FromFile(const std::string& path);

  AdminToken(AdminToken&&) = default;
  AdminToken& operator=(AdminToken&&) = default;

  bool configured() const { return !token_.empty(); }
  // Whether presented is the token, in time that depends only on the lengths. False when none
  // is configured.
  bool Matches(std::string_view presented) const;

 private:
  explicit AdminToken(SecretString token) : token_(std::move(token)) {}
  SecretString token_;
};

// The token of an "Authorization: Bearer <token>" header value: the scheme is case-insensitive
// (RFC 7235), one or more spaces follow it. Empty when the value is not a Bearer credential.
std::string_view BearerToken(std::string_view authorization);

}  // namespace imapgate::admin
