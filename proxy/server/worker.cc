#include "server/worker.h"

#include "common/log.h"

namespace imapgate::server {
namespace {
// The shared read buffer of a worker: every read of every session lands here first.
constexpr size_t kScratchBytes = 64 * 1024;
}  // namespace

StatusOr<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options) {
  std::unique_ptr<Worker> w(new Worker(options));
  auto loop = net::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  w->loop_ = std::move(*loop);
  w->scratch_.resize(kScratchBytes);
  w->context_.loop = w->loop_.get();
  w->context_.metrics = options.metrics;
  w->context_.time = options.time;
  w->context_.backend = options.backend;
  w->context_.relay = options.relay;
  w->context_.scratch = w->scratch_.data();
  w->context_.scratch_size = w->scratch_.size();
  w->context_.id_prefix = options.id_prefix;
  Worker* raw = w.get();
  w->context_.on_session_done = [raw](session::Session* s) { raw->OnSessionDone(s); };
  for (const ListenerSpec& spec : *options.listeners) {
    auto fd = net::ListenOn(spec.address, /*reuse_port=*/true);
    if (!fd.ok()) return Status(fd.status().code(), "listener " + spec.context.name + ": " + fd.status().message());
    const ListenerSpec* spec_ptr = &spec;
    auto listener = net::Listener::Create(w->loop_.get(), std::move(*fd),
                                          [raw, spec_ptr](net::UniqueFd client, const net::SocketAddress& peer) {
                                            raw->Accept(*spec_ptr, std::move(client), peer);
                                          });
    if (!listener.ok()) return listener.status();
    w->listeners_.push_back(std::move(*listener));
  }
  return w;
}

Worker::~Worker() {
  Join();
  listeners_.clear();
  sessions_.clear();  // closes every socket this worker still holds
  loop_.reset();      // runs deferred deletions first
}

void Worker::StartThread() {
  thread_ = std::thread([this] { loop_->Run(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::BeginDrain() {
  loop_->Post([this] {
    draining_ = true;
    for (auto& l : listeners_) l->Pause();
  });
}

void Worker::Stop() {
  loop_->Post([this] {
    draining_ = true;
    for (auto& l : listeners_) l->Pause();
    std::vector<session::Session*> all;
    for (auto& [raw, owned] : sessions_) all.push_back(raw);
    for (session::Session* s : all) s->Shutdown();
    loop_->Stop();
  });
}

void Worker::Accept(const ListenerSpec& spec, net::UniqueFd fd, const net::SocketAddress& peer) {
  auto s = session::Session::Create(&context_, &spec.context, std::move(fd), peer);
  if (!s.ok()) {
    LogEvent(LogLevel::kError, "session_create_failed").Add("error", s.status().message());
    return;
  }
  session::Session* raw = s->get();
  sessions_.emplace(raw, std::move(*s));
  active_.store(sessions_.size(), std::memory_order_relaxed);
  UpdateAccepting();
  raw->Start();
}

void Worker::OnSessionDone(session::Session* s) {
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  session::Session* raw = it->second.release();
  sessions_.erase(it);
  active_.store(sessions_.size(), std::memory_order_relaxed);
  loop_->Post([raw] { delete raw; });  // never inside the session's own callback
  UpdateAccepting();
}

void Worker::UpdateAccepting() {
  if (draining_) return;
  bool full = sessions_.size() >= options_.max_sessions;
  if (full == accept_paused_) return;
  accept_paused_ = full;
  for (auto& l : listeners_) full ? l->Pause() : l->Resume();
  if (full) LogEvent(LogLevel::kWarn, "accept_paused").Add("reason", "max_sessions_per_worker reached");
}

}  // namespace imapgate::server
