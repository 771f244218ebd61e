// Transport: a byte stream over one connected socket — plain TCP here, TLS in tls/.
//
// A Transport owns its fd. All calls are non-blocking and return an IoResult: kOk with a byte
// count, kWantRead/kWantWrite (retry when the fd is ready in that direction), kEof (orderly end
// of the peer's stream) or kError. Used on one worker thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace imapgate::net {

enum class IoStatus { kOk, kWantRead, kWantWrite, kEof, kError };

struct IoResult {
  IoStatus status;
  size_t bytes = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int fd() const = 0;
  // Reads up to len bytes. kOk always has bytes > 0.
  virtual IoResult Read(char* buf, size_t len) = 0;
  // Writes up to len bytes (len > 0); may write fewer (kOk with bytes < len).
  virtual IoResult Write(const char* buf, size_t len) = 0;
  // Ends our side of the stream (TLS close_notify, then TCP FIN). kOk when done.
  virtual IoResult ShutdownWrite() = 0;
  // True if bytes were already read from the socket and are waiting inside the transport (TLS
  // records decrypted but not yet returned); such bytes produce no readiness event.
  virtual bool HasBufferedInput() const { return false; }
  // Gives up ownership of the fd, for a STARTTLS upgrade that wraps it in TLS. The transport is
  // unusable afterwards. Returns -1 if this transport cannot release its fd.
  virtual int ReleaseFd() { return -1; }
  // "TLSv1.3", "TLSv1.2" or "none".
  virtual std::string ProtocolName() const { return "none"; }
};

using TransportPtr = std::unique_ptr<Transport>;

// Creates a plain TCP transport that owns fd.
TransportPtr MakePlainTransport(int fd);

}  // namespace imapgate::net
