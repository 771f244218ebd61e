#include "net/io_watcher.h"

#include <event2/event.h>

namespace imapgate::net {

StatusOr<std::unique_ptr<IoWatcher>> IoWatcher::Create(EventLoop* loop, int fd, IoHandler* handler) {
  std::unique_ptr<IoWatcher> w(new IoWatcher(fd, handler));
  w->read_event_.reset(event_new(loop->base(), fd, EV_READ | EV_PERSIST, &IoWatcher::Dispatch, w.get()));
  w->write_event_.reset(event_new(loop->base(), fd, EV_WRITE | EV_PERSIST, &IoWatcher::Dispatch, w.get()));
  if (!w->read_event_ || !w->write_event_) return Internal("event_new failed");
  return w;
}

IoWatcher::~IoWatcher() = default;  // event_free() deletes pending events

void IoWatcher::WantRead(bool on) {
  if (on == want_read_) return;
  want_read_ = on;
  if (on) {
    event_add(read_event_.get(), nullptr);
  } else {
    event_del(read_event_.get());
  }
}

void IoWatcher::WantWrite(bool on) {
  if (on == want_write_) return;
  want_write_ = on;
  if (on) {
    event_add(write_event_.get(), nullptr);
  } else {
    event_del(write_event_.get());
  }
}

void IoWatcher::ActivateRead() {
  if (!kick_event_) {
    kick_event_.reset(event_new(event_get_base(read_event_.get()), -1, 0, &IoWatcher::Kick, this));
    if (!kick_event_) return;  // out of memory: level-triggered readiness still arrives
  }
  event_active(kick_event_.get(), EV_READ, 0);
}

void IoWatcher::Kick(int, short, void* arg) {
  auto* self = static_cast<IoWatcher*>(arg);
  if (self->handler_ != nullptr) self->handler_->OnIo(self, true, false);
}

void IoWatcher::Dispatch(int, short what, void* arg) {
  auto* self = static_cast<IoWatcher*>(arg);
  if (self->handler_ == nullptr) {
    // Between owners (a stage hand-over): nobody would consume the readiness, and a
    // level-triggered event would fire again on every loop turn. The next owner re-arms.
    self->WantRead(false);
    self->WantWrite(false);
    return;
  }
  self->handler_->OnIo(self, (what & EV_READ) != 0, (what & EV_WRITE) != 0);
}

}  // namespace imapgate::net
