#include "relay/relay.h"

#include <string.h>

#include <algorithm>

namespace imapgate::relay {
namespace {

// Rounds of read+write per pipe and callback, so one busy session cannot starve the others.
constexpr int kMaxRoundsPerEvent = 16;

}  // namespace

const char* RelayEndName(RelayEnd end) {
  switch (end) {
    case RelayEnd::kLogout: return "logout";
    case RelayEnd::kClosed: return "closed";
    case RelayEnd::kClientError: return "client_error";
    case RelayEnd::kBackendClosed: return "backend_closed";
    case RelayEnd::kBackendError: return "backend_error";
    case RelayEnd::kIdleTimeout: return "idle_timeout";
    case RelayEnd::kShutdown: return "shutdown";
    case RelayEnd::kKicked: return "kicked";
  }
  return "unknown";
}

StatusOr<std::unique_ptr<Relay>> Relay::Create(net::EventLoop* loop, net::BufferedConnection client,
                                               net::BufferedConnection backend,
                                               std::string_view initial_to_backend, const RelayOptions& options,
                                               const TimeSource* time, char* scratch, size_t scratch_size,
                                               DoneFn done) {
  std::unique_ptr<Relay> r(
      new Relay(std::move(client), std::move(backend), options, time, scratch, scratch_size, std::move(done)));
  Relay* raw = r.get();
  auto timer = net::Timer::Create(loop, [raw] { raw->OnIdleTimer(); });
  if (!timer.ok()) return timer.status();
  r->idle_timer_ = std::move(*timer);
  r->backend_.Queue(initial_to_backend);
  r->framing_.FromBackend(r->client_.queued_output().data(), r->client_.queued_output().size());
  r->framing_.FromClient(initial_to_backend.data(), initial_to_backend.size());
  return r;
}

Relay::Relay(net::BufferedConnection client, net::BufferedConnection backend, const RelayOptions& options,
             const TimeSource* time, char* scratch, size_t scratch_size, DoneFn done)
    : client_(std::move(client)), backend_(std::move(backend)), options_(options), time_(time),
      scratch_(scratch), scratch_size_(scratch_size), done_(std::move(done)) {
  c2b_.src = &client_;
  c2b_.dst = &backend_;
  b2c_.src = &backend_;
  b2c_.dst = &client_;
  b2c_.is_backend_to_client = true;
  // Relayed mail is not ours to wipe; the queues only hold what a slow side has not taken yet.
  client_.set_output_policy(net::ByteQueue::Policy::kPlain);
  backend_.set_output_policy(net::ByteQueue::Policy::kPlain);
  client_.set_handler(this);
  backend_.set_handler(this);
}

Relay::~Relay() {
  client_.set_handler(nullptr);
  backend_.set_handler(nullptr);
}

bool Relay::holds_buffers() const { return client_.holds_output_memory() || backend_.holds_output_memory(); }

void Relay::Start() {
  last_activity_ = time_->MonotonicNow();
  idle_timer_->Arm(options_.idle_timeout);
  if (!Pump(b2c_) || !Pump(c2b_)) return;
  // If the backend was already gone, finish from a loop callback (never inside Start()).
  if (b2c_.dst_shut) client_.ActivateRead();
  UpdateInterest();
}

void Relay::OnIo(net::IoWatcher* watcher, bool readable, bool writable) {
  if (finished_) return;
  bool is_client = watcher == client_.watcher_ptr();
  Pipe& from_here = is_client ? c2b_ : b2c_;  // this side is the source
  Pipe& to_here = is_client ? b2c_ : c2b_;    // this side is the destination
  if (to_here.dst->ShouldFlush(readable, writable)) {
    if (!Pump(to_here)) return;
  }
  if (from_here.src->ShouldRead(readable, writable)) {
    if (!Pump(from_here)) return;
  }
  if (b2c_.dst_shut) {
    // The backend ended its stream and all of it reached the client: nobody is left to answer.
    RelayEnd end = RelayEnd::kClosed;
    if (backend_lost_) {
      end = RelayEnd::kBackendClosed;
    } else if (!c2b_.src_eof) {
      end = RelayEnd::kLogout;  // the backend said BYE (or ended a compressed stream cleanly)
    }
    Finish(end);
    return;
  }
  UpdateInterest();
}

bool Relay::WriteQueued(Pipe& p) {
  if (p.dst->Flush() != net::IoStatus::kError) return true;  // written, or blocked: the interest waits
  Finish(p.is_backend_to_client ? RelayEnd::kClientError : RelayEnd::kBackendError);
  return false;
}

bool Relay::Pump(Pipe& p) {
  for (int round = 0; round < kMaxRoundsPerEvent; ++round) {
    if (p.dst->has_output()) {
      if (!WriteQueued(p)) return false;
    }
    if (p.src_eof) {
      if (!p.dst->has_output() && !p.dst_shut) {
        if (p.is_backend_to_client && !c2b_.src_eof && !backend_lost_ && !framing_.backend_said_bye()) {
          // The backend's stream ended without its BYE. Under COMPRESS the BYE cannot be seen:
          // a stream that ends at a flush point is taken as a clean end (a LOGOUT, normally),
          // and nothing is added to it. Otherwise the backend vanished mid-session: tell the
          // client in IMAP terms, where that can be framed, before closing.
          if (framing_.backend_position() != imap::StreamPosition::kCompressedFlush) {
            backend_lost_ = true;
            QueueBye("Backend connection lost");  // nothing, where it cannot be framed
            if (p.dst->has_output()) continue;
          }
        }
        if (!ShutdownDestination(p)) return true;
      }
      return true;
    }
    if (p.dst->queued_bytes() >= options_.high_watermark) p.paused = true;
    if (p.paused && p.dst->queued_bytes() > options_.low_watermark) return true;
    p.paused = false;

    net::IoResult r = p.src->Read(scratch_, scratch_size_);
    switch (r.status) {
      case net::IoStatus::kOk: {
        p.bytes += r.bytes;
        if (counters_ != nullptr) {  // one writer: a relaxed store, no locked add
          std::atomic<uint64_t>& c =
              p.is_backend_to_client ? counters_->backend_to_client : counters_->client_to_backend;
          c.store(p.bytes, std::memory_order_relaxed);
        }
        // The process-wide counter, as the bytes flow (a long IDLE shows while it lasts).
        if (options_.metrics != nullptr) options_.metrics->RelayBytesFlowed(p.is_backend_to_client, r.bytes);
        last_activity_ = time_->MonotonicNow();
        if (p.is_backend_to_client) {
          framing_.FromBackend(scratch_, r.bytes);
        } else {
          framing_.FromClient(scratch_, r.bytes);
        }
        // Straight from the scratch buffer when nothing is queued ahead (no copy).
        if (p.dst->Send(scratch_, r.bytes) == net::IoStatus::kError) {
          Finish(p.is_backend_to_client ? RelayEnd::kClientError : RelayEnd::kBackendError);
          return false;
        }
        // A short read drained the socket: reading again now would only return EAGAIN. The
        // level-triggered watcher reports anything that arrives later.
        if (r.bytes < scratch_size_ && !p.src->HasBufferedInput()) return true;
        continue;
      }
      case net::IoStatus::kWantRead:
      case net::IoStatus::kWantWrite:  // TLS must write first: the interest retries on writability
        return true;
      case net::IoStatus::kEof:
        p.src_eof = true;
        continue;
      case net::IoStatus::kError:
        if (p.is_backend_to_client && !c2b_.src_eof) {
          // Treat a reset like an EOF so the client still gets its BYE.
          p.src_eof = true;
          continue;
        }
        Finish(p.is_backend_to_client ? RelayEnd::kBackendError : RelayEnd::kClientError);
        return false;
    }
  }
  p.src->ActivateRead();  // more to do: continue after other sessions had their turn
  return true;
}

bool Relay::ShutdownDestination(Pipe& p) {
  // A close_notify that did not fit is retried when writable (has_pending_output stays true).
  if (p.dst->ShutdownWrite() == net::IoStatus::kWantWrite) return false;
  p.dst_shut = true;
  return true;
}

void Relay::QueueBye(std::string_view text) {
  std::string line = "* BYE ";
  line.append(text);
  line.append("\r\n");
  std::string framed = framing_.FrameInjection(line);
  client_.Queue(framed);
}

void Relay::UpdateInterest() {
  // Each side reads while its own direction is open and not held back, and writes (or retries a
  // close_notify) while the other direction has bytes for it; BufferedConnection adds TLS's
  // cross-direction wants.
  auto reading = [](const Pipe& p) { return !p.src_eof && !p.paused; };
  client_.UpdateInterest(reading(c2b_));
  backend_.UpdateInterest(reading(b2c_));
}

void Relay::Shutdown(const char* text, RelayEnd end) {
  if (finished_) return;
  QueueBye(text);
  WriteQueued(b2c_);  // best effort: the session ends now either way
  if (finished_) return;
  client_.ShutdownWrite();
  Finish(end);
}

void Relay::OnIdleTimer() {
  auto idle = time_->MonotonicNow() - last_activity_;
  if (idle < options_.idle_timeout) {
    idle_timer_->Arm(std::chrono::duration_cast<std::chrono::milliseconds>(options_.idle_timeout - idle) +
                     std::chrono::milliseconds(1));
    return;
  }
  QueueBye("Idle timeout");
  WriteQueued(b2c_);
  if (finished_) return;
  client_.ShutdownWrite();
  Finish(RelayEnd::kIdleTimeout);
}

void Relay::Finish(RelayEnd end) {
  if (finished_) return;
  finished_ = true;
  idle_timer_->Cancel();
  client_.StopWatching();
  backend_.StopWatching();
  RelayResult result{end, c2b_.bytes, b2c_.bytes};
  DoneFn done = std::move(done_);
  done(result);
}

}  // namespace imapgate::relay
