#include "auth/auth_step.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <utility>

#include "auth/auth_http.h"
#include "auth/file_check.h"
#include "auth/push_hook.h"
#include "common/log.h"
#include "login/ticket_registry.h"
#include "net/timer.h"
#include "route/normalize.h"

namespace imapgate::auth {
namespace {

using config::AuthSourceConfig;
using login::RejectReason;
using login::Verdict;

double SecondsSince(const TimeSource* time, std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(time->MonotonicNow() - start).count();
}

int64_t UnixNow(const TimeSource* time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time->WallNow().time_since_epoch()).count();
}

// nginx's Auth-Method for the login's mechanism.
std::string AuthHttpMethod(const login::LoginAttempt& attempt) {
  if (!attempt.bearer) return "plain";
  return attempt.mechanism == "XOAUTH2" ? "xoauth2" : "oauthbearer";
}

// One login's run through the chain and the second factor. States:
//   kSource (asking source position_) → kHashing (file: a pool job in flight) or kHttp (an
//   auth_http request in flight) → [kWaiting (Auth-Wait before a NO)] → [kPush (the hook's
//   request in flight) ⇄ kPushPoll (waiting to ask again)] → done (context.Done, once).
class AuthRequest final : public login::StepRequest {
 public:
  AuthRequest(WorkerAuth& w, size_t listener, login::LoginAttempt& attempt, login::StepContext& context)
      : w_(w), chain_(w.plan().listener_chains[listener]), attempt_(attempt), context_(context) {}
  ~AuthRequest() override { gone_->store(true, std::memory_order_release); }

  void Start() {
    std::optional<std::string> user = route::NormalizedUser(attempt_.user, w_.plan().default_domain);
    if (!user) {
      Finish(Verdict::Reject(RejectReason::kAuthFailed, "user name cannot be normalized"));
      return;
    }
    user_ = std::move(*user);
    RunSource(0);
  }

  // From the hash pool (through PostToRequest).
  void OnFileChecked(FileCheck check) {
    if (state_ != State::kHashing) return;
    state_ = State::kSource;
    const SourcePlan& source = Source();
    switch (check.kind) {
      case FileCheck::Kind::kUnknownUser:
        if (source.config.unknown_users_next) {
          CountSource("not_mine");
          RunSource(position_ + 1);
          return;
        }
        CountSource("fail");
        Finish(Verdict::Reject(RejectReason::kAuthFailed, "unknown user"));
        return;
      case FileCheck::Kind::kBadPassword:
        CountSource("fail");
        Finish(Verdict::Reject(RejectReason::kAuthFailed, "wrong password"));
        return;
      case FileCheck::Kind::kPassword:
      case FileCheck::Kind::kAppPassword:
        break;
    }
    RememberInCache(check);
    CountSource("ok");
    AfterPrimary(std::move(check));
  }

 private:
  enum class State { kSource, kHashing, kHttp, kWaiting, kPush, kPushPoll, kDone };

  const SourcePlan& Source() const { return w_.plan().sources[chain_[position_]]; }

  void RunSource(size_t position) {
    position_ = position;
    if (position_ >= chain_.size()) {
      Finish(Verdict::Reject(RejectReason::kAuthFailed, "no auth source knows the user"));
      return;
    }
    source_started_ = w_.time()->MonotonicNow();
    const SourcePlan& source = Source();
    switch (source.config.type) {
      case AuthSourceConfig::Type::kBackend:
        CountSource("pass_through");
        Finish(Verdict::Continue());  // the backend login checks the client's own credentials
        return;
      case AuthSourceConfig::Type::kFile:
        RunFile(source);
        return;
      case AuthSourceConfig::Type::kHttp:
        RunHttp(position_);
        return;
    }
  }

  // ---- file ---------------------------------------------------------------------------------

  std::array<uint8_t, 32> CacheKey(std::string_view secret) const {
    // The users file's path and version: another file, or a changed one, is checked again.
    return w_.plan().services->hasher().Hash(
        {"auth-cache", Source().users->path(), std::to_string(users_.version), user_, secret});
  }

  void RunFile(const SourcePlan& source) {
    if (attempt_.bearer) {  // a users file holds passwords, not bearer tokens
      CountSource("not_mine");
      RunSource(position_ + 1);
      return;
    }
    users_ = source.users->Get();
    if (!users_.db) {
      CountSource("unavailable");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "users file not loaded"));
      return;
    }
    if (std::optional<FileCheck> cached = FromCache()) {
      CountSource("ok");
      AfterPrimary(std::move(*cached));
      return;
    }
    AuthServices& services = *w_.plan().services;
    auto db = users_.db;
    auto secret = std::make_shared<SecretString>(attempt_.password.view());
    net::EventLoop* loop = w_.loop();
    login::TicketRegistry* tickets = w_.tickets();
    login::Ticket ticket = context_.ticket();
    std::string user = user_;
    state_ = State::kHashing;
    auto gone = gone_;
    const bool queued = services.Submit([db, secret, loop, tickets, ticket, user, gone] {
      // A login that ended while its check waited (the client left, a timeout): no hash for
      // nobody (a flood's queue would otherwise be hashed long after its clients went).
      if (gone->load(std::memory_order_acquire)) return;
      auto check = std::make_shared<FileCheck>(CheckUsersFile(*db, user, secret->view()));
      login::PostToRequest(loop, tickets, ticket, [check](login::StepRequest& r) {
        static_cast<AuthRequest&>(r).OnFileChecked(std::move(*check));
      });
    });
    if (!queued) {
      state_ = State::kSource;
      if (w_.metrics()) w_.metrics()->HashPoolRejected();
      CountSource("unavailable");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "hash pool full"));
    }
  }

  // A primary check the cache remembers: the whole secret (an app password, or a password
  // without a second factor), or under TOTP the password with the code split off (the code is
  // then checked as always: the cache never makes a code reusable).
  std::optional<FileCheck> FromCache() {
    ExpiringCache<CachedCheck>* cache = w_.plan().services->cache();
    if (cache == nullptr) return std::nullopt;
    const UserRecord* record = users_.db->Find(user_);
    if (record == nullptr) return std::nullopt;
    const int64_t now = UnixNow(w_.time());
    const std::string_view secret = attempt_.password.view();
    if (std::optional<CachedCheck> hit = cache->Get(CacheKey(secret), now)) {
      FileCheck check;
      if (hit->app_password) {
        check.kind = FileCheck::Kind::kAppPassword;
        check.app_password = hit->app_password_name;
        return check;
      }
      if (users_.db->PolicyFor(*record) != SecondFactorPolicy::kTotp) {
        check.kind = FileCheck::Kind::kPassword;
        check.backend_password = SecretString(secret);
        return check;
      }
    }
    if (users_.db->PolicyFor(*record) == SecondFactorPolicy::kTotp) {
      if (auto split = SplitOtpSuffix(secret, 6)) {
        std::optional<CachedCheck> hit = cache->Get(CacheKey(split->password), now);
        if (hit && !hit->app_password) {
          FileCheck check;
          check.kind = FileCheck::Kind::kPassword;
          check.backend_password = SecretString(split->password);
          check.code = SecretString(split->code);
          return check;
        }
      }
    }
    return std::nullopt;
  }

  void RememberInCache(const FileCheck& check) {
    AuthServices& services = *w_.plan().services;
    ExpiringCache<CachedCheck>* cache = services.cache();
    if (cache == nullptr) return;
    const int64_t expires = UnixNow(w_.time()) +
                            std::chrono::duration_cast<std::chrono::seconds>(services.cache_ttl()).count();
    CachedCheck entry;
    if (check.kind == FileCheck::Kind::kAppPassword) {
      entry.app_password = true;
      entry.app_password_name = check.app_password;
      cache->Put(CacheKey(attempt_.password.view()), entry, expires);
    } else {
      cache->Put(CacheKey(check.backend_password.view()), entry, expires);
    }
  }

  void AfterPrimary(FileCheck check) {
    const UserRecord* record = users_.db->Find(user_);
    if (record == nullptr) {  // cannot happen: the check found the user in this snapshot
      Finish(Verdict::Reject(RejectReason::kAuthFailed, "unknown user"));
      return;
    }
    if (check.kind == FileCheck::Kind::kAppPassword) {
      for (const AppPassword& app : record->app_passwords) {
        if (app.name == check.app_password &&
            w_.plan().services->IsAppPasswordRevoked(user_, app.name, app.hash.encoded)) {
          CountFactor2("app_password", "fail");
          Finish(Verdict::Reject(RejectReason::kAuthFailed, "app password revoked"));
          return;
        }
      }
    }
    if (record->shard) route_ = login::Route{*record->shard, "", "auth"};
    app_password_ = check.app_password;
    // The backend gets the password without the code (pass-through), or a master user.
    if (check.kind == FileCheck::Kind::kPassword) attempt_.password = std::move(check.backend_password);
    SecondFactorState state;
    AuthServices& services = *w_.plan().services;
    state.replay = &services.replay();
    state.remembered = &services.remembered();
    state.hasher = &services.hasher();
    state.remember_seconds = w_.plan().remember_seconds;
    const SecondFactorPolicy policy = users_.db->PolicyFor(*record);
    const FactorResult result = DecideSecondFactor(check, *record, policy, user_, Device(), UnixNow(w_.time()), state);
    CountFactor(result);
    if (FactorPassed(result)) {
      Accept();
      return;
    }
    if (result == FactorResult::kPushNeeded) {
      StartPush();
      return;
    }
    Finish(Verdict::Reject(RejectReason::kAuthFailed, std::string("second factor: ") + FactorResultName(result)));
  }

  std::string Device() const { return attempt_.client.Host(); }

  // ---- http (nginx auth_http) ---------------------------------------------------------------

  void RunHttp(size_t position) {
    httpc::HttpClient* client = w_.http(chain_[position]);
    if (client == nullptr) {
      CountSource("unavailable");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "auth service client missing"));
      return;
    }
    AuthHttpQuery q;
    q.method = AuthHttpMethod(attempt_);
    q.user = attempt_.user;
    q.pass = &attempt_.password;
    q.login_attempt = attempt_.number;
    q.client_ip = attempt_.client.Host();
    q.ssl = attempt_.client_tls;
    q.ssl_protocol = attempt_.tls_version;
    httpc::HttpRequest request;
    request.method = "GET";
    request.path = "";  // the source URL's own path and query
    request.headers = BuildAuthHttpHeaders(q);
    state_ = State::kHttp;
    call_ = client->Send(std::move(request), [this](StatusOr<httpc::HttpResponse> response) {
      OnHttpAnswer(std::move(response));
    });
  }

  void OnHttpAnswer(StatusOr<httpc::HttpResponse> response) {
    if (state_ != State::kHttp) return;
    state_ = State::kSource;
    w_.loop()->Defer([call = std::shared_ptr<httpc::HttpCall>(std::move(call_))] {});  // we are in its callback
    if (!response.ok()) {
      CountSource("unavailable");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "auth service: " + response.status().message()));
      return;
    }
    AuthHttpAnswer answer = ParseAuthHttpAnswer(response->status, response->headers);
    switch (answer.kind) {
      case AuthHttpAnswer::Kind::kInvalid:
        CountSource("unavailable");
        Finish(Verdict::Reject(RejectReason::kUnavailable, "auth service gave an invalid answer"));
        return;
      case AuthHttpAnswer::Kind::kFail:
        CountSource("fail");
        if (answer.wait_seconds && *answer.wait_seconds > 0) {
          refusal_text_ = answer.message;
          WaitThenReject(std::chrono::seconds(*answer.wait_seconds));
          return;
        }
        Finish(RefusedBy(answer.message));
        return;
      case AuthHttpAnswer::Kind::kOk:
        break;
    }
    if (answer.server) {
      const login::PoolBackend* target = nullptr;
      for (const login::PoolBackend& b : w_.pool()->backends) {
        if (b.target.address.Host() == *answer.server && (!answer.port || b.target.address.Port() == *answer.port)) {
          target = &b;
          break;
        }
      }
      if (target == nullptr) {
        CountSource("unavailable");
        Finish(Verdict::Reject(RejectReason::kUnavailable, "auth service routed to an address that is no configured backend"));
        return;
      }
      route_ = login::Route{w_.pool()->shards[target->shard].name, target->name, "auth"};
    }
    if (answer.user || answer.pass) {
      upstream::ClientOwnCredentials c;
      c.user = SecretString(answer.user ? *answer.user : attempt_.user);
      c.password = answer.pass ? std::move(*answer.pass) : SecretString(attempt_.password.view());
      credentials_ = upstream::BackendCredentials(std::move(c));
    }
    CountSource("ok");
    Accept();
  }

  // The auth service's refusal: its Auth-Status text goes to the client's NO, as with nginx.
  static Verdict RefusedBy(const std::string& text) {
    Verdict v = Verdict::Reject(RejectReason::kAuthFailed, "auth service refused");
    v.client_text = text;
    return v;
  }

  void WaitThenReject(std::chrono::milliseconds wait) {
    state_ = State::kWaiting;
    if (!EnsureTimer()) {
      Finish(RefusedBy(refusal_text_));
      return;
    }
    timer_->Arm(wait);
  }

  // ---- push approval ------------------------------------------------------------------------

  void StartPush() {
    if (w_.push() == nullptr) {
      CountFactor2("push", "error");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "push hook not configured"));
      return;
    }
    push_deadline_ = w_.time()->MonotonicNow() + w_.plan().push.timeout;
    SendPush();
  }

  void SendPush() {
    PushQuery q;
    q.user = user_;
    q.session_id = attempt_.session_id;
    q.client_ip = attempt_.client.Host();
    q.client_port = attempt_.client.Port();
    q.tls_version = attempt_.tls_version;
    q.sni = attempt_.tls_server_name;
    q.client_id = attempt_.client_id;
    q.mechanism = attempt_.mechanism;
    q.attempt = attempt_.number;
    q.transaction = push_transaction_;
    httpc::HttpRequest request;
    request.method = "POST";
    request.path = "";  // the hook URL's own path and query
    request.headers.emplace_back("Content-Type", SecretString("application/json"));
    request.body = SecretString(BuildPushRequestBody(q));
    state_ = State::kPush;
    // The whole approval is bounded by push.timeout, also while a request is in flight.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(push_deadline_ - w_.time()->MonotonicNow());
    if (left.count() <= 0 || !EnsureTimer()) {
      CountFactor2("push", "timeout");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "push approval timed out"));
      return;
    }
    timer_->Arm(left);
    call_ = w_.push()->Send(std::move(request), [this](StatusOr<httpc::HttpResponse> response) {
      OnPushAnswer(std::move(response));
    });
  }

  void OnPushAnswer(StatusOr<httpc::HttpResponse> response) {
    if (state_ != State::kPush) return;
    timer_->Cancel();
    w_.loop()->Defer([call = std::shared_ptr<httpc::HttpCall>(std::move(call_))] {});
    if (!response.ok()) {
      CountFactor2("push", "error");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "push hook: " + response.status().message()));
      return;
    }
    StatusOr<PushAnswer> answer = ParsePushAnswer(response->status, response->body.view());
    if (!answer.ok()) {
      CountFactor2("push", "error");
      Finish(Verdict::Reject(RejectReason::kUnavailable, answer.status().message()));
      return;
    }
    switch (answer->result) {
      case PushAnswer::Result::kAllow: {
        CountFactor2("push", "ok");
        AuthServices& services = *w_.plan().services;
        SecondFactorState state;
        state.remembered = &services.remembered();
        state.hasher = &services.hasher();
        state.remember_seconds = w_.plan().remember_seconds;
        RememberDevice(state, user_, Device(), UnixNow(w_.time()));
        Accept();
        return;
      }
      case PushAnswer::Result::kDeny:
        CountFactor2("push", "denied");
        Finish(Verdict::Reject(RejectReason::kAuthFailed, "push denied"));
        return;
      case PushAnswer::Result::kPending:
        break;
    }
    push_transaction_ = std::move(answer->transaction);
    const auto now = w_.time()->MonotonicNow();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(push_deadline_ - now);
    if (left.count() <= 0 || !EnsureTimer()) {
      CountFactor2("push", "timeout");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "push approval timed out"));
      return;
    }
    state_ = State::kPushPoll;
    timer_->Arm(std::min(left, w_.plan().push.poll_interval));
  }

  void OnTimer() {
    if (state_ == State::kWaiting) {
      Finish(RefusedBy(refusal_text_));
      return;
    }
    if (state_ == State::kPush) {  // the deadline passed with the hook's request in flight
      call_.reset();                // not inside the call's callback: cancel it now
      CountFactor2("push", "timeout");
      Finish(Verdict::Reject(RejectReason::kUnavailable, "push approval timed out"));
      return;
    }
    if (state_ == State::kPushPoll) {
      if (w_.time()->MonotonicNow() >= push_deadline_) {
        CountFactor2("push", "timeout");
        Finish(Verdict::Reject(RejectReason::kUnavailable, "push approval timed out"));
        return;
      }
      SendPush();
    }
  }

  bool EnsureTimer() {
    if (timer_) return true;
    auto timer = net::Timer::Create(w_.loop(), [this] { OnTimer(); });
    if (!timer.ok()) return false;
    timer_ = std::move(*timer);
    return true;
  }

  // ---- the answer ---------------------------------------------------------------------------

  void Accept() {
    if (!attempt_.authzid.empty() && attempt_.authzid != attempt_.user) {
      // Acting for another user: only a configured master user may.
      const auto& masters = w_.plan().master_users;
      if (std::find(masters.begin(), masters.end(), user_) == masters.end()) {
        Finish(Verdict::Reject(RejectReason::kAuthFailed, "not a master user: authzid refused"));
        return;
      }
      attempt_.user = attempt_.authzid;
      route_.reset();  // the authenticated user's shard is not the target's; the target's may be
      std::optional<std::string> target = route::NormalizedUser(attempt_.user, w_.plan().default_domain);
      const UserRecord* record = (target && users_.db) ? users_.db->Find(*target) : nullptr;
      if (record != nullptr && record->shard) route_ = login::Route{*record->shard, "", "auth"};
    }
    attempt_.app_password = app_password_;
    Finish(Verdict::Accept(std::move(route_), std::move(credentials_)));
  }

  void Finish(Verdict verdict) {
    if (state_ == State::kDone) return;
    state_ = State::kDone;
    if (timer_) timer_->Cancel();
    if (verdict.kind == login::VerdictKind::kReject) attempt_.password.clear();
    context_.Done(std::move(verdict));  // may destroy us later (never inside this call)
  }

  void CountSource(std::string_view result) {
    if (stats::Metrics* m = w_.metrics()) {
      m->AuthAttempt(Source().metrics_index, attempt_.mechanism, result, SecondsSince(w_.time(), source_started_));
    }
  }
  void CountFactor(FactorResult result) {
    switch (result) {
      case FactorResult::kNotRequired:
      case FactorResult::kPushNeeded:
        return;
      case FactorResult::kAppPassword: CountFactor2("app_password", "ok"); return;
      case FactorResult::kRemembered: CountFactor2("remembered", "ok"); return;
      case FactorResult::kTotpOk: CountFactor2("totp", "ok"); return;
      case FactorResult::kTotpBad: CountFactor2("totp", "fail"); return;
      case FactorResult::kTotpReplayed: CountFactor2("totp", "replayed"); return;
    }
  }
  void CountFactor2(std::string_view kind, std::string_view result) {
    if (stats::Metrics* m = w_.metrics()) m->SecondFactor(kind, result);
  }

  WorkerAuth& w_;
  const std::vector<size_t>& chain_;
  login::LoginAttempt& attempt_;
  login::StepContext& context_;
  State state_ = State::kSource;
  size_t position_ = 0;
  std::string user_;  // normalized
  UsersStore::Snapshot users_;
  std::optional<login::Route> route_;
  std::optional<upstream::BackendCredentials> credentials_;
  std::string app_password_;
  httpc::HttpCallPtr call_;
  net::TimerPtr timer_;
  std::chrono::steady_clock::time_point source_started_{};
  std::chrono::steady_clock::time_point push_deadline_{};
  std::string push_transaction_;
  std::string refusal_text_;  // an auth_http refusal's text, sent after its Auth-Wait
  // Set when this request is destroyed; a queued hash job checks it before hashing.
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::chrono::milliseconds AuthStep::timeout() const {
  const GenerationAuth& plan = owner_->plan();
  return plan.timeout + (plan.push_url ? plan.push.timeout : std::chrono::milliseconds(0));
}

std::unique_ptr<login::StepRequest> AuthStep::Begin(login::LoginAttempt& attempt, login::StepContext& context) {
  auto request = std::make_unique<AuthRequest>(*owner_, listener_, attempt, context);
  request->Start();
  return request;
}

StatusOr<std::shared_ptr<WorkerAuth>> WorkerAuth::Create(net::EventLoop* loop, const TimeSource* time,
                                                         login::TicketRegistry* tickets, stats::Metrics* metrics,
                                                         std::shared_ptr<const GenerationAuth> plan,
                                                         const login::BackendPool* pool,
                                                         std::shared_ptr<const void> keepalive) {
  std::shared_ptr<WorkerAuth> w(new WorkerAuth());
  w->loop_ = loop;
  w->time_ = time;
  w->tickets_ = tickets;
  w->metrics_ = metrics;
  w->plan_ = std::move(plan);
  w->pool_ = pool;
  w->keepalive_ = std::move(keepalive);
  const GenerationAuth& p = *w->plan_;
  w->http_.resize(p.sources.size());
  for (size_t i = 0; i < p.sources.size(); ++i) {
    const SourcePlan& s = p.sources[i];
    if (s.config.type != AuthSourceConfig::Type::kHttp || !s.url) continue;
    httpc::HttpClientOptions o;
    o.request_timeout = s.config.timeout;
    o.connect_timeout = std::min(s.config.timeout, std::chrono::milliseconds(2000));
    o.ca_file = s.config.ca_file;
    o.verify_peer = s.config.verify;
    o.max_idle_connections = s.config.max_idle;
    auto client = httpc::HttpClient::Create(loop, time, *s.url, o);
    if (!client.ok()) return Status(client.status().code(), "auth source " + s.config.name + ": " + client.status().message());
    w->http_[i] = std::move(*client);
  }
  if (p.push_url) {
    httpc::HttpClientOptions o;
    o.request_timeout = p.push.request_timeout;
    o.connect_timeout = std::min(p.push.request_timeout, std::chrono::milliseconds(2000));
    o.ca_file = p.push.ca_file;
    o.verify_peer = p.push.verify;
    auto client = httpc::HttpClient::Create(loop, time, *p.push_url, o);
    if (!client.ok()) return Status(client.status().code(), "push hook: " + client.status().message());
    w->push_ = std::move(*client);
  }
  w->steps_.resize(p.listener_chains.size());
  for (size_t i = 0; i < p.listener_chains.size(); ++i) {
    if (!p.PassThroughOnly(i)) w->steps_[i] = std::make_unique<AuthStep>(w.get(), i);
  }
  return w;
}

login::LoginStep* WorkerAuth::StepFor(size_t index) const {
  return index < steps_.size() ? steps_[index].get() : nullptr;
}

}  // namespace imapgate::auth
