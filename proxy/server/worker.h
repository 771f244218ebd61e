// Worker: one event-loop thread with its own listeners (SO_REUSEPORT) and the sessions it
// accepted. A session and both of its sockets live and die on this worker; nothing on the
// per-byte path takes a lock.
//
// Created and destroyed on the main thread; Run() is the thread body. BeginDrain() and
// Stop() are thread-safe (they post to the worker's loop).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/event_loop.h"
#include "net/listener.h"
#include "session/session.h"

namespace imapgate::server {

struct ListenerSpec {
  session::ListenerContext context;
  net::SocketAddress address;
};

struct WorkerOptions {
  int index = 0;
  const std::vector<ListenerSpec>* listeners = nullptr;  // outlives the worker
  const upstream::BackendTarget* backend = nullptr;      // outlives the worker
  relay::RelayOptions relay;
  size_t max_sessions = 100000;
  stats::Metrics* metrics = nullptr;
  const TimeSource* time = nullptr;
  std::string id_prefix;
};

class Worker {
 public:
  static StatusOr<std::unique_ptr<Worker>> Create(const WorkerOptions& options);
  ~Worker();

  void StartThread();
  void Join();
  // Thread-safe: stop accepting; sessions carry on.
  void BeginDrain();
  // Thread-safe: say BYE to every session, close them, and end the loop.
  void Stop();
  size_t active_sessions() const { return active_.load(std::memory_order_relaxed); }

 private:
  explicit Worker(const WorkerOptions& options) : options_(options) {}
  void Accept(const ListenerSpec& spec, net::UniqueFd fd, const net::SocketAddress& peer);
  void OnSessionDone(session::Session* s);
  void UpdateAccepting();

  WorkerOptions options_;
  std::unique_ptr<net::EventLoop> loop_;
  std::vector<char> scratch_;
  session::WorkerContext context_;
  std::vector<net::ListenerPtr> listeners_;
  std::unordered_map<session::Session*, session::SessionPtr> sessions_;
  std::atomic<size_t> active_{0};
  bool draining_ = false;
  bool accept_paused_ = false;
  std::thread thread_;
};

using WorkerPtr = std::unique_ptr<Worker>;

}  // namespace imapgate::server
