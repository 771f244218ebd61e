#include "net/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>

namespace imapgate::net {

void EventBaseDeleter::operator()(event_base* b) const { event_base_free(b); }
void EventDeleter::operator()(event* e) const { event_free(e); }

Status InitEventThreading() {
  static const int rc = evthread_use_pthreads();
  return rc == 0 ? Status::Ok() : Internal("evthread_use_pthreads failed");
}

StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  event_config* cfg = event_config_new();
  if (cfg == nullptr) return Internal("event_config_new failed");
  // Each loop is driven by one thread; libevent's own locking is needed only for Stop/Post.
  EventBasePtr base(event_base_new_with_config(cfg));
  event_config_free(cfg);
  if (!base) return Internal("event_base_new failed");
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(base)));
  loop->wakeup_.reset(event_new(loop->base(), -1, 0, [](evutil_socket_t, short, void* arg) {
    static_cast<EventLoop*>(arg)->DrainPosted();
  }, loop.get()));
  if (!loop->wakeup_) return Internal("event_new failed");
  return loop;
}

EventLoop::EventLoop(EventBasePtr base) : base_(std::move(base)) {}

EventLoop::~EventLoop() {
  DrainPosted();  // deferred deletions must run while the base still exists
  DrainPosted();
  wakeup_.reset();
  base_.reset();
}

void EventLoop::Run() { event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY); }

void EventLoop::Stop() { event_base_loopbreak(base_.get()); }

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  event_active(wakeup_.get(), EV_READ, 0);
}

void EventLoop::DrainPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

}  // namespace imapgate::net
