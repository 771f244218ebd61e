#include "tls/tls_transport.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/socket.h"

namespace imapgate::tls {
namespace {

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

class BoringTlsTransport final : public TlsTransport {
 public:
  BoringTlsTransport(net::UniqueFd fd, SslPtr ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}

  int fd() const override { return fd_.get(); }

  net::IoResult Handshake() override {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) return {net::IoStatus::kOk};
    net::IoResult r = MapError(rc);
    if (r.status == net::IoStatus::kError || r.status == net::IoStatus::kEof) RecordFailure(r.status);
    return r;
  }

  const std::string& failure_reason() const override { return failure_reason_; }
  HandshakeFailure failure_kind() const override { return failure_kind_; }

  std::string_view VersionLabel() const override {
    if (!SSL_is_init_finished(ssl_.get())) return "unknown";
    switch (SSL_version(ssl_.get())) {
      case TLS1_2_VERSION: return "tls1_2";
      case TLS1_3_VERSION: return "tls1_3";
      default: return "unknown";
    }
  }

  net::IoResult Read(char* buf, size_t len) override {
    ERR_clear_error();
    int n = SSL_read(ssl_.get(), buf, static_cast<int>(len > INT32_MAX ? INT32_MAX : len));
    if (n > 0) return {net::IoStatus::kOk, static_cast<size_t>(n)};
    return MapError(n);
  }

  net::IoResult Write(const char* buf, size_t len) override {
    ERR_clear_error();
    int n = SSL_write(ssl_.get(), buf, static_cast<int>(len > INT32_MAX ? INT32_MAX : len));
    if (n > 0) return {net::IoStatus::kOk, static_cast<size_t>(n)};
    return MapError(n);
  }

  net::IoResult ShutdownWrite() override {
    ERR_clear_error();
    // Send close_notify once; we do not wait for the peer's (we read until EOF separately).
    int rc = SSL_shutdown(ssl_.get());
    if (rc < 0) {
      net::IoResult r = MapError(rc);
      if (r.status == net::IoStatus::kWantWrite) return r;
    }
    ::shutdown(fd_.get(), SHUT_WR);
    return {net::IoStatus::kOk};
  }

  bool HasBufferedInput() const override { return SSL_pending(ssl_.get()) > 0; }

  std::string ProtocolName() const override {
    return SSL_is_init_finished(ssl_.get()) ? SSL_get_version(ssl_.get()) : "none";
  }

  std::string SelectedAlpn() const override {
    const uint8_t* data = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
  }

  bool SessionReused() const override { return SSL_session_reused(ssl_.get()) != 0; }

  std::string RequestedServerName() const override {
    const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
    return name != nullptr ? std::string(name) : std::string();
  }

 private:
  net::IoResult MapError(int rc) {
    switch (SSL_get_error(ssl_.get(), rc)) {
      case SSL_ERROR_WANT_READ: return {net::IoStatus::kWantRead};
      case SSL_ERROR_WANT_WRITE: return {net::IoStatus::kWantWrite};
      case SSL_ERROR_ZERO_RETURN: return {net::IoStatus::kEof};
      case SSL_ERROR_SYSCALL:
        // rc == 0 with an empty error queue: TCP EOF without close_notify. IMAP frames its own
        // data, so a truncated stream is treated as an ordinary end of stream.
        return {ERR_peek_error() == 0 && rc == 0 ? net::IoStatus::kEof : net::IoStatus::kError};
      default: return {net::IoStatus::kError};
    }
  }

  // Sets failure_reason_ (the first error, as text) and failure_kind_ from the error queue, and
  // clears it.
  void RecordFailure(net::IoStatus status) {
    failure_kind_ = HandshakeFailure::kOther;
    bool any = false;
    bool classified = false;
    const char* data = nullptr;
    int flags = 0;
    for (uint32_t err; (err = ERR_get_error_line_data(nullptr, nullptr, &data, &flags)) != 0;) {
      // `data` is valid until the next call that changes the queue: used before anything else.
      const std::string_view text = (flags & ERR_FLAG_STRING) != 0 && data != nullptr ? data : "";
      const HandshakeFailure kind = ClassifyTlsError(err, text);
      if (!any) {
        char buf[256];
        ERR_error_string_n(err, buf, sizeof buf);
        failure_reason_ = buf;
        any = true;
      }
      if (!classified && kind != HandshakeFailure::kOther) {
        failure_kind_ = kind;
        classified = true;
      }
    }
    ERR_clear_error();
    if (!any) {
      // EOF, or a reset (SSL_ERROR_SYSCALL with an empty queue): the peer went away.
      failure_reason_ = status == net::IoStatus::kEof ? "peer closed during handshake"
                                                      : "connection reset during handshake";
      failure_kind_ = HandshakeFailure::kClosed;
    }
  }

  net::UniqueFd fd_;
  SslPtr ssl_;
  std::string failure_reason_;
  HandshakeFailure failure_kind_ = HandshakeFailure::kNone;
};

}  // namespace

const char* HandshakeFailureName(HandshakeFailure failure) {
  switch (failure) {
    case HandshakeFailure::kNone: return "";
    case HandshakeFailure::kNoSharedCipher: return "no_shared_cipher";
    case HandshakeFailure::kProtocolVersion: return "protocol_version";
    case HandshakeFailure::kAlpn: return "alpn";
    case HandshakeFailure::kSni: return "sni";
    case HandshakeFailure::kClosed: return "closed";
    case HandshakeFailure::kOther: return "other";
  }
  return "other";
}

HandshakeFailure ClassifyTlsError(uint32_t packed, std::string_view data) {
  if (ERR_GET_LIB(packed) != ERR_LIB_SSL) return HandshakeFailure::kOther;
  switch (ERR_GET_REASON(packed)) {
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUP:
    case SSL_R_NO_CIPHERS_PASSED:
      return HandshakeFailure::kNoSharedCipher;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_INAPPROPRIATE_FALLBACK:
    case SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK:
      return HandshakeFailure::kProtocolVersion;
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
      return HandshakeFailure::kAlpn;
    case SSL_R_TLSV1_ALERT_UNRECOGNIZED_NAME:
      return HandshakeFailure::kSni;
    case SSL_R_ERROR_PARSING_EXTENSION:
      // BoringSSL names the extension: server_name is 0, ALPN 16.
      if (data == "extension 0") return HandshakeFailure::kSni;
      if (data == "extension 16") return HandshakeFailure::kAlpn;
      return HandshakeFailure::kOther;
    default:
      return HandshakeFailure::kOther;
  }
}

StatusOr<TlsTransportPtr> NewServerTransport(const TlsServerContext& ctx, int fd) {
  net::UniqueFd owned(fd);
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || !SSL_set_fd(ssl.get(), fd)) return Internal("SSL_new failed: " + TakeTlsErrorString());
  SSL_set_accept_state(ssl.get());
  return TlsTransportPtr(new BoringTlsTransport(std::move(owned), std::move(ssl)));
}

StatusOr<TlsTransportPtr> NewClientTransport(const TlsClientContext& ctx, int fd, const std::string& server_name) {
  net::UniqueFd owned(fd);
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || !SSL_set_fd(ssl.get(), fd)) return Internal("SSL_new failed: " + TakeTlsErrorString());
  SSL_set_connect_state(ssl.get());
  if (!server_name.empty()) {
    in6_addr ip6;
    in_addr ip4;
    bool is_ip = inet_pton(AF_INET, server_name.c_str(), &ip4) == 1 ||
                 inet_pton(AF_INET6, server_name.c_str(), &ip6) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());  // SNI carries names only
    if (ctx.verify()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
      int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                     : X509_VERIFY_PARAM_set1_host(param, server_name.data(), server_name.size());
      if (!ok) return Internal("cannot set backend name to verify");
    }
  }
  return TlsTransportPtr(new BoringTlsTransport(std::move(owned), std::move(ssl)));
}

}  // namespace imapgate::tls
