// TLS client context of the load generator: one BoringSSL SSL_CTX shared by all threads.
//
// Same profile as imapgate's own contexts (TLS 1.2/1.3, X25519:P-256, ALPN "imap"). With a CA
// file the server certificate is verified (against the target IP); with --insecure it is not
// (the handshake still checks the server's signature). Certificates received are interned in a
// shared CRYPTO_BUFFER_POOL so 50k idle sessions do not each hold a copy. With resumption on,
// every new ticket is handed to the session's TicketSink (see worker.h), per thread.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <variant>

namespace imapgate::bench {

// Owns the SSL_CTX and the buffer pool; lives for the whole run.
class TlsClient {
 public:
  ~TlsClient();
  // Builds the context. Error text on failure.
  static std::variant<TlsClient*, std::string> Create(const std::string& cafile, bool resume,
                                                      bool tls12_only);
  SSL_CTX* ctx() const { return ctx_; }

 private:
  TlsClient() = default;
  SSL_CTX* ctx_ = nullptr;
  CRYPTO_BUFFER_POOL* pool_ = nullptr;
};

// Receives NewSessionTicket-derived sessions for resumption. Set as the SSL's app data.
class TicketSink {
 public:
  virtual ~TicketSink() = default;
  // Takes ownership of session.
  virtual void OnNewSession(SSL_SESSION* session) = 0;
};

}  // namespace imapgate::bench
