// HashPool: a bounded queue in front of a fixed set of threads; a full queue refuses at once.
#include "auth/hash_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace imapgate::auth {
namespace {

// Holds every job that starts until Release(), so the test controls what is running vs queued.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++running_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  void WaitRunning(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return running_ >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int running_ = 0;
  bool open_ = false;
};

TEST(HashPoolTest, OptionsAreBounded) {
  EXPECT_FALSE(HashPool::Create({0, 10}).ok());
  EXPECT_FALSE(HashPool::Create({65, 10}).ok());
  EXPECT_FALSE(HashPool::Create({1, 0}).ok());
  EXPECT_FALSE(HashPool::Create({1, 65537}).ok());
  EXPECT_TRUE(HashPool::Create({64, 65536}).ok());
}

TEST(HashPoolTest, AFullQueueRefusesAtOnceAndCountsIt) {
  auto pool = HashPool::Create({2, 3});
  ASSERT_TRUE(pool.ok());
  Gate gate;
  std::atomic<int> done{0};
  auto job = [&] {
    gate.Wait();
    ++done;
  };
  ASSERT_TRUE((*pool)->TrySubmit(job));
  ASSERT_TRUE((*pool)->TrySubmit(job));
  gate.WaitRunning(2);  // both threads busy: what comes next waits in the queue
  EXPECT_TRUE((*pool)->TrySubmit(job));
  EXPECT_TRUE((*pool)->TrySubmit(job));
  EXPECT_TRUE((*pool)->TrySubmit(job));
  EXPECT_EQ((*pool)->queued(), 3u);
  EXPECT_FALSE((*pool)->TrySubmit(job));  // the 4th queued job: refused, not queued
  EXPECT_EQ((*pool)->rejected(), 1u);
  EXPECT_EQ((*pool)->queued(), 3u);
  gate.Release();
  (*pool)->Shutdown();  // waits for the running jobs; queued ones may run or be dropped
  EXPECT_GE(done.load(), 2);
  EXPECT_LE(done.load(), 5);
}

TEST(HashPoolTest, ShutdownDropsQueuedJobsAndRefusesNewOnes) {
  auto pool = HashPool::Create({1, 8});
  ASSERT_TRUE(pool.ok());
  Gate gate;
  std::atomic<int> ran{0};
  ASSERT_TRUE((*pool)->TrySubmit([&] {
    gate.Wait();
    ++ran;
  }));
  gate.WaitRunning(1);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*pool)->TrySubmit([&] { ++ran; }));
  // The running job is released only once Shutdown has taken the queue away (queued() == 0), so
  // no queued job can start in between.
  std::thread releaser([&] {
    while ((*pool)->queued() != 0) std::this_thread::yield();
    gate.Release();
  });
  (*pool)->Shutdown();
  releaser.join();
  EXPECT_EQ(ran.load(), 1);  // the running one finished; the 4 queued were dropped unrun
  EXPECT_FALSE((*pool)->TrySubmit([&] { ++ran; }));
  (*pool)->Shutdown();  // twice is harmless
}

}  // namespace
}  // namespace imapgate::auth
