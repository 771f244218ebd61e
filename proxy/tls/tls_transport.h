// TlsTransport: a net::Transport that runs BoringSSL over a non-blocking socket, driven by the
// owner's event loop (no libevent_openssl: it is built against OpenSSL 3).
//
// The owner calls Handshake() until it returns kOk, arming read or write interest as the result
// says, then Read/Write. The transport owns the fd and the SSL object. BoringSSL frees its
// record buffers whenever they are empty, so an idle session holds no TLS buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/transport.h"
#include "tls/tls_context.h"

namespace imapgate::tls {

// HandshakeFailure: why a server-side handshake failed, in classes an operator can act on (the
// imapgate_tls_handshake_failures_total reasons; "timeout" is the frontend's, not the transport's).
enum class HandshakeFailure { kNone, kNoSharedCipher, kProtocolVersion, kAlpn, kSni, kClosed, kOther };
// "no_shared_cipher", "protocol_version", "alpn", "sni", "closed", "other"; "" for kNone.
const char* HandshakeFailureName(HandshakeFailure failure);
// The class of one BoringSSL error: `packed` as ERR_get_error returns it, `data` its error data
// ("" when none; BoringSSL names the extension it could not parse there, "extension 16"). Pure.
HandshakeFailure ClassifyTlsError(uint32_t packed, std::string_view data);

class TlsTransport : public net::Transport {
 public:
  ~TlsTransport() override = default;
  // Drives the handshake. kOk when complete; kWantRead/kWantWrite to retry; kError or kEof on
  // failure (failure_reason() says why).
  virtual net::IoResult Handshake() = 0;
  // Why the handshake failed, for logs (never secret).
  virtual const std::string& failure_reason() const = 0;
  // The ALPN protocol that was negotiated, or empty.
  virtual std::string SelectedAlpn() const = 0;
  // The server name the client asked for with SNI (server side), or empty.
  virtual std::string RequestedServerName() const = 0;
  virtual bool SessionReused() const = 0;
  // The class of the handshake failure (kNone until Handshake() fails): the first error of
  // BoringSSL's queue that ClassifyTlsError places in a class, else kOther; kClosed when the
  // peer closed or reset the connection with no TLS error.
  virtual HandshakeFailure failure_kind() const = 0;
  // "tls1_2" or "tls1_3" once the handshake completed with that version, else "unknown".
  virtual std::string_view VersionLabel() const = 0;
};

using TlsTransportPtr = std::unique_ptr<TlsTransport>;

// Server side of a client connection; takes ownership of fd (also on failure).
StatusOr<TlsTransportPtr> NewServerTransport(const TlsServerContext& ctx, int fd);
// Client side towards a backend; server_name is sent as SNI and, when the context verifies, is
// the name the certificate must match. Takes ownership of fd.
StatusOr<TlsTransportPtr> NewClientTransport(const TlsClientContext& ctx, int fd,
                                             const std::string& server_name);

}  // namespace imapgate::tls
