#include "net/buffered_connection.h"

#include <utility>

namespace imapgate::net {

StatusOr<BufferedConnection> BufferedConnection::Create(EventLoop* loop, TransportPtr transport, IoHandler* handler) {
  int fd = transport->fd();
  auto watcher = IoWatcher::Create(loop, fd, handler);
  if (!watcher.ok()) return watcher.status();
  return BufferedConnection(std::move(transport), std::move(*watcher));
}

BufferedConnection& BufferedConnection::operator=(BufferedConnection&& other) noexcept {
  if (this != &other) {
    output_.Clear();
    watcher_.reset();
    transport_.reset();
    transport_ = std::move(other.transport_);
    watcher_ = std::move(other.watcher_);
    output_ = std::move(other.output_);
    write_wants_read_ = std::exchange(other.write_wants_read_, false);
    read_wants_write_ = std::exchange(other.read_wants_write_, false);
    shutdown_wants_write_ = std::exchange(other.shutdown_wants_write_, false);
  }
  return *this;
}

BufferedConnection::~BufferedConnection() {
  output_.Clear();
  watcher_.reset();  // before the transport closes the fd
}

void BufferedConnection::DiscardOutput() {
  output_.Clear();
  write_wants_read_ = false;
}

IoResult BufferedConnection::Read(char* buf, size_t len) {
  read_wants_write_ = false;
  IoResult r = transport_->Read(buf, len);
  if (r.status == IoStatus::kWantWrite) read_wants_write_ = true;
  return r;
}

IoStatus BufferedConnection::Send(const char* bytes, size_t len) {
  size_t written = 0;
  if (output_.empty()) {  // nothing ahead of these bytes: write them straight from the caller
    IoResult w = transport_->Write(bytes, len);
    if (w.status == IoStatus::kOk) {
      written = w.bytes;
      write_wants_read_ = false;
    } else if (w.status == IoStatus::kWantWrite || w.status == IoStatus::kWantRead) {
      write_wants_read_ = w.status == IoStatus::kWantRead;
    } else {
      return IoStatus::kError;
    }
  }
  output_.Append(bytes + written, len - written);
  return IoStatus::kOk;
}

IoStatus BufferedConnection::Flush() {
  while (!output_.empty()) {
    IoResult r = transport_->Write(output_.data(), output_.size());
    if (r.status == IoStatus::kOk) {
      output_.Consume(r.bytes);
      continue;
    }
    if (r.status == IoStatus::kWantWrite || r.status == IoStatus::kWantRead) {
      write_wants_read_ = r.status == IoStatus::kWantRead;
      return r.status;
    }
    return IoStatus::kError;
  }
  write_wants_read_ = false;
  return IoStatus::kOk;
}

IoStatus BufferedConnection::ShutdownWrite() {
  IoResult r = transport_->ShutdownWrite();
  shutdown_wants_write_ = r.status == IoStatus::kWantWrite;
  return shutdown_wants_write_ ? IoStatus::kWantWrite : IoStatus::kOk;
}

void BufferedConnection::UpdateInterest(bool read) {
  if (!watcher_) return;
  bool pending = has_pending_output();
  watcher_->WantRead((read && !read_wants_write_) || (pending && write_wants_read_));
  watcher_->WantWrite((read && read_wants_write_) || (pending && !write_wants_read_));
}

void BufferedConnection::StopWatching() {
  if (!watcher_) return;
  watcher_->WantRead(false);
  watcher_->WantWrite(false);
}

int BufferedConnection::ReleaseFdForUpgrade() {
  read_wants_write_ = false;
  write_wants_read_ = false;
  return transport_->ReleaseFd();
}

void BufferedConnection::SetTransport(TransportPtr transport) { transport_ = std::move(transport); }

}  // namespace imapgate::net
