#include "bench/loadgen/tls_client.h"

#include <openssl/err.h>
#include <openssl/pool.h>

namespace imapgate::bench {
namespace {

constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr unsigned char kAlpn[] = {4, 'i', 'm', 'a', 'p'};

std::string LastError() {
  uint32_t err = ERR_get_error();
  ERR_clear_error();
  char buf[256];
  ERR_error_string_n(err, buf, sizeof buf);
  return buf;
}

int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* sink = static_cast<TicketSink*>(SSL_get_app_data(ssl));
  if (sink == nullptr) return 0;
  sink->OnNewSession(session);
  return 1;  // we own it now
}

}  // namespace

TlsClient::~TlsClient() {
  SSL_CTX_free(ctx_);
  CRYPTO_BUFFER_POOL_free(pool_);
}

std::variant<TlsClient*, std::string> TlsClient::Create(const std::string& cafile, bool resume,
                                                        bool tls12_only) {
  auto* client = new TlsClient();
  client->ctx_ = SSL_CTX_new(TLS_method());
  client->pool_ = CRYPTO_BUFFER_POOL_new();
  SSL_CTX* ctx = client->ctx_;
  auto fail = [&](const std::string& what) -> std::string {
    delete client;
    return what + ": " + LastError();
  };
  if (ctx == nullptr || client->pool_ == nullptr) return fail("SSL_CTX_new");
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx, tls12_only ? TLS1_2_VERSION : TLS1_3_VERSION) ||
      !SSL_CTX_set_strict_cipher_list(ctx, kTls12Ciphers) ||
      !SSL_CTX_set1_curves_list(ctx, "X25519:P-256") ||
      SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn) != 0) {
    return fail("TLS settings");
  }
  SSL_CTX_set0_buffer_pool(ctx, client->pool_);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!cafile.empty()) {
    if (!SSL_CTX_load_verify_locations(ctx, cafile.c_str(), nullptr)) {
      return fail("cannot load --cafile '" + cafile + "'");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (resume) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, OnNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  return client;
}

}  // namespace imapgate::bench
