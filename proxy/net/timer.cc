#include "net/timer.h"

#include <event2/event.h>

namespace imapgate::net {

StatusOr<std::unique_ptr<Timer>> Timer::Create(EventLoop* loop, std::function<void()> on_fire) {
  std::unique_ptr<Timer> t(new Timer(std::move(on_fire)));
  t->event_.reset(event_new(loop->base(), -1, 0, [](evutil_socket_t, short, void* arg) {
    static_cast<Timer*>(arg)->on_fire_();
  }, t.get()));
  if (!t->event_) return Internal("event_new failed");
  return t;
}

Timer::~Timer() = default;

void Timer::Arm(std::chrono::milliseconds delay) {
  timeval tv;
  tv.tv_sec = delay.count() / 1000;
  tv.tv_usec = (delay.count() % 1000) * 1000;
  event_add(event_.get(), &tv);
}

void Timer::FireSoon() {
  event_del(event_.get());  // drop a pending timeout; the callback runs once
  event_active(event_.get(), EV_TIMEOUT, 1);
}

void Timer::Cancel() { event_del(event_.get()); }

bool Timer::armed() const { return event_pending(event_.get(), EV_TIMEOUT, nullptr) != 0; }

}  // namespace imapgate::net
