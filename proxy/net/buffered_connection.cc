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
    DiscardOutput();
    watcher_.reset();
    transport_.reset();
    transport_ = std::move(other.transport_);
    watcher_ = std::move(other.watcher_);
    output_ = std::move(other.output_);
    sent_ = std::exchange(other.sent_, 0);
    write_blocked_ = std::exchange(other.write_blocked_, false);
    read_wants_write_ = std::exchange(other.read_wants_write_, false);
  }
  return *this;
}

void BufferedConnection::DiscardOutput() {
  SecureWipe(output_.data(), output_.size());
  output_.clear();
  sent_ = 0;
  write_blocked_ = false;
}

BufferedConnection::~BufferedConnection() {
  SecureWipe(output_.data(), output_.size());
  watcher_.reset();  // before the transport closes the fd
}

IoResult BufferedConnection::Read(char* buf, size_t len) {
  read_wants_write_ = false;
  IoResult r = transport_->Read(buf, len);
  if (r.status == IoStatus::kWantWrite) read_wants_write_ = true;
  return r;
}

void BufferedConnection::Queue(std::string_view bytes) { output_.insert(output_.end(), bytes.begin(), bytes.end()); }

IoStatus BufferedConnection::Flush() {
  write_blocked_ = false;
  while (sent_ < output_.size()) {
    IoResult r = transport_->Write(output_.data() + sent_, output_.size() - sent_);
    if (r.status == IoStatus::kOk) {
      sent_ += r.bytes;
      continue;
    }
    if (r.status == IoStatus::kWantWrite || r.status == IoStatus::kWantRead) {
      write_blocked_ = r.status == IoStatus::kWantWrite;
      return r.status;
    }
    return IoStatus::kError;
  }
  SecureWipe(output_.data(), output_.size());
  output_.clear();
  sent_ = 0;
  return IoStatus::kOk;
}

void BufferedConnection::UpdateInterest(bool read) {
  if (!watcher_) return;
  watcher_->WantRead(read);
  watcher_->WantWrite(write_blocked_ || read_wants_write_);
}

void BufferedConnection::StopWatching() {
  if (!watcher_) return;
  watcher_->WantRead(false);
  watcher_->WantWrite(false);
}

int BufferedConnection::ReleaseFdForUpgrade() {
  read_wants_write_ = false;
  write_blocked_ = false;
  return transport_->ReleaseFd();
}

void BufferedConnection::SetTransport(TransportPtr transport) { transport_ = std::move(transport); }

TransportPtr BufferedConnection::TakeTransport() { return std::move(transport_); }

IoWatcherPtr BufferedConnection::TakeWatcher() {
  if (watcher_) watcher_->set_handler(nullptr);
  return std::move(watcher_);
}

bool BufferedConnection::OutputStorageContains(std::string_view bytes) const {
  std::string_view storage(output_.data(), output_.capacity());
  return !bytes.empty() && storage.find(bytes) != std::string_view::npos;
}

}  // namespace imapgate::net
