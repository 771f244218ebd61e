// imapgate-loadgen: the benchmark load generator (the CLI is UsageText() in options.cc).
// The main thread parses, plans and coordinates; each --threads worker runs
// its own libevent loop (worker.h). Exit status: 0 all sessions ok, 3 some failed (the report is
// still printed), 2 usage error, 1 setup error.
#include <arpa/inet.h>
#include <event2/thread.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "bench/loadgen/options.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/tls_client.h"
#include "bench/loadgen/worker.h"

namespace imapgate::bench {
namespace {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Raises RLIMIT_NOFILE to its hard limit; error text if that is below `need`.
std::string RaiseFileLimit(uint64_t need) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return std::string("getrlimit: ") + strerror(errno);
  if (rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return std::string("setrlimit: ") + strerror(errno);
  }
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    return "need " + std::to_string(need) + " file descriptors but the hard RLIMIT_NOFILE is " +
           std::to_string(rl.rlim_max) + " (raise it: ulimit -Hn, or lower the session count)";
  }
  return "";
}

int Main(int argc, char** argv) {
  ParseResult parsed = ParseOptions(argc, argv);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    std::fprintf(stderr, "imapgate-loadgen: %s\n%s", err->c_str(), UsageText().c_str());
    return 2;
  }
  auto shared = std::make_unique<Shared>();
  shared->opts = std::get<Options>(parsed);
  Options& o = shared->opts;
  if (o.help) {
    std::fputs(UsageText().c_str(), stdout);
    return 0;
  }
  if (!o.users_file.empty()) {
    auto users = LoadUsersFile(o.users_file);
    if (auto* err = std::get_if<std::string>(&users)) {
      std::fprintf(stderr, "imapgate-loadgen: %s\n", err->c_str());
      return 2;
    }
    shared->users = std::move(std::get<0>(users));
  } else {
    shared->users.emplace_back(o.user, o.password);
  }
  if (o.host == "::1") {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&shared->target);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(o.port));
    inet_pton(AF_INET6, "::1", &sa->sin6_addr);
    shared->target_len = sizeof *sa;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&shared->target);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(o.port));
    inet_pton(AF_INET, o.host.c_str(), &sa->sin_addr);
    shared->target_len = sizeof *sa;
  }
  int per_run = o.mode == Mode::kIdle ? o.idle_sessions : o.concurrency;
  if (o.mode == Mode::kLogin || o.mode == Mode::kHandshake)
    per_run = std::min(o.concurrency, o.sessions);
  if (o.threads > per_run) o.threads = per_run;
  std::string err = RaiseFileLimit(static_cast<uint64_t>(per_run) + 16 + 8 * o.threads);
  if (!err.empty()) {
    std::fprintf(stderr, "imapgate-loadgen: %s\n", err.c_str());
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  evthread_use_pthreads();
  std::unique_ptr<TlsClient> tls;
  if (o.tls != TlsMode::kNone) {
    auto created = TlsClient::Create(o.cafile, o.resume, o.tls12);
    if (auto* e = std::get_if<std::string>(&created)) {
      std::fprintf(stderr, "imapgate-loadgen: %s\n", e->c_str());
      return 1;
    }
    tls.reset(std::get<TlsClient*>(created));
    shared->ssl_ctx = tls->ctx();
  }
  shared->ops_total = o.mode == Mode::kNoop ? o.noop_count : o.fetch_count;

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.threads; ++i) {
    int conc = o.concurrency / o.threads + (i < o.concurrency % o.threads ? 1 : 0);
    int idle = o.idle_sessions / o.threads + (i < o.idle_sessions % o.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(shared.get(), i, std::max(conc, 1), idle));
    err = workers.back()->Init();
    if (!err.empty()) {
      std::fprintf(stderr, "imapgate-loadgen: %s\n", err.c_str());
      return 1;
    }
  }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::seconds(o.max_seconds);
  double cpu_start = CpuSeconds();
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });

  RunTimes times;
  bool stopped = false;
  auto stop_all = [&] {
    if (stopped) return;
    stopped = true;
    for (auto& w : workers) w->Stop();
  };
  // Waits until pred() or the deadline; false on deadline.
  std::unique_lock<std::mutex> lock(shared->mu);
  auto wait = [&](auto pred, Clock::time_point until) {
    return shared->cv.wait_until(lock, until, pred);
  };
  auto all_ready = [&] { return shared->ready_workers == o.threads; };
  auto all_finished = [&] { return shared->finished_workers == o.threads; };
  Clock::time_point phase_start = start;
  if (o.mode == Mode::kIdle || o.mode == Mode::kNoop || o.mode == Mode::kFetch) {
    bool ready = wait(all_ready, deadline);
    phase_start = Clock::now();
    times.open_s = std::chrono::duration<double>(phase_start - start).count();
    if (!ready) {
      stop_all();
    } else if (o.mode == Mode::kIdle) {
      std::printf("HELD %llu\n", (unsigned long long)shared->held_total.load());
      std::fflush(stdout);
      Clock::time_point until =
          std::min(deadline, Clock::now() + std::chrono::seconds(o.hold_seconds));
      wait([] { return false; }, until);
      if (Clock::now() >= deadline) stop_all();
      for (auto& w : workers) w->Release();
      phase_start = start;  // idle reports the whole run
    } else {
      cpu_start = CpuSeconds();
      for (auto& w : workers) w->Go();
    }
  }
  if (!wait(all_finished, deadline)) {
    stop_all();
    wait(all_finished, Clock::now() + std::chrono::seconds(30));
  }
  times.elapsed_s = std::chrono::duration<double>(Clock::now() - phase_start).count();
  times.cpu_s = CpuSeconds() - cpu_start;
  lock.unlock();
  for (auto& t : threads) t.join();

  RunStats total;
  for (auto& w : workers) total.Merge(w->stats());
  if (o.mode == Mode::kLogin || o.mode == Mode::kHandshake) {
    int64_t claimed = std::min<int64_t>(shared->next_session.load(), o.sessions);
    if (claimed < o.sessions) total.Fail(FailReason::kTimeout, o.sessions - claimed);
  }
  if (stopped) std::fprintf(stderr, "imapgate-loadgen: --max-seconds %d reached\n", o.max_seconds);
  std::fputs(FormatText(o, total, times).c_str(), stdout);
  if (o.json) std::printf("%s\n", FormatJson(o, total, times).c_str());
  std::fflush(stdout);
  workers.clear();
  return total.failed() == 0 ? 0 : 3;
}

}  // namespace
}  // namespace imapgate::bench

int main(int argc, char** argv) { return imapgate::bench::Main(argc, argv); }
