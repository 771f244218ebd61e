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
  }
  return "unknown";
}

void Relay::Queue::Append(const char* p, size_t n) {
  if (n == 0) return;
  if (end_ + n > capacity_) {
    size_t used = size();
    if (used + n <= capacity_ && begin_ > 0) {
      memmove(data_.get(), data_.get() + begin_, used);
    } else {
      size_t cap = std::max<size_t>({used + n, capacity_ * 2, 4096});
      std::unique_ptr<char[]> bigger(new char[cap]);
      if (used > 0) memcpy(bigger.get(), data_.get() + begin_, used);
      data_ = std::move(bigger);
      capacity_ = cap;
    }
    begin_ = 0;
    end_ = used;
  }
  memcpy(data_.get() + end_, p, n);
  end_ += n;
}

void Relay::Queue::Consume(size_t n) {
  begin_ += n;
  if (begin_ == end_) {  // empty: give the memory back, idle sessions hold no buffers
    data_.reset();
    capacity_ = begin_ = end_ = 0;
  }
}

StatusOr<std::unique_ptr<Relay>> Relay::Create(net::EventLoop* loop, RelaySide client, RelaySide backend,
                                               std::string_view initial_to_client,
                                               std::string_view initial_to_backend, const RelayOptions& options,
                                               const TimeSource* time, char* scratch, size_t scratch_size,
                                               DoneFn done) {
  std::unique_ptr<Relay> r(
      new Relay(std::move(client), std::move(backend), options, time, scratch, scratch_size, std::move(done)));
  Relay* raw = r.get();
  auto timer = net::Timer::Create(loop, [raw] { raw->OnIdleTimer(); });
  if (!timer.ok()) return timer.status();
  r->idle_timer_ = std::move(*timer);
  r->b2c_.queue.Append(initial_to_client.data(), initial_to_client.size());
  r->c2b_.queue.Append(initial_to_backend.data(), initial_to_backend.size());
  r->framing_.FromBackend(initial_to_client.data(), initial_to_client.size());
  r->framing_.FromClient(initial_to_backend.data(), initial_to_backend.size());
  return r;
}

Relay::Relay(RelaySide client, RelaySide backend, const RelayOptions& options, const TimeSource* time,
             char* scratch, size_t scratch_size, DoneFn done)
    : client_(std::move(client)), backend_(std::move(backend)), options_(options), time_(time),
      scratch_(scratch), scratch_size_(scratch_size), done_(std::move(done)) {
  c2b_.src = client_.transport.get();
  c2b_.dst = backend_.transport.get();
  c2b_.src_watcher = client_.watcher.get();
  c2b_.dst_watcher = backend_.watcher.get();
  b2c_.src = backend_.transport.get();
  b2c_.dst = client_.transport.get();
  b2c_.src_watcher = backend_.watcher.get();
  b2c_.dst_watcher = client_.watcher.get();
  b2c_.is_backend_to_client = true;
  client_.watcher->set_handler(this);
  backend_.watcher->set_handler(this);
}

Relay::~Relay() {
  if (client_.watcher) client_.watcher->set_handler(nullptr);
  if (backend_.watcher) backend_.watcher->set_handler(nullptr);
}

bool Relay::holds_buffers() const { return c2b_.queue.holds_memory() || b2c_.queue.holds_memory(); }

void Relay::Start() {
  last_activity_ = time_->MonotonicNow();
  idle_timer_->Arm(options_.idle_timeout);
  if (!Pump(b2c_) || !Pump(c2b_)) return;
  // If the backend was already gone, finish from a loop callback (never inside Start()).
  if (b2c_.dst_shut) client_.watcher->ActivateRead();
  UpdateInterest();
}

void Relay::OnIo(net::IoWatcher* watcher, bool readable, bool writable) {
  if (finished_) return;
  bool is_client = watcher == client_.watcher.get();
  Pipe& from_here = is_client ? c2b_ : b2c_;  // this side is the source
  Pipe& to_here = is_client ? b2c_ : c2b_;    // this side is the destination
  bool to_here_pending = !to_here.queue.empty() || to_here.shut_wants_write;
  if (to_here_pending && (writable || (readable && to_here.dst_wants_read))) {
    if (!Pump(to_here)) return;
  }
  if (readable || (writable && from_here.src_wants_write)) {
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
  while (!p.queue.empty()) {
    net::IoResult w = p.dst->Write(p.queue.data(), p.queue.size());
    if (w.status == net::IoStatus::kOk) {
      p.queue.Consume(w.bytes);
      continue;
    }
    if (w.status == net::IoStatus::kWantWrite || w.status == net::IoStatus::kWantRead) {
      p.dst_wants_read = w.status == net::IoStatus::kWantRead;
      return true;
    }
    Finish(p.is_backend_to_client ? RelayEnd::kClientError : RelayEnd::kBackendError);
    return false;
  }
  p.dst_wants_read = false;
  return true;
}

bool Relay::Pump(Pipe& p) {
  for (int round = 0; round < kMaxRoundsPerEvent; ++round) {
    if (!p.queue.empty()) {
      if (!WriteQueued(p)) return false;
    }
    if (p.src_eof) {
      if (p.queue.empty() && !p.dst_shut) {
        if (p.is_backend_to_client && !c2b_.src_eof && !backend_lost_ && !framing_.backend_said_bye()) {
          // The backend's stream ended without its BYE. Under COMPRESS the BYE cannot be seen:
          // a stream that ends at a flush point is taken as a clean end (a LOGOUT, normally),
          // and nothing is added to it. Otherwise the backend vanished mid-session: tell the
          // client in IMAP terms, where that can be framed, before closing.
          if (framing_.backend_position() != imap::StreamPosition::kCompressedFlush) {
            backend_lost_ = true;
            QueueBye("Backend connection lost");  // nothing, where it cannot be framed
            if (!p.queue.empty()) continue;
          }
        }
        if (!ShutdownDestination(p)) return true;
      }
      return true;
    }
    if (p.queue.size() >= options_.high_watermark) p.paused = true;
    if (p.paused && p.queue.size() > options_.low_watermark) return true;
    p.paused = false;

    net::IoResult r = p.src->Read(scratch_, scratch_size_);
    switch (r.status) {
      case net::IoStatus::kOk: {
        p.bytes += r.bytes;
        p.src_wants_write = false;
        last_activity_ = time_->MonotonicNow();
        if (p.is_backend_to_client) {
          framing_.FromBackend(scratch_, r.bytes);
        } else {
          framing_.FromClient(scratch_, r.bytes);
        }
        size_t written = 0;
        if (p.queue.empty()) {  // fast path: straight from the scratch buffer, no copy
          net::IoResult w = p.dst->Write(scratch_, r.bytes);
          if (w.status == net::IoStatus::kOk) {
            written = w.bytes;
          } else if (w.status == net::IoStatus::kWantRead || w.status == net::IoStatus::kWantWrite) {
            p.dst_wants_read = w.status == net::IoStatus::kWantRead;
          } else {
            Finish(p.is_backend_to_client ? RelayEnd::kClientError : RelayEnd::kBackendError);
            return false;
          }
        }
        p.queue.Append(scratch_ + written, r.bytes - written);
        // A short read drained the socket: reading again now would only return EAGAIN. The
        // level-triggered watcher reports anything that arrives later.
        if (r.bytes < scratch_size_ && !p.src->HasBufferedInput()) return true;
        continue;
      }
      case net::IoStatus::kWantRead:
        p.src_wants_write = false;
        return true;
      case net::IoStatus::kWantWrite:
        p.src_wants_write = true;
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
  p.src_watcher->ActivateRead();  // more to do: continue after other sessions had their turn
  return true;
}

bool Relay::ShutdownDestination(Pipe& p) {
  net::IoResult r = p.dst->ShutdownWrite();
  if (r.status == net::IoStatus::kWantWrite) {
    p.shut_wants_write = true;  // close_notify did not fit: retry when writable
    return false;
  }
  p.shut_wants_write = false;
  p.dst_shut = true;
  return true;
}

void Relay::QueueBye(std::string_view text) {
  std::string line = "* BYE ";
  line.append(text);
  line.append("\r\n");
  std::string framed = framing_.FrameInjection(line);
  b2c_.queue.Append(framed.data(), framed.size());
}

void Relay::UpdateInterest() {
  auto wants_read_from_src = [](const Pipe& p) { return !p.src_eof && !p.paused && !p.src_wants_write; };
  auto wants_write_from_src = [](const Pipe& p) { return !p.src_eof && !p.paused && p.src_wants_write; };
  // Queued bytes, or a close_notify still to be written.
  auto dst_pending = [](const Pipe& p) { return !p.queue.empty() || p.shut_wants_write; };
  client_.watcher->WantRead(wants_read_from_src(c2b_) || (dst_pending(b2c_) && b2c_.dst_wants_read));
  client_.watcher->WantWrite(wants_write_from_src(c2b_) || (dst_pending(b2c_) && !b2c_.dst_wants_read));
  backend_.watcher->WantRead(wants_read_from_src(b2c_) || (dst_pending(c2b_) && c2b_.dst_wants_read));
  backend_.watcher->WantWrite(wants_write_from_src(b2c_) || (dst_pending(c2b_) && !c2b_.dst_wants_read));
}

void Relay::Shutdown(const char* text) {
  if (finished_) return;
  QueueBye(text);
  WriteQueued(b2c_);  // best effort: the session ends now either way
  if (finished_) return;
  client_.transport->ShutdownWrite();
  Finish(RelayEnd::kShutdown);
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
  client_.transport->ShutdownWrite();
  Finish(RelayEnd::kIdleTimeout);
}

void Relay::Finish(RelayEnd end) {
  if (finished_) return;
  finished_ = true;
  idle_timer_->Cancel();
  client_.watcher->WantRead(false);
  client_.watcher->WantWrite(false);
  backend_.watcher->WantRead(false);
  backend_.watcher->WantWrite(false);
  RelayResult result{end, c2b_.bytes, b2c_.bytes};
  DoneFn done = std::move(done_);
  done(result);
}

}  // namespace imapgate::relay
