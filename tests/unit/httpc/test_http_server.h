// TestHttpServer: a tiny scripted HTTP server on its own thread (one thread per connection),
// for the HttpClient tests. Listens on 127.0.0.1 (port picked by the kernel) or a UNIX socket.
// For each request read (head plus Content-Length body) it asks the handler for a Reply: raw
// bytes to send, then keep the connection, close it, or send nothing and wait for the client to
// close ("hang"). It counts connections and records which ones the client closed. With
// set_tls(), every connection is TLS (BoringSSL, blocking, on the connection's thread).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>

namespace imapgate::testing {

class TestHttpServer {
 public:
  struct Reply {
    std::string bytes;
    bool close_after = false;  // close right after sending
    bool hang = false;         // send `bytes` (maybe empty), then wait for the client to close
  };
  // request: the raw request head and body; conn: 0-based connection index; nth: 0-based
  // request index on that connection.
  using Handler = std::function<Reply(const std::string& request, int conn, int nth)>;

  explicit TestHttpServer(Handler handler) : handler_(std::move(handler)) {}
  ~TestHttpServer() { Stop(); }

  bool StartTcp() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) return false;
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { AcceptLoop(); });
    return true;
  }

  bool StartUnix(const std::string& path) {
    ::unlink(path.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) return false;
    unix_path_ = path;
    thread_ = std::thread([this] { AcceptLoop(); });
    return true;
  }

  void Stop() {
    if (stop_.exchange(true)) return;
    if (thread_.joinable()) thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
    if (fd_ >= 0) ::close(fd_);
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  }

  // Serves TLS with `ctx` (borrowed; must outlive the server). Call before Start*.
  void set_tls(SSL_CTX* ctx) { tls_ = ctx; }

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // Whether the client closed connection `conn` (waits up to `wait` for it).
  bool ClientClosed(int conn, std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    auto end = std::chrono::steady_clock::now() + wait;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (int c : client_closed_) {
          if (c == conn) return true;
        }
      }
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      int index = connections_++;
      std::lock_guard<std::mutex> lock(mu_);
      conn_threads_.emplace_back([this, c, index] { Serve(c, index); });
    }
  }

  // Reads some bytes into buf; false on EOF, error or stop.
  bool ReadMore(int c, SSL* ssl, std::string* buf) {
    while (!stop_) {
      if (ssl == nullptr || SSL_pending(ssl) == 0) {
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
      }
      char tmp[4096];
      ssize_t n = ssl ? SSL_read(ssl, tmp, sizeof tmp) : ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf->append(tmp, static_cast<size_t>(n));
      return true;
    }
    return false;
  }

  void Serve(int c, int index) {
    SSL* ssl = nullptr;
    if (tls_ != nullptr) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ::close(c);
        return;
      }
    }
    ServeOn(c, ssl, index);
    if (ssl) SSL_free(ssl);
    ::close(c);
  }

  void MarkClosed(int index) {
    std::lock_guard<std::mutex> lock(mu_);
    client_closed_.push_back(index);
  }

  void ServeOn(int c, SSL* ssl, int index) {
    std::string buf;
    for (int nth = 0;; ++nth) {
      size_t head_end;
      while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadMore(c, ssl, &buf)) {
          if (!stop_) MarkClosed(index);
          return;
        }
      }
      size_t body = 0;
      std::string head = buf.substr(0, head_end);
      size_t cl = head.find("Content-Length: ");
      if (cl != std::string::npos) body = std::stoul(head.substr(cl + 16));
      while (buf.size() < head_end + 4 + body) {
        if (!ReadMore(c, ssl, &buf)) {
          if (!stop_) MarkClosed(index);
          return;
        }
      }
      std::string request = buf.substr(0, head_end + 4 + body);
      buf.erase(0, request.size());
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      Reply r = handler_(request, index, nth);
      if (!r.bytes.empty()) {
        if (ssl) {
          SSL_write(ssl, r.bytes.data(), static_cast<int>(r.bytes.size()));
        } else {
          ::send(c, r.bytes.data(), r.bytes.size(), MSG_NOSIGNAL);
        }
      }
      if (r.close_after) return;
      if (r.hang) {
        std::string ignored;
        while (ReadMore(c, ssl, &ignored)) {
        }
        if (!stop_) MarkClosed(index);
        return;
      }
    }
  }

  Handler handler_;
  SSL_CTX* tls_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string unix_path_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> conn_threads_;
  std::vector<std::string> requests_;
  std::vector<int> client_closed_;
};

}  // namespace imapgate::testing
