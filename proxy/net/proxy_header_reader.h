// ProxyHeaderReader: the accept-time stage that reads a PROXY protocol header (v1 or v2) from a
// trusted load balancer before anything else touches the socket.
//
// Start() checks the peer against the trusted CIDR list (untrusted: refused at once, nothing
// read), then reads the header with recv(MSG_PEEK), feeds it to proxyproto::Parser and consumes
// exactly the header's bytes: whatever follows (a TLS ClientHello, an IMAP command) stays in the
// socket for the next stage. A header split in a few segments is read (bytes already examined,
// all of them header bytes, are consumed as they arrive, so a partial header never makes the
// level-triggered watcher spin); one split over more than kMaxPartialReads is refused. One
// deadline from Start() (default 3 s) bounds the whole read.
//
// The result is reported exactly once through the callback, on the loop's thread, never inside
// Start(): the client's real address, or a refusal reason (a stable lowercase token for logs and
// metrics). The reader does not own the fd. Do not destroy it inside its own callback (defer the
// deletion, as sessions do); destroying it earlier cancels it, and the callback is not called.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/socket.h"
#include "net/timer.h"
#include "proxyproto/cidr.h"
#include "proxyproto/parser.h"

namespace imapgate::net {

// Conversions between socket addresses and the PROXY protocol's endpoints. An IPv4-mapped IPv6
// socket address becomes an IPv4 endpoint. nullopt for anything that is not IPv4 or IPv6.
std::optional<proxyproto::Endpoint> ToEndpoint(const SocketAddress& address);
SocketAddress ToSocketAddress(const proxyproto::Endpoint& endpoint);

struct ProxyHeaderOptions {
  std::chrono::milliseconds timeout{3000};
  proxyproto::Limits limits;
};

struct ProxyHeaderResult {
  bool ok = false;
  // When !ok: "untrusted_peer", "timeout", "closed" (EOF before a whole header), "read_error",
  // or the parser's proxyproto::ErrorReason() ("bad_signature", "v2_too_long", ...).
  std::string error;
  // When ok: the client's address and the address it connected to (IPv4-mapped IPv6 in the
  // header is reported as IPv4). For LOCAL, UNKNOWN and
  // AF_UNSPEC headers (local = true) these are the socket's own peer and local addresses.
  SocketAddress client;
  SocketAddress destination;
  bool local = false;
  int version = 0;             // 1 or 2
  size_t header_length = 0;    // bytes consumed from the socket
};

class ProxyHeaderReader final : public IoHandler {
 public:
  // A sender writes the header at once (the spec asks it to); a header that arrives in more than
  // this many pieces is refused ("too_fragmented"), like one that trickles past the timeout.
  static constexpr int kMaxPartialReads = 4;
  using Callback = std::function<void(const ProxyHeaderResult&)>;

  // `fd` is an accepted, non-blocking socket; `peer` its peer address (from accept). `trusted`
  // is only read inside Start().
  static StatusOr<std::unique_ptr<ProxyHeaderReader>> Start(EventLoop* loop, int fd, const SocketAddress& peer,
                                                            const proxyproto::CidrList& trusted,
                                                            const ProxyHeaderOptions& options, Callback done);
  ~ProxyHeaderReader() override;
  ProxyHeaderReader(const ProxyHeaderReader&) = delete;
  ProxyHeaderReader& operator=(const ProxyHeaderReader&) = delete;

  // After completion: the socket's watcher (no handler, read interest off), for a next stage
  // that can adopt a registered watcher; null if there was none (an untrusted peer).
  IoWatcherPtr TakeWatcher();
  bool finished() const { return finished_; }

  void OnIo(IoWatcher* watcher, bool readable, bool writable) override;

 private:
  ProxyHeaderReader(int fd, const SocketAddress& peer, const ProxyHeaderOptions& options, Callback done);
  void ReadHeader();
  void Fail(std::string reason);
  void Succeed(const proxyproto::Header& header);
  void Finish(ProxyHeaderResult result);
  void OnTimer();

  int fd_;
  SocketAddress peer_;
  proxyproto::Parser parser_;
  Callback done_;
  IoWatcherPtr watcher_;
  TimerPtr timer_;
  std::optional<ProxyHeaderResult> pending_;  // a result decided inside Start(), reported from the timer
  int partial_reads_ = 0;  // reads that left the header incomplete
  bool finished_ = false;
};

}  // namespace imapgate::net
