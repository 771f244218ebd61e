// TLS contexts: BoringSSL SSL_CTX objects built from config, for clients (server side) and for
// backends (client side). The only code besides tls_transport.cc that includes BoringSSL.
//
// Server contexts: TLS 1.2 and 1.3 only; Mozilla-intermediate AEAD suites for 1.2; key exchange
// X25519 then P-256; session resumption with tickets (BoringSSL rotates the ticket key itself);
// ALPN: a client that offers ALPN must offer "imap", else the handshake fails with the
// no_application_protocol alert (ALPACA). A context is immutable once built and shared by all
// workers (SSL_CTX is reference-counted and thread-safe for SSL_new).
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

#include "common/status.h"

struct ssl_ctx_st;

namespace imapgate::tls {

struct SslCtxDeleter { void operator()(ssl_ctx_st* ctx) const; };
using SslCtxPtr = std::unique_ptr<ssl_ctx_st, SslCtxDeleter>;

class TlsServerContext {
 public:
  // Loads the PEM certificate chain and key; fails with a message naming the file and saying
  // in plain words what is wrong with it ("certificate '/x.pem': file not found", "... not a PEM
  // file", "... no certificate in it", "... expired on DATE", "key '/k.pem': does not match the
  // certificate '/x.pem'"), never BoringSSL's error codes.
  static StatusOr<std::shared_ptr<TlsServerContext>> Create(const std::string& certificate_file,
                                                             const std::string& key_file);
  // Same, with the time the leaf certificate's expiry is checked against (for tests).
  static StatusOr<std::shared_ptr<TlsServerContext>> Create(const std::string& certificate_file,
                                                             const std::string& key_file, time_t now);
  ssl_ctx_st* get() const { return ctx_.get(); }
  // The notAfter of the leaf certificate, in seconds since the Unix epoch (0 if it could not be
  // read); for the certificate expiry metric.
  int64_t not_after_unix_seconds() const { return not_after_; }

 private:
  TlsServerContext(SslCtxPtr ctx, int64_t not_after) : ctx_(std::move(ctx)), not_after_(not_after) {}
  SslCtxPtr ctx_;
  int64_t not_after_ = 0;
};

class TlsClientContext {
 public:
  // ca_file empty: the system trust store. verify false: no certificate check (tests only).
  // A CA file that cannot be loaded is named with what is wrong with it, as for Create above.
  static StatusOr<std::shared_ptr<TlsClientContext>> Create(const std::string& ca_file, bool verify);
  ssl_ctx_st* get() const { return ctx_.get(); }
  bool verify() const { return verify_; }

 private:
  TlsClientContext(SslCtxPtr ctx, bool verify) : ctx_(std::move(ctx)), verify_(verify) {}
  SslCtxPtr ctx_;
  bool verify_;
};

// The last BoringSSL error on this thread as text (library:reason), and clears the queue.
std::string TakeTlsErrorString();

}  // namespace imapgate::tls
