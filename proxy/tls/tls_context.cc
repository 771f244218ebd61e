#include "tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

namespace imapgate::tls {
namespace {

// Mozilla "intermediate" TLS 1.2 suites: ECDHE with AEAD only. TLS 1.3 suites are fixed in
// BoringSSL (AES-GCM and ChaCha20-Poly1305), which matches the same profile.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// X25519 first: Debian's BoringSSL is built with OPENSSL_SMALL and its P-256 is portable C.
constexpr char kCurves[] = "X25519:P-256";
constexpr unsigned char kImapAlpn[] = {'i', 'm', 'a', 'p'};

// ALPACA defence: a client that offers ALPN must offer "imap"; otherwise refuse with the
// no_application_protocol alert. A client that sends no ALPN never reaches this callback.
int SelectAlpn(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len, void*) {
  CBS list;
  CBS_init(&list, in, in_len);
  while (CBS_len(&list) > 0) {
    CBS proto;
    if (!CBS_get_u8_length_prefixed(&list, &proto)) break;
    if (CBS_len(&proto) == sizeof kImapAlpn && memcmp(CBS_data(&proto), kImapAlpn, sizeof kImapAlpn) == 0) {
      *out = CBS_data(&proto);
      *out_len = sizeof kImapAlpn;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // BoringSSL sends no_application_protocol
}

Status ApplyCommonSettings(SSL_CTX* ctx) {
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
    return Internal("cannot set TLS versions: " + TakeTlsErrorString());
  }
  if (!SSL_CTX_set_strict_cipher_list(ctx, kTls12Ciphers)) {
    return Internal("cannot set cipher list: " + TakeTlsErrorString());
  }
  if (!SSL_CTX_set1_curves_list(ctx, kCurves)) {
    return Internal("cannot set key exchange groups: " + TakeTlsErrorString());
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return Status::Ok();
}

}  // namespace

void SslCtxDeleter::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

std::string TakeTlsErrorString() {
  uint32_t err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return "no TLS error recorded";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof buf);
  return buf;
}

StatusOr<std::shared_ptr<TlsServerContext>> TlsServerContext::Create(const std::string& certificate_file,
                                                                      const std::string& key_file) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return Internal("SSL_CTX_new failed");
  Status s = ApplyCommonSettings(ctx.get());
  if (!s.ok()) return s;
  if (!SSL_CTX_use_certificate_chain_file(ctx.get(), certificate_file.c_str())) {
    return InvalidArgument("cannot load certificate '" + certificate_file + "': " + TakeTlsErrorString());
  }
  if (!SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM)) {
    return InvalidArgument("cannot load key '" + key_file + "': " + TakeTlsErrorString());
  }
  if (!SSL_CTX_check_private_key(ctx.get())) {
    return InvalidArgument("key '" + key_file + "' does not match certificate '" + certificate_file + "'");
  }
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);
  // Resumption: stateless tickets only (BoringSSL rotates its ticket key). No server-side session
  // cache: it would hold memory for every past session and take a lock per handshake.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  static const unsigned char kSessionContext[] = "imapgate";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  return std::shared_ptr<TlsServerContext>(new TlsServerContext(std::move(ctx)));
}

StatusOr<std::shared_ptr<TlsClientContext>> TlsClientContext::Create(const std::string& ca_file, bool verify) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return Internal("SSL_CTX_new failed");
  Status s = ApplyCommonSettings(ctx.get());
  if (!s.ok()) return s;
  if (verify) {
    int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                             : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
    if (!ok) return InvalidArgument("cannot load CA file '" + ca_file + "': " + TakeTlsErrorString());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return std::shared_ptr<TlsClientContext>(new TlsClientContext(std::move(ctx), verify));
}

}  // namespace imapgate::tls
