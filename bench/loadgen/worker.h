// Worker: one loadgen thread with its own libevent loop, its share of the sessions, and its own
// RunStats; and Shared, the read-only plan plus the few atomics all workers use.
//
// Login/handshake: workers claim session numbers from Shared::next_session and keep their
// share of --concurrency in flight until none are left. Idle: each worker opens its share of
// --idle-sessions (at most its share of --concurrency opening at once), reports ready, and on
// Release() leaves IDLE and logs out. Fetch/noop: each worker warms its share of --concurrency
// sessions, reports ready, and on Go() runs round trips claimed from Shared::ops_claimed.
// Go/Release/Stop are the only thread-safe members (they wake the loop through an event).
#pragma once

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bench/loadgen/options.h"
#include "bench/loadgen/stats.h"
#include "bench/loadgen/tls_client.h"

struct event_base;
struct event;

namespace imapgate::bench {

class Session;

// The plan and the cross-thread counters. Outlives every worker.
struct Shared {
  Options opts;
  std::vector<std::pair<std::string, std::string>> users;
  SSL_CTX* ssl_ctx = nullptr;  // null with --tls none
  sockaddr_storage target{};
  socklen_t target_len = 0;
  std::atomic<int64_t> next_session{0};  // login/handshake
  std::atomic<int64_t> ops_claimed{0};   // fetch/noop
  int64_t ops_total = 0;
  std::atomic<uint64_t> held_total{0};  // idle: sessions that reached "+ idling"
  // Ready reports (idle: all opened; fetch/noop: all warm; others: finished) for the main thread.
  std::mutex mu;
  std::condition_variable cv;
  int ready_workers = 0;
  int finished_workers = 0;
};

// Microseconds on the monotonic clock.
uint64_t NowMicros();

class Worker : public TicketSink {
 public:
  // concurrency and idle_sessions are this worker's shares.
  Worker(Shared* shared, int index, int concurrency, int idle_sessions);
  ~Worker() override;
  // Builds the event base and timers. Error text on failure.
  std::string Init();
  // Runs the loop until every session of this worker has ended (or Stop()).
  void Run();
  // Thread-safe commands.
  void Go();
  void Release();
  void Stop();

  RunStats& stats() { return stats_; }
  uint64_t started() const { return started_; }

  // --- for Session (loop thread) ---
  event_base* base() const { return base_; }
  const Options& opts() const { return shared_->opts; }
  SSL_CTX* ssl_ctx() const { return shared_->ssl_ctx; }
  const sockaddr_storage& target(socklen_t* len) const;
  const std::pair<std::string, std::string>& UserFor(uint64_t index) const;
  char* read_buffer() { return read_buffer_.data(); }
  size_t read_buffer_size() const { return read_buffer_.size(); }
  SSL_SESSION* cached_session() const { return cached_session_; }
  void OnNewSession(SSL_SESSION* session) override;
  // A session reached "+ idling" / is logged in and waiting for Go().
  void OnHeld(Session* s);
  void OnWarm(Session* s);
  // Grants one more fetch/noop round trip, or false when the total is reached.
  bool ClaimOp();
  // The session ended; the worker deletes it later from the loop (never inside its callback).
  void OnFinished(Session* s, bool ok, FailReason reason);
  RunStats* mutable_stats() { return &stats_; }

 private:
  static void OnControl(int fd, short what, void* arg);
  static void OnSweep(int fd, short what, void* arg);
  static void OnReap(int fd, short what, void* arg);
  void HandleControl();
  void Sweep();
  void StartMore();
  void MaybeReportReady();
  void MaybeFinish();
  void AbortAll(FailReason reason);

  Shared* shared_;
  int index_;
  int concurrency_;
  int idle_target_;
  event_base* base_ = nullptr;
  event* control_ = nullptr;
  event* sweep_ = nullptr;
  event* reap_ = nullptr;
  std::vector<Session*> dead_;  // finished sessions awaiting deletion
  std::vector<char> read_buffer_;
  std::vector<Session*> live_;
  SSL_SESSION* cached_session_ = nullptr;
  RunStats stats_;
  uint64_t started_ = 0;
  int opening_ = 0;  // idle/fetch/noop: sessions not yet held/warm
  bool reported_ready_ = false;
  bool went_ = false;
  bool finished_ = false;
  std::atomic<bool> go_{false};
  std::atomic<bool> release_{false};
  std::atomic<bool> stop_{false};
  bool stopping_ = false;
};

}  // namespace imapgate::bench
