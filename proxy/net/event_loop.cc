#include "net/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>

#include <chrono>

#include "common/log.h"
#include "net/log_limiter.h"

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
  loop->deferred_event_.reset(event_new(loop->base(), -1, 0, [](evutil_socket_t, short, void* arg) {
    static_cast<EventLoop*>(arg)->DrainDeferred();
  }, loop.get()));
  if (!loop->deferred_event_) return Internal("event_new failed");
  return loop;
}

EventLoop::EventLoop(EventBasePtr base) : base_(std::move(base)) {}

EventLoop::~EventLoop() {
  // Deferred deletions must run while the base still exists; a deletion may defer or post more.
  for (int round = 0; round < 8; ++round) {
    DrainPosted();
    DrainDeferred();
  }
  deferred_event_.reset();
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

void EventLoop::Defer(std::function<void()> fn) {
  if (deferred_.empty() && deferred_event_) event_active(deferred_event_.get(), EV_READ, 0);
  deferred_.push_back(std::move(fn));
}

void EventLoop::DrainDeferred() {
  std::vector<std::function<void()>> batch;
  batch.swap(deferred_);  // calls deferred from here on land in the next round
  for (auto& fn : batch) fn();
}

namespace {

void LibeventLogSink(int severity, const char* msg) {
  static std::mutex mu;
  static LogRateLimiter limiter(5, std::chrono::seconds(10));
  uint64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!limiter.Allow(std::chrono::steady_clock::now(), &suppressed)) return;
  }
  LogLevel level = severity >= EVENT_LOG_ERR    ? LogLevel::kError
                   : severity >= EVENT_LOG_WARN ? LogLevel::kWarn
                   : severity >= EVENT_LOG_MSG  ? LogLevel::kInfo
                                                : LogLevel::kDebug;
  LogEvent e(level, "libevent");
  e.Add("message", msg != nullptr ? msg : "");
  if (suppressed > 0) e.Add("suppressed", suppressed);
}

}  // namespace

void EventLoop::RouteLibeventLogs() { event_set_log_callback(&LibeventLogSink); }

void EventLoop::DrainPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

}  // namespace imapgate::net
