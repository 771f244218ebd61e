#include "auth/hash_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace imapgate::auth {

StatusOr<std::unique_ptr<HashPool>> HashPool::Create(const HashPoolOptions& options) {
  if (options.threads < 1 || options.threads > 64) return InvalidArgument("hash pool threads must be 1..64");
  if (options.max_queued < 1 || options.max_queued > 65536)
    return InvalidArgument("hash pool queue must be 1..65536");
  std::unique_ptr<HashPool> pool(new HashPool(options));
  pool->threads_.reserve(static_cast<size_t>(options.threads));
  for (int i = 0; i < options.threads; ++i) pool->threads_.emplace_back([p = pool.get()] { p->Run(); });
  return pool;
}

HashPool::~HashPool() { Shutdown(); }

bool HashPool::TrySubmit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    if (queue_.size() >= options_.max_queued) {
      ++rejected_;
      return false;
    }
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

size_t HashPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

uint64_t HashPool::rejected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rejected_;
}

void HashPool::Shutdown() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  ready_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // `dropped` (unrun jobs and the secrets they hold) is destroyed here, off every lock.
}

void HashPool::Run() {
  // Below the event loops: a flood of hash checks must not take the CPU the loops need to keep
  // serving established sessions (nice 10 for this thread only; Linux schedules threads apart).
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace imapgate::auth
