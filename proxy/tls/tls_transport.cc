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
    if (r.status == net::IoStatus::kError || r.status == net::IoStatus::kEof) {
      failure_reason_ = r.status == net::IoStatus::kEof ? "peer closed during handshake" : TakeTlsErrorString();
    }
    return r;
  }

  const std::string& failure_reason() const override { return failure_reason_; }

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

  net::UniqueFd fd_;
  SslPtr ssl_;
  std::string failure_reason_;
};

}  // namespace

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
