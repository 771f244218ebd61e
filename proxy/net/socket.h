// Socket helpers: an owning fd, resolved addresses, non-blocking listen/accept/connect.
//
// Everything here is plain POSIX. ResolveAddress may block (getaddrinfo) and is only called at
// start-up or reload, never on a worker's loop.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>

#include "common/status.h"

namespace imapgate::net {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A resolved socket address (IPv4 or IPv6).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  // "1.2.3.4:993" or "[::1]:993".
  std::string ToString() const;
  // "1.2.3.4" or "::1" (no brackets, no port); empty if not an IP address.
  std::string Host() const;
  // The port, or 0 if not an IP address.
  uint16_t Port() const;
};

// Resolves host (IP literal or name) and port to the first address. May block.
StatusOr<SocketAddress> ResolveAddress(const std::string& host, uint16_t port);

// A non-blocking, close-on-exec listening socket. With reuse_port, several sockets can each bind
// the same address (SO_REUSEPORT), even from another process of the same user: imapgate's own
// listeners never set it, so a second process on the same address fails (EADDRINUSE). TCP_NODELAY
// is set on the listening socket; Linux copies it to every accepted socket, which saves a
// setsockopt per connection.
StatusOr<UniqueFd> ListenOn(const SocketAddress& address, bool reuse_port, int backlog = 1024);

// Whether `address` could be bound now: binds a fresh socket (SO_REUSEADDR, as ListenOn) and
// closes it without listening. Returns 0, or bind's errno (EADDRINUSE: another socket listens
// there; EADDRNOTAVAIL: not an address of this host; EACCES: a privileged port).
int ProbeBind(const SocketAddress& address);

// Starts a non-blocking connect. The fd becomes writable when the connect completes; then check
// TakeSocketError().
StatusOr<UniqueFd> StartConnect(const SocketAddress& address);

// Returns and clears SO_ERROR (0 when the connect succeeded).
int TakeSocketError(int fd);

// Local and peer address of a connected socket.
SocketAddress LocalAddress(int fd);
// True when the peer of the connected TCP socket `fd` has closed its side (FIN or reset), whether
// or not unread bytes remain (poll's POLLRDHUP): a client gone while its login waits.
bool PeerHasHungUp(int fd);
SocketAddress PeerAddress(int fd);

// Sets TCP_NODELAY (interactive protocol: no Nagle delay).
void SetNoDelay(int fd);

// Sets TCP_NOTSENT_LOWAT: the kernel takes at most `bytes` of not-yet-sent data before writes
// return EAGAIN and writability waits for it to drain (0: the system default). Set on a
// listening socket, Linux copies it to every accepted socket. No effect on non-TCP sockets.
void SetNotSentLowWatermark(int fd, unsigned bytes);

// True if at least one byte is waiting in the kernel receive buffer (MSG_PEEK). Used by the
// STARTTLS injection check.
bool HasPendingInput(int fd);

}  // namespace imapgate::net
