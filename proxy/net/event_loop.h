// EventLoop: one libevent event_base, owned by one thread (a worker, or the main thread).
//
// Create() builds the base; Run() dispatches until Stop(). Stop() and Post() are the only
// members safe to call from other threads. Everything else registered on a loop (IoWatcher,
// Timer, Listener), and Defer(), must be created, used and destroyed on the loop's own thread.
//
// Two ways to run something later: Post() (any thread; a mutex and a wake-up) and Defer() (the
// loop's own thread only; no lock: a vector drained by one event made active). Defer() is the
// path for deleting a stage outside its own callback.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"

struct event_base;
struct event;

namespace imapgate::net {

struct EventBaseDeleter { void operator()(event_base* b) const; };
struct EventDeleter { void operator()(event* e) const; };
using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;

// Makes libevent thread-aware (evthread_use_pthreads). Call once before creating any loop.
Status InitEventThreading();

class EventLoop {
 public:
  static StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();

  // Dispatches events until Stop() is called.
  void Run();
  // Thread-safe: makes Run() return after the current callback.
  void Stop();
  // Thread-safe: runs fn on the loop's thread, soon.
  void Post(std::function<void()> fn);
  // Loop thread only: runs fn on this loop after the current callback returns, in call order.
  // A Defer() made by a deferred call runs after every call deferred before it (a later batch).
  // Takes no lock.
  void Defer(std::function<void()> fn);

  // Installs imapgate's logger as libevent's log sink (event_set_log_callback), rate-limited
  // to a few lines per 10 s with a count of what was dropped. Process-wide; idempotent.
  static void RouteLibeventLogs();

  event_base* base() const { return base_.get(); }

 private:
  explicit EventLoop(EventBasePtr base);
  void DrainPosted();
  void DrainDeferred();

  EventBasePtr base_;
  EventPtr wakeup_;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  EventPtr deferred_event_;
  std::vector<std::function<void()>> deferred_;  // loop thread only
};

}  // namespace imapgate::net
