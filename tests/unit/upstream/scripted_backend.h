// ScriptedBackend: a unit-test fixture that plays an IMAP backend with canned lines. Real
// backends (Dovecot) are exercised by the integration tests; this one exists to produce the
// faults and byte sequences a real server will not (PREAUTH, HTTP, silence, injected bytes).
//
// It listens on 127.0.0.1:0, accepts one connection on its own thread and runs a script with
// blocking I/O (every read has a 5 s timeout, so a broken test fails instead of hanging). The
// script may switch the connection to TLS (StartTls) with a BoringSSL server.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "net/socket.h"

namespace imapgate::upstream {

class ScriptedBackend {
 public:
  // The accepted connection, as the script sees it.
  class Conn {
   public:
    explicit Conn(int fd) : fd_(fd) {}
    ~Conn() {
      ssl_.reset();
      close(fd_);
    }

    void Send(std::string_view bytes) {
      if (ssl_) {
        EXPECT_EQ(SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())),
                  static_cast<int>(bytes.size()));
      } else {
        EXPECT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(bytes.size()));
      }
    }

    // The next line, with its CRLF; "" on EOF or timeout.
    std::string ReadLine() {
      for (;;) {
        size_t nl = buffer_.find('\n');
        if (nl != std::string::npos) {
          std::string line = buffer_.substr(0, nl + 1);
          buffer_.erase(0, nl + 1);
          return line;
        }
        if (!Fill()) return "";
      }
    }

    // The next `n` lines, concatenated.
    std::string ReadLines(int n) {
      std::string out;
      for (int i = 0; i < n; ++i) out += ReadLine();
      return out;
    }

    // True if the client sends nothing within `wait` (it is waiting for us).
    bool Quiet(std::chrono::milliseconds wait) {
      if (!buffer_.empty()) return false;
      if (ssl_ && SSL_pending(ssl_.get()) > 0) return false;
      pollfd p{fd_, POLLIN, 0};
      return poll(&p, 1, static_cast<int>(wait.count())) == 0;
    }

    // Reads until the client closes (or the timeout); returns everything it sent meanwhile.
    std::string ReadUntilClose() {
      while (Fill()) {
      }
      return std::exchange(buffer_, std::string());
    }

    // Server side of a TLS handshake on this connection. Unread plaintext is dropped.
    bool StartTls(ssl_ctx_st* ctx) {
      buffer_.clear();
      ssl_.reset(SSL_new(ctx));
      SSL_set_fd(ssl_.get(), fd_);
      return SSL_accept(ssl_.get()) == 1;
    }

   private:
    bool Fill() {
      char buf[4096];
      ssize_t n = ssl_ ? SSL_read(ssl_.get(), buf, sizeof buf) : recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      buffer_.append(buf, static_cast<size_t>(n));
      return true;
    }

    int fd_;
    bssl::UniquePtr<SSL> ssl_;
    std::string buffer_;
  };

  ScriptedBackend() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~ScriptedBackend() {
    Join();
    close(listen_fd_);
  }

  uint16_t port() const { return port_; }

  // Accepts one connection on a new thread and runs `script` on it.
  void Run(std::function<void(Conn&)> script) {
    thread_ = std::thread([this, script = std::move(script)] {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) {
        ADD_FAILURE() << "scripted backend: no connection";
        return;
      }
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        ADD_FAILURE() << "scripted backend: accept failed";
        return;
      }
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Conn conn(fd);
      script(conn);
    });
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace imapgate::upstream
