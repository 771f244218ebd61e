// HashPool: the bounded thread pool that runs password hash checks (tens of milliseconds each, on
// purpose) off the event loops.
//
// A fixed number of threads, each at nice 10 (below the event loops), take jobs from one queue
// of bounded depth. TrySubmit never blocks and
// never queues without bound: when `max_queued` jobs already wait, it refuses at once, and the
// caller answers the client NO [UNAVAILABLE] instead of letting logins pile up behind an attack.
// A job reports its result by posting to its worker's loop (login::PostToRequest); it must hold
// copies of what it reads (the users snapshot by shared_ptr, the secret by value) and wipe them.
//
// Owned by the Server for the life of the process (threads are not restarted by a reload).
// Shutdown() (also the destructor) drops the jobs still queued and joins the threads after their
// running jobs end: call it before the loops the jobs post to are destroyed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace imapgate::auth {

struct HashPoolOptions {
  int threads = 2;           // 1..64
  size_t max_queued = 64;    // jobs waiting for a thread (running ones not counted); 1..65536
};

class HashPool {
 public:
  static StatusOr<std::unique_ptr<HashPool>> Create(const HashPoolOptions& options);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Any thread: queues `job`; false (and `job` dropped unrun) when the queue is full or the pool
  // is shut down.
  bool TrySubmit(std::function<void()> job);
  // Jobs waiting (not running): for the queue-depth gauge.
  size_t queued() const;
  // Jobs refused because the queue was full, since start.
  uint64_t rejected() const;
  const HashPoolOptions& options() const { return options_; }
  void Shutdown();

 private:
  explicit HashPool(const HashPoolOptions& options) : options_(options) {}
  void Run();

  HashPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  uint64_t rejected_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

using HashPoolPtr = std::unique_ptr<HashPool>;

}  // namespace imapgate::auth
