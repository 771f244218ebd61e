// Helpers for tests that drive an EventLoop by hand on the test thread.
//
// RunLoopUntil() runs one bounded loop iteration at a time (EVLOOP_ONCE, never blocking more
// than about a millisecond) and checks the condition in between, with an iteration cap so a bug
// fails the test instead of hanging it. Shared by the net and relay tests.
#pragma once

#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <functional>
#include <memory>
#include <utility>

#include "net/event_loop.h"
#include "net/socket.h"

namespace imapgate::testing {

inline std::unique_ptr<net::EventLoop> NewLoop() {
  if (!net::InitEventThreading().ok()) return nullptr;
  auto loop = net::EventLoop::Create();
  if (!loop.ok()) return nullptr;
  return std::move(*loop);
}

// One loop iteration: runs whatever is ready, or waits at most ~1 ms for something to be.
inline void RunLoopOnce(net::EventLoop* loop) {
  timeval tick{0, 1000};
  event_base_loopexit(loop->base(), &tick);
  event_base_loop(loop->base(), EVLOOP_ONCE);
}

// Runs the loop until cond() holds; false if it still does not after max_iterations.
inline bool RunLoopUntil(net::EventLoop* loop, const std::function<bool()>& cond,
                         int max_iterations = 2000) {
  for (int i = 0; i < max_iterations; ++i) {
    if (cond()) return true;
    RunLoopOnce(loop);
  }
  return cond();
}

// Runs the loop for `iterations` rounds (to let anything that is ready happen).
inline void RunLoopFor(net::EventLoop* loop, int iterations) {
  for (int i = 0; i < iterations; ++i) RunLoopOnce(loop);
}

// A connected, non-blocking, close-on-exec AF_UNIX stream pair.
struct SocketPair {
  net::UniqueFd a;
  net::UniqueFd b;
};

inline SocketPair MakeSocketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return {};
  return SocketPair{net::UniqueFd(fds[0]), net::UniqueFd(fds[1])};
}

inline bool IsNonBlocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
inline bool IsCloseOnExec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

}  // namespace imapgate::testing
