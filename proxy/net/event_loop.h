// EventLoop: one libevent event_base, owned by one thread (a worker, or the main thread).
//
// Create() builds the base; Run() dispatches until Stop(). Stop() and Post() are the only
// members safe to call from other threads. Everything else registered on a loop (IoWatcher,
// Timer, Listener) must be created, used and destroyed on the loop's own thread.
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

  event_base* base() const { return base_.get(); }

 private:
  explicit EventLoop(EventBasePtr base);
  void DrainPosted();

  EventBasePtr base_;
  EventPtr wakeup_;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace imapgate::net
