#include "bench/loadgen/worker.h"

#include <event2/event.h>
#include <time.h>

#include "bench/loadgen/session.h"

namespace imapgate::bench {

uint64_t NowMicros() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

Worker::Worker(Shared* shared, int index, int concurrency, int idle_sessions)
    : shared_(shared), index_(index), concurrency_(concurrency), idle_target_(idle_sessions) {}

Worker::~Worker() {
  for (Session* s : live_) delete s;
  for (Session* s : dead_) delete s;
  if (control_ != nullptr) event_free(control_);
  if (sweep_ != nullptr) event_free(sweep_);
  if (reap_ != nullptr) event_free(reap_);
  if (cached_session_ != nullptr) SSL_SESSION_free(cached_session_);
  if (base_ != nullptr) event_base_free(base_);
}

std::string Worker::Init() {
  base_ = event_base_new();
  if (base_ == nullptr) return "event_base_new failed";
  control_ = event_new(base_, -1, EV_PERSIST, OnControl, this);
  sweep_ = event_new(base_, -1, EV_PERSIST, OnSweep, this);
  reap_ = event_new(base_, -1, 0, OnReap, this);
  if (control_ == nullptr || sweep_ == nullptr || reap_ == nullptr) return "event_new failed";
  event_add(control_, nullptr);  // never fires by itself; event_active() wakes it
  timeval half_second{0, 500000};
  event_add(sweep_, &half_second);
  read_buffer_.resize(64 * 1024);
  const Options& o = shared_->opts;
  size_t expected = 0;
  if (o.mode == Mode::kLogin || o.mode == Mode::kHandshake) expected = o.sessions / o.threads + 1;
  if (o.mode == Mode::kNoop) expected = o.noop_count / o.threads + 1;
  if (o.mode == Mode::kFetch) expected = o.fetch_count / o.threads + 1;
  stats_.latency.Reserve(expected);
  live_.reserve(o.mode == Mode::kIdle ? idle_target_ : concurrency_);
  return "";
}

void Worker::Run() {
  StartMore();
  MaybeReportReady();
  MaybeFinish();
  if (!finished_) event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  while (!dead_.empty()) {
    delete dead_.back();
    dead_.pop_back();
  }
}

void Worker::Go() {
  go_ = true;
  event_active(control_, EV_READ, 0);
}

void Worker::Release() {
  release_ = true;
  event_active(control_, EV_READ, 0);
}

void Worker::Stop() {
  stop_ = true;
  event_active(control_, EV_READ, 0);
}

void Worker::OnControl(int, short, void* arg) { static_cast<Worker*>(arg)->HandleControl(); }
void Worker::OnSweep(int, short, void* arg) { static_cast<Worker*>(arg)->Sweep(); }

void Worker::OnReap(int, short, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  for (Session* s : w->dead_) delete s;
  w->dead_.clear();
}

void Worker::HandleControl() {
  if (finished_) return;
  if (stop_ && !stopping_) {
    stopping_ = true;
    AbortAll(FailReason::kTimeout);
    // Sessions of this worker's share that never started are unfinished too.
    const Options& o = opts();
    if (o.mode == Mode::kIdle && started_ < static_cast<uint64_t>(idle_target_)) {
      stats_.Fail(FailReason::kTimeout, idle_target_ - started_);
      started_ = idle_target_;
    } else if ((o.mode == Mode::kNoop || o.mode == Mode::kFetch) &&
               started_ < static_cast<uint64_t>(concurrency_)) {
      stats_.Fail(FailReason::kTimeout, concurrency_ - started_);
      started_ = concurrency_;
    }
    MaybeFinish();
    return;
  }
  std::vector<Session*> snapshot = live_;
  if (go_ && !went_) {
    went_ = true;
    for (Session* s : snapshot) s->Go();
  }
  if (release_ && !went_) {
    went_ = true;
    for (Session* s : snapshot) s->Release();
  }
  MaybeFinish();
}

void Worker::Sweep() {
  uint64_t now = NowMicros();
  std::vector<Session*> expired;
  for (Session* s : live_) {
    if (s->deadline_us() != 0 && s->deadline_us() < now) expired.push_back(s);
  }
  for (Session* s : expired) s->Abort(FailReason::kTimeout);
}

void Worker::AbortAll(FailReason reason) {
  std::vector<Session*> snapshot = live_;
  for (Session* s : snapshot) s->Abort(reason);
}

const sockaddr_storage& Worker::target(socklen_t* len) const {
  *len = shared_->target_len;
  return shared_->target;
}

const std::pair<std::string, std::string>& Worker::UserFor(uint64_t index) const {
  return shared_->users[index % shared_->users.size()];
}

void Worker::OnNewSession(SSL_SESSION* session) {
  if (cached_session_ != nullptr) SSL_SESSION_free(cached_session_);
  cached_session_ = session;
}

void Worker::StartMore() {
  if (stopping_) return;
  const Options& o = opts();
  if (o.mode == Mode::kLogin || o.mode == Mode::kHandshake) {
    while (live_.size() < static_cast<size_t>(concurrency_)) {
      int64_t n = shared_->next_session.fetch_add(1);
      if (n >= o.sessions) return;
      auto* s = new Session(this, static_cast<uint64_t>(n));
      s->slot = live_.size();
      live_.push_back(s);
      ++started_;
      s->Start();
    }
    return;
  }
  uint64_t target = o.mode == Mode::kIdle ? idle_target_ : concurrency_;
  while (started_ < target && opening_ < concurrency_) {
    // Global index: spread users and source addresses evenly across threads.
    uint64_t index = started_ * o.threads + index_;
    auto* s = new Session(this, index);
    s->slot = live_.size();
    live_.push_back(s);
    ++started_;
    ++opening_;
    s->Start();
  }
}

void Worker::OnHeld(Session* s) {
  s->waited = true;
  ++stats_.held;
  shared_->held_total.fetch_add(1);
  --opening_;
  StartMore();
  MaybeReportReady();
}

void Worker::OnWarm(Session* s) {
  s->waited = true;
  --opening_;
  StartMore();
  if (went_) return s->Go();  // late (cannot happen: Go waits for every worker) but safe
  MaybeReportReady();
}

bool Worker::ClaimOp() { return shared_->ops_claimed.fetch_add(1) < shared_->ops_total; }

void Worker::OnFinished(Session* s, bool ok, FailReason reason) {
  if (ok) {
    ++stats_.ok;
  } else {
    stats_.Fail(reason);
  }
  // Swap-and-pop out of the live list; deletion waits for the reaper.
  size_t slot = s->slot;
  live_[slot] = live_.back();
  live_[slot]->slot = slot;
  live_.pop_back();
  if (dead_.empty()) event_active(reap_, EV_READ, 0);
  dead_.push_back(s);
  const Options& o = opts();
  if (o.mode != Mode::kLogin && o.mode != Mode::kHandshake && !s->waited) {
    --opening_;  // failed while opening: frees an opening slot
  }
  StartMore();
  MaybeReportReady();
  MaybeFinish();
}

void Worker::MaybeReportReady() {
  const Options& o = opts();
  if (reported_ready_ ||
      (o.mode != Mode::kIdle && o.mode != Mode::kNoop && o.mode != Mode::kFetch)) {
    return;
  }
  uint64_t target = o.mode == Mode::kIdle ? idle_target_ : concurrency_;
  if (started_ < target || opening_ > 0) return;
  reported_ready_ = true;
  std::lock_guard<std::mutex> lock(shared_->mu);
  ++shared_->ready_workers;
  shared_->cv.notify_all();
}

void Worker::MaybeFinish() {
  if (finished_ || !live_.empty()) return;
  const Options& o = opts();
  if (!stopping_) {
    if (o.mode == Mode::kLogin || o.mode == Mode::kHandshake) {
      if (shared_->next_session.load() < o.sessions) return;
    } else if (!went_) {
      return;  // wait for Go/Release (or Stop), even if every session failed
    }
  }
  finished_ = true;
  event_base_loopbreak(base_);
  std::lock_guard<std::mutex> lock(shared_->mu);
  ++shared_->finished_workers;
  shared_->cv.notify_all();
}

}  // namespace imapgate::bench
