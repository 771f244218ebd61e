#include "upstream/health_checker.h"

#include <algorithm>
#include <string>

#include "common/log.h"
#include "imap/response_parser.h"
#include "net/timer.h"

namespace imapgate::upstream {
namespace {

constexpr size_t kScratchBytes = 16384;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

Status HealthCheckOptions::Validate() const {
  if (interval.count() <= 0) return InvalidArgument("health check interval must be positive");
  if (timeout.count() <= 0) return InvalidArgument("health check timeout must be positive");
  if (!(jitter >= 0 && jitter <= 0.5))
    return InvalidArgument("health check jitter must be between 0 and 0.5");
  return Status::Ok();
}

health::CheckOutcome ClassifyCheckFailure(std::string_view d) {
  using health::CheckOutcome;
  if (Contains(d, "timeout")) return CheckOutcome::kTimeout;
  if (StartsWith(d, "connect") || StartsWith(d, "socket")) return CheckOutcome::kConnectFailed;
  if (Contains(d, "TLS") || Contains(d, "SSL")) return CheckOutcome::kTlsFailed;
  if (Contains(d, "greeting") || d == "backend said BYE") return CheckOutcome::kBadGreeting;
  return CheckOutcome::kProtocolError;
}

std::chrono::milliseconds JitteredInterval(std::chrono::milliseconds interval, double jitter,
                                           double u) {
  jitter = std::clamp(jitter, 0.0, 0.5);
  u = std::clamp(u, 0.0, 1.0);
  const double ms = static_cast<double>(interval.count()) * (1.0 + jitter * (2.0 * u - 1.0));
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(ms)));
}

// One backend's checks: a timer for the next check, one for the check's deadline and one for
// the connector; the connector while connecting, then the greeted connection.
class HealthChecker::Probe final : public ConnectorClient, public net::IoHandler {
 public:
  Probe(HealthChecker* owner, HealthCheckTarget t)
      : owner_(owner), target_(std::move(t.target)), index_(t.index) {
    target_.connect_timeout = owner->options_.timeout;
    target_.login_timeout = owner->options_.timeout;
  }
  ~Probe() override = default;  // timers cancel; connector and connection close their sockets

  Status Init() {
    auto next = net::Timer::Create(owner_->loop_, [this] { StartCheck(); });
    if (!next.ok()) return next.status();
    auto deadline = net::Timer::Create(owner_->loop_, [this] { OnDeadline(); });
    if (!deadline.ok()) return deadline.status();
    auto connector = net::Timer::Create(owner_->loop_, [this] {
      if (connector_) connector_->OnTimer();
    });
    if (!connector.ok()) return connector.status();
    next_timer_ = std::move(*next);
    deadline_timer_ = std::move(*deadline);
    connector_timer_ = std::move(*connector);
    return Status::Ok();
  }

  void Schedule(std::chrono::milliseconds delay) { next_timer_->Arm(delay); }

  void OnBackendReady(BackendConnection c) override {
    // Inside the connector's callback: it is done but must live until later (Close defers it).
    conn_ = std::move(c.connection);
    input_ = std::move(c.input);
    conn_.watcher().set_handler(this);
    if (target_.security == BackendSecurityMode::kStartTls) {
      Succeed();  // the connector's CAPABILITY over TLS was answered OK
      return;
    }
    phase_ = Phase::kCapability;
    if (!Send("H1 CAPABILITY\r\n")) return;
    if (!HandleBufferedLines()) return;
    if (c.tls != nullptr && c.tls->HasBufferedInput()) conn_.watcher().ActivateRead();
    conn_.UpdateInterest(true);
  }

  void OnBackendFailed(std::string detail) override { Fail(ClassifyCheckFailure(detail), detail); }

  void OnIo(net::IoWatcher*, bool readable, bool writable) override {
    if (!conn_.open() || phase_ == Phase::kIdle) return;
    if (writable && conn_.Flush() == net::IoStatus::kError) {
      Fail(health::CheckOutcome::kProtocolError, "backend write error");
      return;
    }
    if (conn_.ShouldRead(readable, writable) && !ReadLines()) return;
    if (conn_.open()) conn_.UpdateInterest(true);
  }

 private:
  enum class Phase { kIdle, kConnecting, kCapability, kLogout };

  void StartCheck() {
    Retire();
    phase_ = Phase::kConnecting;
    deadline_timer_->Arm(owner_->options_.timeout);
    auto c = BackendConnector::Start(owner_->loop_, owner_->time_, target_, connector_timer_.get(),
                                     this, owner_->scratch_.data(), owner_->scratch_.size(),
                                     /*require_capability=*/false);
    if (!c.ok()) {
      Fail(health::CheckOutcome::kProtocolError, c.status().message());
      return;
    }
    connector_ = std::move(*c);  // may be done already (a failed connect reported inside Start)
  }

  void OnDeadline() {
    switch (phase_) {
      case Phase::kConnecting:
      case Phase::kCapability:
        Fail(health::CheckOutcome::kTimeout, "check timeout");
        return;
      case Phase::kLogout:  // already reported: only the goodbye was slow
        Close();
        return;
      case Phase::kIdle:
        return;
    }
  }

  void Succeed() {
    Report(health::CheckOutcome::kOk, "");
    phase_ = Phase::kLogout;  // the deadline stays armed for the goodbye
    if (!Send("H2 LOGOUT\r\n")) return;
    conn_.UpdateInterest(true);
  }

  void Fail(health::CheckOutcome outcome, std::string_view detail) {
    if (phase_ == Phase::kIdle) return;
    if (phase_ == Phase::kLogout) {  // the result is in; a failing goodbye changes nothing
      Close();
      return;
    }
    Report(outcome, detail);
    Close();
  }

  void Report(health::CheckOutcome outcome, std::string_view detail) {
    HealthChecker& o = *owner_;
    o.table_->RecordCheck(index_, outcome, detail, o.time_->WallNow());
    ++o.checks_finished_;
    if (outcome != health::CheckOutcome::kOk && LogEnabled(LogLevel::kDebug)) {
      LogEvent(LogLevel::kDebug, "health_check")
          .Add("backend", target_.label)
          .Add("result", health::CheckOutcomeName(outcome))
          .Add("detail", detail);
    }
    Schedule(o.NextDelay());
    if (o.on_result_) o.on_result_(index_, outcome);
  }

  bool Send(std::string_view command) {
    conn_.Queue(command);
    if (conn_.Flush() == net::IoStatus::kError) {
      Fail(health::CheckOutcome::kProtocolError, "backend write error");
      return false;
    }
    return true;
  }

  // Reads what the socket holds; false once the check ended (the connection is closed).
  bool ReadLines() {
    char* scratch = owner_->scratch_.data();
    const size_t size = owner_->scratch_.size();
    for (int round = 0; round < 16; ++round) {
      net::IoResult r = conn_.Read(scratch, size);
      if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite)
        return true;
      if (r.status != net::IoStatus::kOk) {
        Fail(health::CheckOutcome::kProtocolError, r.status == net::IoStatus::kEof
                                                       ? "backend closed the connection"
                                                       : "backend read error");
        return false;
      }
      input_.append(scratch, r.bytes);
      if (!HandleBufferedLines()) return false;
      if (!conn_.transport().HasBufferedInput() && r.bytes < size) return true;
    }
    conn_.watcher().ActivateRead();
    return true;
  }

  // Handles the complete lines in input_; false once the check ended.
  bool HandleBufferedLines() {
    for (;;) {
      const size_t nl = input_.find('\n');
      if (nl == std::string::npos) break;
      if (nl > target_.max_line_bytes) break;
      std::string line = input_.substr(0, nl);
      input_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!HandleLine(line)) return false;
    }
    if (input_.size() > target_.max_line_bytes) {
      Fail(health::CheckOutcome::kProtocolError, "backend response line too long");
      return false;
    }
    return true;
  }

  bool HandleLine(std::string_view raw) {
    const imap::ResponseLine line = imap::ParseResponseLine(raw);
    if (phase_ == Phase::kLogout) {
      if (line.kind == imap::ResponseKind::kTagged) {
        Close();  // the goodbye is complete
        return false;
      }
      return true;
    }
    if (line.ends_with_literal) {
      Fail(health::CheckOutcome::kProtocolError, "backend sent a literal before login");
      return false;
    }
    if (line.kind == imap::ResponseKind::kUntagged && line.status == imap::ResponseStatus::kBye) {
      Fail(health::CheckOutcome::kProtocolError, "backend said BYE to CAPABILITY");
      return false;
    }
    if (line.kind != imap::ResponseKind::kTagged) return true;
    if (line.tag != "H1" || line.status != imap::ResponseStatus::kOk) {
      Fail(health::CheckOutcome::kProtocolError, "backend CAPABILITY failed");
      return false;
    }
    Succeed();
    return conn_.open();
  }

  // Ends the check's I/O. The connector and the connection may be in their own callbacks, so
  // they are released from the loop after the current callback (their I/O stopped now).
  void Close() {
    phase_ = Phase::kIdle;
    deadline_timer_->Cancel();
    connector_timer_->Cancel();
    if (conn_.open()) conn_.StopWatching();
    input_.clear();
    // A connector still working is not inside its own callback (it calls us only once done),
    // and its armed watcher must not report into a later check: it goes now.
    if (connector_ && !connector_->done()) connector_.reset();
    auto connector = std::shared_ptr<BackendConnector>(std::move(connector_));
    auto conn = std::make_shared<net::BufferedConnection>(std::move(conn_));
    owner_->loop_->Defer([connector, conn] {});
  }

  // Drops what a previous check left (from a timer callback: nothing of it is on the stack).
  void Retire() {
    connector_.reset();
    conn_ = net::BufferedConnection();
    input_.clear();
  }

  HealthChecker* owner_;
  BackendTarget target_;  // the connector keeps a reference: it lives as long as the probe
  size_t index_;
  Phase phase_ = Phase::kIdle;
  net::TimerPtr next_timer_;
  net::TimerPtr deadline_timer_;
  net::TimerPtr connector_timer_;
  BackendConnectorPtr connector_;
  net::BufferedConnection conn_;
  std::string input_;
};

HealthChecker::HealthChecker(net::EventLoop* loop, const TimeSource* time,
                             health::BackendHealthTable* table, const HealthCheckOptions& options,
                             ResultFn on_result)
    : loop_(loop),
      time_(time),
      table_(table),
      options_(options),
      on_result_(std::move(on_result)),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()),
      scratch_(kScratchBytes) {}

HealthChecker::~HealthChecker() = default;

StatusOr<std::unique_ptr<HealthChecker>> HealthChecker::Start(
    net::EventLoop* loop, const TimeSource* time, health::BackendHealthTable* table,
    std::vector<HealthCheckTarget> targets, const HealthCheckOptions& options, ResultFn on_result) {
  if (loop == nullptr || time == nullptr || table == nullptr) {
    return InvalidArgument("health checker without loop, time source or table");
  }
  if (Status valid = options.Validate(); !valid.ok()) return valid;
  for (const HealthCheckTarget& t : targets) {
    if (t.index >= table->size())
      return InvalidArgument("health check of " + t.target.label + ": no table entry");
    if (t.target.security != BackendSecurityMode::kPlaintext && t.target.tls == nullptr) {
      return InvalidArgument("health check of " + t.target.label +
                             ": TLS link without a TLS context");
    }
  }
  std::unique_ptr<HealthChecker> checker(
      new HealthChecker(loop, time, table, options, std::move(on_result)));
  for (HealthCheckTarget& t : targets) {
    auto probe = std::make_unique<Probe>(checker.get(), std::move(t));
    if (Status s = probe->Init(); !s.ok()) return s;
    checker->probes_.push_back(std::move(probe));
  }
  for (auto& probe : checker->probes_) probe->Schedule(checker->FirstDelay());
  return checker;
}

std::chrono::milliseconds HealthChecker::NextDelay() {
  return JitteredInterval(options_.interval, options_.jitter,
                          std::uniform_real_distribution<double>(0, 1)(rng_));
}

std::chrono::milliseconds HealthChecker::FirstDelay() {
  if (!options_.spread_first_check) return std::chrono::milliseconds(0);
  const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(options_.interval.count()) * u));
}

}  // namespace imapgate::upstream
