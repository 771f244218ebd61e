// FlakyTransport: a net::Transport decorator that says "would block" on demand.
//
// It wraps a real transport and, on a fixed schedule, returns kWantRead (or, TLS-style,
// kWantWrite) from Read without reading, returns kWantWrite from Write without writing, writes a
// single byte instead of the whole buffer, or caps how much one Read returns. Every suspension
// point of the code under test is then reached on ordinary sockets, deterministically. It also
// counts calls and bytes in a TransportStats the test keeps after the transport is gone, so a
// test can tell how many bytes its owner took in and passed on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "net/transport.h"

namespace imapgate::testing {

// Periods count calls from 1; 0 disables a fault. When several faults match one call, the
// earlier field in this struct wins.
struct FlakySchedule {
  int read_would_block_every = 0;   // Read returns kWantRead without reading
  int read_wants_write_every = 0;   // Read returns kWantWrite without reading (TLS renegotiation)
  int write_would_block_first = 0;  // the first N Writes return kWantWrite without writing
  int write_would_block_every = 0;  // Write returns kWantWrite without writing
  int short_write_every = 0;        // Write writes one byte only
  size_t max_read = 0;              // each Read returns at most this many bytes (0: no cap)
  int shutdown_would_block_first = 0;  // the first N ShutdownWrites return kWantWrite (TLS)
};

struct TransportStats {
  uint64_t read_calls = 0;
  uint64_t bytes_read = 0;
  uint64_t write_calls = 0;
  uint64_t bytes_written = 0;
  uint64_t faults = 0;  // calls answered by the schedule instead of the real transport
  bool eof_seen = false;
  bool shut_down = false;       // the inner transport's ShutdownWrite ran
  uint64_t shutdown_calls = 0;
};

class FlakyTransport final : public net::Transport {
 public:
  FlakyTransport(net::TransportPtr inner, FlakySchedule schedule,
                 std::shared_ptr<TransportStats> stats)
      : inner_(std::move(inner)), schedule_(schedule), stats_(std::move(stats)) {}

  int fd() const override { return inner_->fd(); }

  net::IoResult Read(char* buf, size_t len) override {
    const uint64_t n = ++stats_->read_calls;
    if (Hits(n, schedule_.read_would_block_every)) return Fault(net::IoStatus::kWantRead);
    if (Hits(n, schedule_.read_wants_write_every)) return Fault(net::IoStatus::kWantWrite);
    if (schedule_.max_read > 0) len = std::min(len, schedule_.max_read);
    net::IoResult r = inner_->Read(buf, len);
    if (r.status == net::IoStatus::kOk) stats_->bytes_read += r.bytes;
    if (r.status == net::IoStatus::kEof) stats_->eof_seen = true;
    return r;
  }

  net::IoResult Write(const char* buf, size_t len) override {
    const uint64_t n = ++stats_->write_calls;
    if (n <= static_cast<uint64_t>(schedule_.write_would_block_first) ||
        Hits(n, schedule_.write_would_block_every)) {
      return Fault(net::IoStatus::kWantWrite);
    }
    if (Hits(n, schedule_.short_write_every)) len = 1;
    net::IoResult w = inner_->Write(buf, len);
    if (w.status == net::IoStatus::kOk) stats_->bytes_written += w.bytes;
    return w;
  }

  net::IoResult ShutdownWrite() override {
    if (++stats_->shutdown_calls <= static_cast<uint64_t>(schedule_.shutdown_would_block_first)) {
      return Fault(net::IoStatus::kWantWrite);
    }
    stats_->shut_down = true;
    return inner_->ShutdownWrite();
  }
  bool HasBufferedInput() const override { return inner_->HasBufferedInput(); }
  int ReleaseFd() override { return inner_->ReleaseFd(); }
  std::string ProtocolName() const override { return inner_->ProtocolName(); }

 private:
  static bool Hits(uint64_t n, int every) { return every > 0 && n % every == 0; }
  net::IoResult Fault(net::IoStatus status) {
    ++stats_->faults;
    return {status, 0};
  }

  net::TransportPtr inner_;
  FlakySchedule schedule_;
  std::shared_ptr<TransportStats> stats_;
};

}  // namespace imapgate::testing
