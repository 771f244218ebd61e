// Test fixture for frontend::ClientFrontend: the frontend gets one end of a socketpair, the test
// plays the client on the other end (plaintext, or TLS through a BoringSSL client), and a
// recording FrontendDelegate stands in for the Session. The event loop runs only inside Pump*,
// one non-blocking turn at a time, so the test decides when the frontend may move.
#pragma once

#include <event2/event.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "frontend/client_frontend.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "test_certs.h"
#include "tls/tls_context.h"

namespace imapgate::frontend {

// Records every delegate call. It never calls back into the frontend: the tests answer a login
// request later, from the test body, as the Session does from a later callback.
class RecordingDelegate : public FrontendDelegate {
 public:
  void OnLoginRequested(LoginRequest request) override { logins.push_back(std::move(request)); }
  void OnTlsHandshake(const stats::Metrics::TlsHandshakeEvent& e) override {
    ++(e.ok ? handshakes_ok : handshakes_failed);
    tls_events.push_back({e.ok, std::string(e.version), std::string(e.failure), e.resumed, e.starttls});
  }
  void OnFrontendEnded(FrontendEnd end) override {
    ended = end;
    ++ended_calls;
  }
  void OnCleartextLoginRefused() override { ++cleartext_refused; }
  void OnLoginContinuation(SecretString response) override {
    continuations.push_back(std::string(response.view()));
  }

  std::vector<LoginRequest> logins;
  std::vector<std::string> continuations;  // answers to SendContinuation
  int handshakes_ok = 0;
  int handshakes_failed = 0;
  // Every OnTlsHandshake, its views copied.
  struct TlsEvent {
    bool ok;
    std::string version;
    std::string failure;
    bool resumed;
    bool starttls;
  };
  std::vector<TlsEvent> tls_events;
  std::optional<FrontendEnd> ended;
  int ended_calls = 0;
  int cleartext_refused = 0;
};

class ClientFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status().message();
    loop_ = std::move(*loop);
    const auto& certs = testing::GetTestCerts();
    ASSERT_TRUE(certs.ok) << certs.error;
    auto ctx = tls::TlsServerContext::Create(certs.server_cert, certs.server_key);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    server_ctx_ = std::move(*ctx);
    options_.tls = server_ctx_.get();
  }

  void TearDown() override {
    ssl_.reset();
    frontend_.reset();
  }

  // Creates and starts the frontend on a fresh socketpair. sndbuf > 0 shrinks the frontend's
  // socket send buffer (to make its writes return EAGAIN).
  void StartFrontend(bool implicit_tls, int sndbuf = 0) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    if (sndbuf > 0) {
      ASSERT_EQ(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    }
    peer_.reset(fds[1]);
    options_.implicit_tls = implicit_tls;
    auto f = ClientFrontend::Create(loop_.get(), net::UniqueFd(fds[0]), options_, &delegate_,
                                    scratch_.data(), scratch_.size());
    ASSERT_TRUE(f.ok()) << f.status().message();
    frontend_ = std::move(*f);
    frontend_->Start();
  }

  // One non-blocking turn of the loop.
  void PumpOnce() { event_base_loop(loop_->base(), EVLOOP_NONBLOCK); }

  // Turns the loop (reading whatever the frontend sends) until done() or about 3 s.
  bool PumpUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (int i = 0; i < 100000; ++i) {
      if (done()) return true;
      if (std::chrono::steady_clock::now() > deadline) break;
      PumpOnce();
      ReadAvailable();
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return done();
  }

  // Turns the loop without reading as the client, until done() or about 3 s.
  bool PumpWithoutReadingUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      PumpOnce();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return done();
  }

  // Turns the loop a few times (to show that something does NOT happen).
  void PumpFor(std::chrono::milliseconds duration) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < deadline) {
      PumpOnce();
      ReadAvailable();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // Reads what is available on the client end into received_ (through TLS when active).
  void ReadAvailable() {
    char buf[4096];
    for (;;) {
      if (ssl_) {
        int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n > 0) {
          received_.append(buf, n);
          continue;
        }
        int err = SSL_get_error(ssl_.get(), n);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) peer_eof_ = true;
        return;
      }
      ssize_t n = recv(peer_.get(), buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, n);
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) peer_eof_ = true;
      return;
    }
  }

  // Sends bytes as the client, in one write (one TLS record when TLS is active).
  void Send(std::string_view bytes) {
    if (ssl_) {
      ASSERT_EQ(SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())),
                static_cast<int>(bytes.size()));
      return;
    }
    ASSERT_EQ(send(peer_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // Pumps until `needle` has been received (anywhere in received_).
  bool Receive(std::string_view needle) {
    return PumpUntil([&] { return received_.find(needle) != std::string::npos; });
  }
  bool Received(std::string_view needle) const {
    return received_.find(needle) != std::string::npos;
  }
  // Returns and clears what has been received so far.
  std::string TakeReceived() { return std::exchange(received_, std::string()); }

  bool WaitEnded() {
    return PumpUntil([&] { return delegate_.ended.has_value(); });
  }
  bool WaitPeerEof() {
    return PumpUntil([&] { return peer_eof_; });
  }
  bool WaitLogin(size_t count = 1) {
    return PumpUntil([&] { return delegate_.logins.size() >= count; });
  }

  // Runs a TLS handshake as the client (verifying the test CA and "localhost").
  bool ClientHandshake() {
    client_ctx_.reset(SSL_CTX_new(TLS_method()));
    const auto& certs = testing::GetTestCerts();
    if (!SSL_CTX_load_verify_locations(client_ctx_.get(), certs.ca_cert.c_str(), nullptr))
      return false;
    SSL_CTX_set_verify(client_ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(client_ctx_.get()));
    SSL_set_fd(ssl_.get(), peer_.get());
    SSL_set_connect_state(ssl_.get());
    SSL_set_tlsext_host_name(ssl_.get(), "localhost");
    SSL_set1_host(ssl_.get(), "localhost");
    bool failed = false;
    bool done = PumpUntil([&] {
      if (failed) return true;
      int rc = SSL_do_handshake(ssl_.get());
      if (rc == 1) return true;
      int err = SSL_get_error(ssl_.get(), rc);
      failed = err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
      return failed;
    });
    return done && !failed;
  }

  // Implicit TLS: starts the frontend, handshakes and reads the greeting.
  void StartImplicitTls() {
    StartFrontend(/*implicit_tls=*/true);
    ASSERT_TRUE(ClientHandshake());
    ASSERT_TRUE(Receive("imapgate ready\r\n")) << received_;
    TakeReceived();
  }

  std::unique_ptr<net::EventLoop> loop_;
  std::shared_ptr<tls::TlsServerContext> server_ctx_;
  FrontendOptions options_;
  RecordingDelegate delegate_;
  std::vector<char> scratch_ = std::vector<char>(65536);
  ClientFrontendPtr frontend_;
  net::UniqueFd peer_;  // the client's end of the socketpair
  bssl::UniquePtr<SSL_CTX> client_ctx_;
  bssl::UniquePtr<SSL> ssl_;  // the client's TLS, once a handshake started (does not own peer_)
  std::string received_;
  bool peer_eof_ = false;
};

}  // namespace imapgate::frontend
