// Tests for tls::TlsTransport over a non-blocking socketpair: the handshake (both ends driven in
// one thread, so every WANT_READ/WANT_WRITE is a real suspension point), data both ways, orderly
// shutdown, protocol versions, ALPN (ALPACA) and session resumption.
//
// Peers that our own transport cannot play (a TLS 1.1 client, a client offering ALPN, a client
// resuming a session) are plain BoringSSL SSL objects.

#include "tls/tls_transport.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test_certs.h"
#include "tls/tls_context.h"

namespace imapgate::tls {
namespace {

using ::imapgate::testing::GetTestCerts;
using net::IoResult;
using net::IoStatus;

// One step of a handshake: done, still waiting for the peer, or failed.
enum class Step { kDone, kWaiting, kFailed };

Step FromIo(IoResult r) {
  if (r.status == IoStatus::kOk) return Step::kDone;
  if (r.status == IoStatus::kWantRead || r.status == IoStatus::kWantWrite) return Step::kWaiting;
  return Step::kFailed;
}

Step FromSsl(SSL* ssl, int rc) {
  if (rc == 1) return Step::kDone;
  int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Step::kWaiting;
  return Step::kFailed;
}

// Runs both sides alternately until each is done or has failed (capped: a side stuck waiting for
// a peer that has given up counts as failed).
void DriveHandshake(const std::function<Step()>& server, const std::function<Step()>& client,
                    Step* server_result, Step* client_result) {
  *server_result = Step::kWaiting;
  *client_result = Step::kWaiting;
  for (int i = 0; i < 200; ++i) {
    if (*client_result == Step::kWaiting) *client_result = client();
    if (*server_result == Step::kWaiting) *server_result = server();
    if (*client_result != Step::kWaiting && *server_result != Step::kWaiting) return;
  }
  if (*server_result == Step::kWaiting) *server_result = Step::kFailed;
  if (*client_result == Step::kWaiting) *client_result = Step::kFailed;
}

// Reads from `t` until `want` bytes arrived (the peer wrote them already; TLS may need a few
// calls to assemble a record).
std::string ReadExactly(net::Transport* t, size_t want) {
  std::string got;
  char buf[4096];
  for (int i = 0; i < 100 && got.size() < want; ++i) {
    IoResult r = t->Read(buf, sizeof buf);
    if (r.status == IoStatus::kOk)
      got.append(buf, r.bytes);
    else if (r.status != IoStatus::kWantRead)
      break;
  }
  return got;
}

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& certs = GetTestCerts();
    ASSERT_TRUE(certs.ok) << certs.error;
    auto server_ctx = TlsServerContext::Create(certs.server_cert, certs.server_key);
    ASSERT_TRUE(server_ctx.ok()) << server_ctx.status().message();
    server_ctx_ = std::move(*server_ctx);
    auto client_ctx = TlsClientContext::Create(certs.ca_cert, /*verify=*/true);
    ASSERT_TRUE(client_ctx.ok()) << client_ctx.status().message();
    client_ctx_ = std::move(*client_ctx);
  }

  // A fresh non-blocking socketpair: fds_[0] for the server, fds_[1] for the client.
  void NewPair() {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds_), 0);
  }

  TlsTransportPtr NewServer() {
    auto t = NewServerTransport(*server_ctx_, fds_[0]);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? std::move(*t) : nullptr;
  }

  void TearDown() override {
    for (int fd : raw_client_fds_) close(fd);
  }

  // A BoringSSL client on fds_[1]. SSL_set_fd does not take the fd: TearDown closes it.
  bssl::UniquePtr<SSL> NewRawClient(SSL_CTX* ctx) {
    raw_client_fds_.push_back(fds_[1]);
    bssl::UniquePtr<SSL> ssl(SSL_new(ctx));
    SSL_set_fd(ssl.get(), fds_[1]);
    SSL_set_connect_state(ssl.get());
    return ssl;
  }

  static bssl::UniquePtr<SSL_CTX> NewRawClientCtx() {
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }

  // Handshakes our server transport with a raw client; returns both results.
  void HandshakeRaw(TlsTransport* server, SSL* client, Step* s, Step* c) {
    DriveHandshake([&] { return FromIo(server->Handshake()); },
                   [&] { return FromSsl(client, SSL_do_handshake(client)); }, s, c);
  }

  std::shared_ptr<TlsServerContext> server_ctx_;
  std::shared_ptr<TlsClientContext> client_ctx_;
  int fds_[2] = {-1, -1};
  std::vector<int> raw_client_fds_;
};

TEST_F(TlsTransportTest, HandshakeNegotiatesTls13AndCarriesDataBothWays) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto client_or = NewClientTransport(*client_ctx_, fds_[1], "localhost");
  ASSERT_TRUE(client_or.ok()) << client_or.status().message();
  TlsTransportPtr client = std::move(*client_or);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->ProtocolName(), "none");  // before the handshake

  Step s, c;
  DriveHandshake([&] { return FromIo(server->Handshake()); },
                 [&] { return FromIo(client->Handshake()); }, &s, &c);
  ASSERT_EQ(s, Step::kDone) << server->failure_reason();
  ASSERT_EQ(c, Step::kDone) << client->failure_reason();
  EXPECT_EQ(server->ProtocolName(), "TLSv1.3");
  EXPECT_EQ(client->ProtocolName(), "TLSv1.3");
  EXPECT_EQ(server->VersionLabel(), "tls1_3");
  EXPECT_EQ(server->failure_kind(), HandshakeFailure::kNone);
  EXPECT_EQ(server->SelectedAlpn(), "");  // our client offers no ALPN
  EXPECT_FALSE(server->SessionReused());

  // Nothing to read yet: a suspension point, not an error.
  char buf[64];
  EXPECT_EQ(server->Read(buf, sizeof buf).status, IoStatus::kWantRead);

  const std::string hello = "a1 NOOP\r\n";
  IoResult w = client->Write(hello.data(), hello.size());
  ASSERT_EQ(w.status, IoStatus::kOk);
  EXPECT_EQ(w.bytes, hello.size());
  EXPECT_EQ(ReadExactly(server.get(), hello.size()), hello);

  const std::string answer = "a1 OK NOOP completed\r\n";
  w = server->Write(answer.data(), answer.size());
  ASSERT_EQ(w.status, IoStatus::kOk);
  EXPECT_EQ(ReadExactly(client.get(), answer.size()), answer);
}

TEST_F(TlsTransportTest, ShutdownWriteGivesThePeerEof) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto client = NewClientTransport(*client_ctx_, fds_[1], "localhost");
  ASSERT_TRUE(client.ok());
  Step s, c;
  DriveHandshake([&] { return FromIo(server->Handshake()); },
                 [&] { return FromIo((*client)->Handshake()); }, &s, &c);
  ASSERT_EQ(s, Step::kDone);
  ASSERT_EQ(c, Step::kDone);

  EXPECT_EQ((*client)->ShutdownWrite().status, IoStatus::kOk);
  char buf[64];
  IoResult r{IoStatus::kWantRead};
  for (int i = 0; i < 10 && r.status == IoStatus::kWantRead; ++i) r = server->Read(buf, sizeof buf);
  EXPECT_EQ(r.status, IoStatus::kEof);
}

TEST_F(TlsTransportTest, ClientRejectsCertificateForAnotherName) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto client = NewClientTransport(*client_ctx_, fds_[1], "imap.example.com");
  ASSERT_TRUE(client.ok());
  Step s, c;
  DriveHandshake([&] { return FromIo(server->Handshake()); },
                 [&] { return FromIo((*client)->Handshake()); }, &s, &c);
  EXPECT_EQ(c, Step::kFailed);
  EXPECT_FALSE((*client)->failure_reason().empty());
  EXPECT_EQ(s, Step::kFailed);
}

TEST_F(TlsTransportTest, ClientAcceptsCertificateForItsIpAddress) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto client = NewClientTransport(*client_ctx_, fds_[1], "127.0.0.1");
  ASSERT_TRUE(client.ok());
  Step s, c;
  DriveHandshake([&] { return FromIo(server->Handshake()); },
                 [&] { return FromIo((*client)->Handshake()); }, &s, &c);
  EXPECT_EQ(c, Step::kDone) << (*client)->failure_reason();
  EXPECT_EQ(s, Step::kDone) << server->failure_reason();
}

TEST_F(TlsTransportTest, Tls11ClientIsRefused) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto ctx = NewRawClientCtx();
  ASSERT_TRUE(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION));
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_1_VERSION));
  auto client = NewRawClient(ctx.get());
  Step s, c;
  HandshakeRaw(server.get(), client.get(), &s, &c);
  EXPECT_EQ(s, Step::kFailed);
  EXPECT_EQ(c, Step::kFailed);
  EXPECT_FALSE(server->failure_reason().empty());
  EXPECT_EQ(server->ProtocolName(), "none");
  EXPECT_EQ(server->failure_kind(), HandshakeFailure::kProtocolVersion) << server->failure_reason();
  EXPECT_EQ(server->VersionLabel(), "unknown");
}

TEST_F(TlsTransportTest, ClientWithoutASharedCipherIsClassifiedAsSuch) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto ctx = NewRawClientCtx();
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION));
  ASSERT_TRUE(SSL_CTX_set_strict_cipher_list(ctx.get(), "AES128-SHA"));  // CBC, RSA key exchange
  auto client = NewRawClient(ctx.get());
  Step s, c;
  HandshakeRaw(server.get(), client.get(), &s, &c);
  EXPECT_EQ(s, Step::kFailed);
  EXPECT_EQ(server->failure_kind(), HandshakeFailure::kNoSharedCipher) << server->failure_reason();
}

TEST_F(TlsTransportTest, Tls12ClientIsAccepted) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto ctx = NewRawClientCtx();
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION));
  auto client = NewRawClient(ctx.get());
  Step s, c;
  HandshakeRaw(server.get(), client.get(), &s, &c);
  ASSERT_EQ(s, Step::kDone) << server->failure_reason();
  EXPECT_EQ(server->ProtocolName(), "TLSv1.2");
  EXPECT_EQ(server->VersionLabel(), "tls1_2");
}

TEST_F(TlsTransportTest, AlpnWithoutImapIsRefusedWithNoApplicationProtocol) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto ctx = NewRawClientCtx();
  static const uint8_t kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  ASSERT_EQ(SSL_CTX_set_alpn_protos(ctx.get(), kHttp11, sizeof kHttp11), 0);
  auto client = NewRawClient(ctx.get());
  int client_reason = 0;
  Step s, c;
  DriveHandshake([&] { return FromIo(server->Handshake()); },
                 [&] {
                   ERR_clear_error();
                   Step step = FromSsl(client.get(), SSL_do_handshake(client.get()));
                   if (step == Step::kFailed) client_reason = ERR_GET_REASON(ERR_peek_last_error());
                   return step;
                 },
                 &s, &c);
  EXPECT_EQ(s, Step::kFailed);
  ASSERT_EQ(c, Step::kFailed);
  // The client saw the server's alert (ALPACA: RFC 7301 no_application_protocol).
  EXPECT_EQ(client_reason, SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
  EXPECT_EQ(server->failure_kind(), HandshakeFailure::kAlpn) << server->failure_reason();
}

TEST_F(TlsTransportTest, AlpnOfferingImapSelectsImap) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto ctx = NewRawClientCtx();
  static const uint8_t kProtos[] = {8,   'h', 't', 't', 'p', '/', '1',
                                    '.', '1', 4,   'i', 'm', 'a', 'p'};
  ASSERT_EQ(SSL_CTX_set_alpn_protos(ctx.get(), kProtos, sizeof kProtos), 0);
  auto client = NewRawClient(ctx.get());
  Step s, c;
  HandshakeRaw(server.get(), client.get(), &s, &c);
  ASSERT_EQ(s, Step::kDone) << server->failure_reason();
  ASSERT_EQ(c, Step::kDone);
  EXPECT_EQ(server->SelectedAlpn(), "imap");
}

TEST_F(TlsTransportTest, NoAlpnIsTolerated) {
  NewPair();
  TlsTransportPtr server = NewServer();
  auto ctx = NewRawClientCtx();
  auto client = NewRawClient(ctx.get());
  Step s, c;
  HandshakeRaw(server.get(), client.get(), &s, &c);
  ASSERT_EQ(s, Step::kDone) << server->failure_reason();
  EXPECT_EQ(c, Step::kDone);
  EXPECT_EQ(server->SelectedAlpn(), "");
}

// Collects the sessions (tickets) a client receives.
std::vector<bssl::UniquePtr<SSL_SESSION>>* g_sessions = nullptr;
int KeepSession(SSL*, SSL_SESSION* session) {
  g_sessions->emplace_back(session);
  return 1;  // we took the reference
}

TEST_F(TlsTransportTest, SecondHandshakeResumesWithTheTicket) {
  std::vector<bssl::UniquePtr<SSL_SESSION>> sessions;
  g_sessions = &sessions;
  auto ctx = NewRawClientCtx();
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
  SSL_CTX_sess_set_new_cb(ctx.get(), KeepSession);

  {
    NewPair();
    TlsTransportPtr server = NewServer();
    auto client = NewRawClient(ctx.get());
    Step s, c;
    HandshakeRaw(server.get(), client.get(), &s, &c);
    ASSERT_EQ(s, Step::kDone) << server->failure_reason();
    ASSERT_EQ(c, Step::kDone);
    EXPECT_FALSE(server->SessionReused());
    // TLS 1.3 tickets follow the handshake, and this BoringSSL sends them with the server's first
    // write (the greeting, for imapgate): one read on the client processes them.
    const std::string greeting = "* OK ready\r\n";
    ASSERT_EQ(server->Write(greeting.data(), greeting.size()).status, IoStatus::kOk);
    char buf[64];
    EXPECT_EQ(SSL_read(client.get(), buf, sizeof buf), static_cast<int>(greeting.size()));
    ASSERT_FALSE(sessions.empty()) << "the server sent no session ticket";
  }

  NewPair();
  TlsTransportPtr server = NewServer();
  auto client = NewRawClient(ctx.get());
  ASSERT_TRUE(SSL_set_session(client.get(), sessions.back().get()));
  Step s, c;
  HandshakeRaw(server.get(), client.get(), &s, &c);
  ASSERT_EQ(s, Step::kDone) << server->failure_reason();
  ASSERT_EQ(c, Step::kDone);
  EXPECT_TRUE(server->SessionReused());
  EXPECT_TRUE(SSL_session_reused(client.get()));
  EXPECT_EQ(server->VersionLabel(), "tls1_3");
  g_sessions = nullptr;
}

TEST_F(TlsTransportTest, ReleaseFdIsRefusedByTls) {
  NewPair();
  TlsTransportPtr server = NewServer();
  close(fds_[1]);
  EXPECT_EQ(server->ReleaseFd(), -1);  // a TLS transport cannot be unwrapped
}

TEST_F(TlsTransportTest, PeerClosingDuringHandshakeIsReported) {
  NewPair();
  TlsTransportPtr server = NewServer();
  close(fds_[1]);
  IoResult r = server->Handshake();
  EXPECT_TRUE(r.status == IoStatus::kEof || r.status == IoStatus::kError);
  EXPECT_FALSE(server->failure_reason().empty());
  EXPECT_EQ(server->failure_kind(), HandshakeFailure::kClosed);
}

TEST(TlsErrorClassTest, EachReasonLandsInItsClass) {
  auto ssl = [](int reason) { return static_cast<uint32_t>(ERR_PACK(ERR_LIB_SSL, reason)); };
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_NO_SHARED_CIPHER), ""), HandshakeFailure::kNoSharedCipher);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_NO_SHARED_GROUP), ""), HandshakeFailure::kNoSharedCipher);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_UNSUPPORTED_PROTOCOL), ""), HandshakeFailure::kProtocolVersion);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_TLSV1_ALERT_PROTOCOL_VERSION), ""), HandshakeFailure::kProtocolVersion);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_NO_APPLICATION_PROTOCOL), ""), HandshakeFailure::kAlpn);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_TLSV1_ALERT_UNRECOGNIZED_NAME), ""), HandshakeFailure::kSni);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_ERROR_PARSING_EXTENSION), "extension 0"), HandshakeFailure::kSni);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_ERROR_PARSING_EXTENSION), "extension 16"), HandshakeFailure::kAlpn);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_ERROR_PARSING_EXTENSION), "extension 10"), HandshakeFailure::kOther);
  EXPECT_EQ(ClassifyTlsError(ssl(SSL_R_WRONG_VERSION_NUMBER), ""), HandshakeFailure::kOther);  // not TLS
  EXPECT_EQ(ClassifyTlsError(static_cast<uint32_t>(ERR_PACK(ERR_LIB_X509, 1)), ""), HandshakeFailure::kOther);
  EXPECT_STREQ(HandshakeFailureName(HandshakeFailure::kNoSharedCipher), "no_shared_cipher");
  EXPECT_STREQ(HandshakeFailureName(HandshakeFailure::kProtocolVersion), "protocol_version");
  EXPECT_STREQ(HandshakeFailureName(HandshakeFailure::kAlpn), "alpn");
  EXPECT_STREQ(HandshakeFailureName(HandshakeFailure::kSni), "sni");
  EXPECT_STREQ(HandshakeFailureName(HandshakeFailure::kClosed), "closed");
  EXPECT_STREQ(HandshakeFailureName(HandshakeFailure::kOther), "other");
  EXPECT_STREQ(HandshakeFailureName(HandshakeFailure::kNone), "");
}

}  // namespace
}  // namespace imapgate::tls
