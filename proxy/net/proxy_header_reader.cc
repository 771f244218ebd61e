#include "net/proxy_header_reader.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include <cstring>

#include "common/secret.h"

namespace imapgate::net {

std::optional<proxyproto::Endpoint> ToEndpoint(const SocketAddress& address) {
  proxyproto::Endpoint e;
  if (address.storage.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&address.storage);
    e.ip.family = proxyproto::Family::kIPv4;
    std::memcpy(e.ip.bytes.data(), &a->sin_addr, 4);
    e.port = ntohs(a->sin_port);
    return e;
  }
  if (address.storage.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    e.ip.family = proxyproto::Family::kIPv6;
    std::memcpy(e.ip.bytes.data(), &a->sin6_addr, 16);
    e.ip = e.ip.Unmapped();
    e.port = ntohs(a->sin6_port);
    return e;
  }
  return std::nullopt;
}

SocketAddress ToSocketAddress(const proxyproto::Endpoint& endpoint) {
  SocketAddress out;
  if (endpoint.ip.family == proxyproto::Family::kIPv4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&out.storage);
    a->sin_family = AF_INET;
    std::memcpy(&a->sin_addr, endpoint.ip.bytes.data(), 4);
    a->sin_port = htons(endpoint.port);
    out.length = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out.storage);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_addr, endpoint.ip.bytes.data(), 16);
    a->sin6_port = htons(endpoint.port);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

ProxyHeaderReader::ProxyHeaderReader(int fd, const SocketAddress& peer, const ProxyHeaderOptions& options,
                                     Callback done)
    : fd_(fd), peer_(peer), parser_(options.limits), done_(std::move(done)) {}

ProxyHeaderReader::~ProxyHeaderReader() = default;

StatusOr<std::unique_ptr<ProxyHeaderReader>> ProxyHeaderReader::Start(EventLoop* loop, int fd,
                                                                      const SocketAddress& peer,
                                                                      const proxyproto::CidrList& trusted,
                                                                      const ProxyHeaderOptions& options,
                                                                      Callback done) {
  std::unique_ptr<ProxyHeaderReader> r(new ProxyHeaderReader(fd, peer, options, std::move(done)));
  ProxyHeaderReader* raw = r.get();
  auto timer = Timer::Create(loop, [raw] { raw->OnTimer(); });
  if (!timer.ok()) return timer.status();
  r->timer_ = std::move(*timer);

  auto endpoint = ToEndpoint(peer);
  if (!endpoint || !trusted.Contains(endpoint->ip)) {
    // Refused without reading a byte; reported from the loop, not from inside Start().
    ProxyHeaderResult refused;
    refused.error = "untrusted_peer";
    r->pending_ = std::move(refused);
    r->timer_->FireSoon();
    return r;
  }
  auto watcher = IoWatcher::Create(loop, fd, raw);
  if (!watcher.ok()) return watcher.status();
  r->watcher_ = std::move(*watcher);
  r->watcher_->WantRead(true);
  r->timer_->Arm(options.timeout);
  return r;
}

IoWatcherPtr ProxyHeaderReader::TakeWatcher() {
  if (!finished_) return nullptr;
  return std::move(watcher_);
}

void ProxyHeaderReader::OnIo(IoWatcher*, bool readable, bool) {
  if (finished_ || !readable) return;
  ReadHeader();
}

void ProxyHeaderReader::OnTimer() {
  if (finished_) return;
  if (pending_) {
    ProxyHeaderResult result = std::move(*pending_);
    pending_.reset();
    Finish(std::move(result));
    return;
  }
  Fail("timeout");
}

void ProxyHeaderReader::ReadHeader() {
  // Peeked bytes past the header may already hold the client's first command (a password, even):
  // the buffer is wiped before returning.
  uint8_t buf[proxyproto::kV2FixedLength + proxyproto::kV2MaxBodyCap];
  const size_t want = parser_.max_header_length() - parser_.consumed();  // > 0 while undecided
  ssize_t n;
  do {
    n = ::recv(fd_, buf, want, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    Fail("read_error");
    return;
  }
  if (n == 0) {
    Fail("closed");
    return;
  }
  const size_t before = parser_.consumed();
  const proxyproto::Result result = parser_.Feed(buf, static_cast<size_t>(n));
  SecureWipe(buf, static_cast<size_t>(n));
  if (result.outcome == proxyproto::Outcome::kInvalid) {
    Fail(proxyproto::ErrorReason(result.error));
    return;
  }
  // Every byte the parser examined is a header byte: take exactly those from the socket. While the
  // header is incomplete this empties the socket, so the level-triggered watcher waits for more.
  size_t left = parser_.consumed() - before;
  while (left > 0) {
    ssize_t m = ::recv(fd_, buf, left, MSG_DONTWAIT);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) {  // cannot happen for bytes just peeked; refuse rather than lose framing
      Fail("read_error");
      return;
    }
    left -= static_cast<size_t>(m);
  }
  if (result.outcome == proxyproto::Outcome::kDone) {
    Succeed(result.header);
  } else if (++partial_reads_ > kMaxPartialReads) {
    Fail("too_fragmented");
  }
}

void ProxyHeaderReader::Fail(std::string reason) {
  ProxyHeaderResult result;
  result.error = std::move(reason);
  Finish(std::move(result));
}

void ProxyHeaderReader::Succeed(const proxyproto::Header& header) {
  ProxyHeaderResult result;
  result.ok = true;
  result.version = header.version;
  result.header_length = header.length;
  result.local = header.local;
  if (header.local) {
    result.client = peer_;
    result.destination = LocalAddress(fd_);
  } else {
    // IPv4-mapped addresses are reported as IPv4, so that one client has one address in logs,
    // ID forwarding and per-address limits however the proxy wrote it.
    result.client = ToSocketAddress({header.source.ip.Unmapped(), header.source.port});
    result.destination = ToSocketAddress({header.destination.ip.Unmapped(), header.destination.port});
  }
  Finish(std::move(result));
}

void ProxyHeaderReader::Finish(ProxyHeaderResult result) {
  finished_ = true;
  timer_->Cancel();
  if (watcher_) {
    watcher_->WantRead(false);
    watcher_->set_handler(nullptr);
  }
  Callback done = std::move(done_);
  done_ = nullptr;
  if (done) done(result);  // last: the owner may schedule our deletion from here
}

}  // namespace imapgate::net
