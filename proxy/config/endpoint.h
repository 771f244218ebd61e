// Endpoint parsing: "host:port" strings from the config file into Endpoint values.
//
// Accepted forms: "127.0.0.1:993", "mail.example.com:143", "[::1]:993" (IPv6 literals must be
// bracketed; the brackets are not stored). IPv4 and IPv6 literals are checked with inet_pton,
// host names against RFC 1123 label rules. The port must be decimal 1..65535, or 0 when
// `allow_port_zero` (the admin listener uses port 0 for "disabled"). Pure; safe from any thread.
#pragma once

#include <string_view>

#include "common/status.h"
#include "config/config.h"

namespace imapgate::config {

// Parses `text` as host:port. The error message describes the problem without location.
StatusOr<Endpoint> ParseEndpoint(std::string_view text, bool allow_port_zero);

// Formats an endpoint back to "host:port", bracketing IPv6 hosts.
std::string FormatEndpoint(const Endpoint& endpoint);

}  // namespace imapgate::config
