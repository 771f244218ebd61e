// Test helpers for the HTTP tests: a blocking raw-socket client, and an EventLoop run on its own
// thread. Test-only; never linked into imapgate.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "net/event_loop.h"

namespace imapgate::testing {

// RawHttpReply: one reply read back by SendRaw(), split at the blank line.
struct RawHttpReply {
  int status = 0;  // 0 when the server closed without a status line
  std::string head;
  std::string body;
};

// Connects to 127.0.0.1:port, writes request as is, half-closes unless told not to (evhttp drops
// a connection it sees EOF on, even with requests queued), and reads until the server closes
// (5 s receive timeout). Blocking; call it from the test thread, never the loop's.
inline RawHttpReply SendRaw(uint16_t port, const std::string& request, bool half_close = true) {
  RawHttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return reply;
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may reply and close before reading everything
    sent += static_cast<size_t>(n);
  }
  if (half_close) shutdown(fd, SHUT_WR);
  std::string raw;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t split = raw.find("\r\n\r\n");
  reply.head = raw.substr(0, split);
  if (split != std::string::npos) reply.body = raw.substr(split + 4);
  if (raw.rfind("HTTP/1.", 0) == 0 && raw.size() > 12) reply.status = std::stoi(raw.substr(9, 3));
  return reply;
}

// A GET (or other method) of path with Connection: close.
inline RawHttpReply Request(uint16_t port, const std::string& method, const std::string& path) {
  return SendRaw(port,
                 method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 /*half_close=*/false);
}

// LoopThread: runs an EventLoop on a thread. RunOnLoop() runs fn there and waits for it; the
// destructor runs Stop() there and joins.
class LoopThread {
 public:
  explicit LoopThread(net::EventLoop* loop) : loop_(loop), thread_([loop] { loop->Run(); }) {}
  ~LoopThread() {
    loop_->Post([loop = loop_] { loop->Stop(); });
    thread_.join();
  }
  void RunOnLoop(std::function<void()> fn) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> waiter = done->get_future();
    loop_->Post([fn = std::move(fn), done] {
      fn();
      done->set_value();
    });
    waiter.wait();
  }

 private:
  net::EventLoop* loop_;
  std::thread thread_;
};

}  // namespace imapgate::testing
