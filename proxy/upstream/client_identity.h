// ClientIdentity: what the backend is told about the client through Dovecot's ID extension
// (x-originating-ip and friends), so that the backend's logs, auth penalties and
// mail_max_userip_connections see the real client instead of the proxy.
//
// The proxy sends `ID (...)` just before LOGIN, only when the backend advertises ID; Dovecot
// trusts these keys only from its login_trusted_networks. Nothing the client sent in its own ID
// command is forwarded (a client must not be able to claim another origin).
#pragma once

#include <string>
#include <string_view>

#include "net/socket.h"

namespace imapgate::upstream {

// Hops a forwarded session may still take (Dovecot's x-proxy-ttl; it refuses at 1 or less).
constexpr int kInitialProxyTtl = 5;
// Longest x-session-id Dovecot accepts.
constexpr size_t kMaxSessionIdBytes = 64;

struct ClientIdentity {
  std::string session_id;     // imapgate's session id; cut to kMaxSessionIdBytes
  net::SocketAddress client;  // the client's address and port
  net::SocketAddress local;   // the address and port the client connected to
  bool tls = false;           // the client's connection is TLS
};

// The whole command line, CRLF included: `TAG ID ("x-session-id" "..." ... )`. Pure; every
// value is an IP, a port, a number or the session id with anything but [A-Za-z0-9._-] dropped,
// so no quoting can be broken. Keys whose value is unknown (no address) are left out.
std::string FormatIdCommand(std::string_view tag, const ClientIdentity& identity);

}  // namespace imapgate::upstream
