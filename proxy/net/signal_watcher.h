// SignalWatcher: runs a callback on an EventLoop's thread when a POSIX signal arrives
// (libevent evsignal; the handler itself only wakes the loop). Create on the main thread.
#pragma once

#include <functional>
#include <memory>

#include "net/event_loop.h"

namespace imapgate::net {

class SignalWatcher {
 public:
  static StatusOr<std::unique_ptr<SignalWatcher>> Create(EventLoop* loop, int signum, std::function<void()> fn);
  ~SignalWatcher();

 private:
  explicit SignalWatcher(std::function<void()> fn) : fn_(std::move(fn)) {}
  std::function<void()> fn_;
  EventPtr event_;
};

}  // namespace imapgate::net
