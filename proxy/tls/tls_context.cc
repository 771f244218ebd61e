#include "tls/tls_context.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "net/socket.h"

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

enum class PemContent { kCertificate, kPrivateKey };

// Why `path` cannot be the PEM file of `want`, in plain words ("file not found", "not a PEM
// file", "no certificate in it (it holds a PRIVATE KEY)"), or "" when the file looks right and
// the problem is elsewhere. Reads at most kMaxPemBytes.
std::string DescribePemProblem(const std::string& path, PemContent want) {
  constexpr size_t kMaxPemBytes = 1 << 20;
  const net::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return "file not found";
    if (errno == EACCES) return "file not readable (permission denied)";
    return std::string("cannot open the file: ") + std::strerror(errno);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) return "is a directory, not a file";
  std::string text;
  char buffer[16384];
  int read_error = 0;
  while (text.size() <= kMaxPemBytes) {
    const ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_error = errno;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  if (read_error != 0) return std::string("cannot read the file: ") + std::strerror(read_error);
  if (text.size() > kMaxPemBytes) return "file is larger than 1 MiB: not a PEM file";
  if (text.empty()) return "file is empty";
  if (text.find("-----BEGIN ") == std::string::npos) {
    if (static_cast<unsigned char>(text[0]) == 0x30) {
      return "not a PEM file (it looks like binary DER; convert it to PEM)";
    }
    return "not a PEM file (no '-----BEGIN' line)";
  }
  // The labels of the PEM blocks present, for "it holds ..." hints.
  std::string labels;
  for (size_t at = text.find("-----BEGIN "); at != std::string::npos;
       at = text.find("-----BEGIN ", at + 1)) {
    const size_t start = at + 11;
    const size_t end = text.find("-----", start);
    if (end == std::string::npos || end - start > 40) continue;
    const std::string label = text.substr(start, end - start);
    if (labels.find("'" + label + "'") != std::string::npos) continue;
    labels += (labels.empty() ? "'" : ", '") + label + "'";
  }
  if (want == PemContent::kCertificate) {
    if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return "no certificate in it (it holds " + labels + ")";
    }
    return "";
  }
  if (text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
      text.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
    return "the private key is protected by a passphrase; imapgate needs it unencrypted";
  }
  if (text.find("PRIVATE KEY-----") == std::string::npos) {
    return "no private key in it (it holds " + labels + ")";
  }
  return "";
}

// BoringSSL's reason for the last error in words ("bad base64 decode"), without its library
// and code prefix; clears the queue.
std::string TakeTlsReason() {
  const uint32_t err = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = err != 0 ? ERR_reason_error_string(err) : nullptr;
  if (reason == nullptr) return "unknown error";
  std::string text(reason);
  for (char& c : text) {
    if (c == '_') c = ' ';
    else if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// Why loading `path` failed: the file's own problem if it has one, else BoringSSL's reason.
std::string ExplainLoadFailure(const std::string& path, PemContent want) {
  std::string problem = DescribePemProblem(path, want);
  if (problem.empty()) return "cannot be parsed (" + TakeTlsReason() + ")";
  ERR_clear_error();
  return problem;
}

// "Jan  1 00:00:00 2021 GMT".
std::string FormatAsn1Time(const ASN1_TIME* time) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!bio || !ASN1_TIME_print(bio.get(), time) || !BIO_mem_contents(bio.get(), &data, &len)) {
    return "an unknown date";
  }
  return std::string(reinterpret_cast<const char*>(data), len);
}

// `time` in seconds since the Unix epoch, or 0 when it cannot be converted.
int64_t UnixSecondsOf(const ASN1_TIME* time) {
  bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (!epoch || time == nullptr || !ASN1_TIME_diff(&days, &seconds, epoch.get(), time)) {
    ERR_clear_error();
    return 0;
  }
  return static_cast<int64_t>(days) * 86400 + seconds;
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
  return Create(certificate_file, key_file, std::time(nullptr));
}

StatusOr<std::shared_ptr<TlsServerContext>> TlsServerContext::Create(const std::string& certificate_file,
                                                                      const std::string& key_file,
                                                                      time_t now) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return Internal("SSL_CTX_new failed");
  Status s = ApplyCommonSettings(ctx.get());
  if (!s.ok()) return s;
  const std::string cert_name = "certificate '" + certificate_file + "': ";
  if (!SSL_CTX_use_certificate_chain_file(ctx.get(), certificate_file.c_str())) {
    return InvalidArgument(cert_name + ExplainLoadFailure(certificate_file, PemContent::kCertificate));
  }
  int64_t not_after_seconds = 0;
  if (X509* leaf = SSL_CTX_get0_certificate(ctx.get())) {
    const ASN1_TIME* not_after = X509_get0_notAfter(leaf);
    not_after_seconds = UnixSecondsOf(not_after);
    if (not_after != nullptr && X509_cmp_time(not_after, &now) < 0) {
      return InvalidArgument(cert_name + "expired on " + FormatAsn1Time(not_after));
    }
  }
  if (!SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM)) {
    const uint32_t err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_X509 && ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return InvalidArgument("key '" + key_file + "': does not match the certificate '" +
                             certificate_file + "'");
    }
    return InvalidArgument("key '" + key_file + "': " + ExplainLoadFailure(key_file, PemContent::kPrivateKey));
  }
  if (!SSL_CTX_check_private_key(ctx.get())) {
    ERR_clear_error();
    return InvalidArgument("key '" + key_file + "': does not match the certificate '" +
                           certificate_file + "'");
  }
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);
  // Resumption: stateless tickets only (BoringSSL rotates its ticket key). No server-side session
  // cache: it would hold memory for every past session and take a lock per handshake.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  static const unsigned char kSessionContext[] = "imapgate";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  return std::shared_ptr<TlsServerContext>(new TlsServerContext(std::move(ctx), not_after_seconds));
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
    if (!ok && ca_file.empty()) {
      return InvalidArgument("cannot load the system's CA certificates (" + TakeTlsReason() + ")");
    }
    if (!ok) {
      return InvalidArgument("CA file '" + ca_file + "': " +
                             ExplainLoadFailure(ca_file, PemContent::kCertificate));
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return std::shared_ptr<TlsClientContext>(new TlsClientContext(std::move(ctx), verify));
}

}  // namespace imapgate::tls
