#include "net/signal_watcher.h"

#include <event2/event.h>

namespace imapgate::net {

StatusOr<std::unique_ptr<SignalWatcher>> SignalWatcher::Create(EventLoop* loop, int signum, std::function<void()> fn) {
  std::unique_ptr<SignalWatcher> w(new SignalWatcher(std::move(fn)));
  w->event_.reset(evsignal_new(loop->base(), signum, [](evutil_socket_t, short, void* arg) {
    static_cast<SignalWatcher*>(arg)->fn_();
  }, w.get()));
  if (!w->event_ || event_add(w->event_.get(), nullptr) != 0) return Internal("cannot watch signal");
  return w;
}

SignalWatcher::~SignalWatcher() = default;

}  // namespace imapgate::net
