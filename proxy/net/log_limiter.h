// LogRateLimiter: lets at most N log lines through per time window and counts the rest, so a
// condition that repeats thousands of times a second (accept() failing with EMFILE, libevent's
// own warnings) writes a few lines, each saying how many were dropped before it.
//
// Pure logic: the caller passes "now". Not thread-safe; callers on several threads hold a lock.
#pragma once

#include <chrono>
#include <cstdint>

namespace imapgate::net {

class LogRateLimiter {
 public:
  LogRateLimiter(int lines_per_window, std::chrono::steady_clock::duration window)
      : limit_(lines_per_window), window_(window) {}

  // True when a line may be written at `now`; then *suppressed holds the number of lines refused
  // since the last one let through (and the count restarts). False: the line is to be dropped.
  bool Allow(std::chrono::steady_clock::time_point now, uint64_t* suppressed) {
    if (!started_ || now - window_start_ >= window_) {
      started_ = true;
      window_start_ = now;
      used_ = 0;
    }
    if (used_ >= limit_) {
      ++dropped_;
      return false;
    }
    ++used_;
    *suppressed = dropped_;
    dropped_ = 0;
    return true;
  }

 private:
  int limit_;
  std::chrono::steady_clock::duration window_;
  std::chrono::steady_clock::time_point window_start_{};
  bool started_ = false;
  int used_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace imapgate::net
