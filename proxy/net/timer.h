// Timer: a one-shot timeout on an EventLoop, re-armable.
//
// The callback runs on the loop's thread. Destroying the Timer cancels it. Deadlines use the
// loop's monotonic clock; logic that needs "now" reads the injected TimeSource instead.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "net/event_loop.h"

namespace imapgate::net {

class Timer {
 public:
  static StatusOr<std::unique_ptr<Timer>> Create(EventLoop* loop, std::function<void()> on_fire);
  ~Timer();

  // (Re)arms the timer to fire once after `delay`.
  void Arm(std::chrono::milliseconds delay);
  // Fires from its own loop callback once the current callbacks are done, without a timeout:
  // unlike Arm(0ms) it costs no extra epoll_wait round. Cancel() still cancels it.
  void FireSoon();
  void Cancel();
  bool armed() const;

 private:
  explicit Timer(std::function<void()> on_fire) : on_fire_(std::move(on_fire)) {}
  std::function<void()> on_fire_;
  EventPtr event_;
};

using TimerPtr = std::unique_ptr<Timer>;

}  // namespace imapgate::net
