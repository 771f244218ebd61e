// User name normalization for routing: ASCII letters lowercased, the domain kept, a configured
// default domain appended to a bare name ("Alice" -> "alice@example.com"). Other bytes (UTF-8)
// are kept as they are. Pure; NormalizeUser writes into the caller's buffer and never allocates.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace imapgate::route {

// Longest normalized name, default domain included: 64 (local part) + 1 + 255 (domain), the
// limits of RFC 5321. Longer names are refused, never truncated (two users must not collide).
inline constexpr size_t kMaxUserBytes = 320;

enum class NormalizeResult { kOk, kEmpty, kTooLong };

// Normalizes `user` into `buffer` and sets *out to the result (a view into `buffer`).
// `default_domain` must already be lowercase; "" means bare names stay bare.
NormalizeResult NormalizeUser(std::string_view user, std::string_view default_domain,
                              char (&buffer)[kMaxUserBytes], std::string_view* out);

// The same, allocating: for configuration and admin paths, not the login's hot path.
std::optional<std::string> NormalizedUser(std::string_view user, std::string_view default_domain);

// The domain of a normalized name: what follows its last '@', or "" when there is none.
std::string_view DomainOf(std::string_view normalized);

// ASCII lowercase copy (domain rules, default domain).
std::string AsciiLower(std::string_view text);

}  // namespace imapgate::route
