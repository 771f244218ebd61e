#include "login/backend_login_step.h"

#include "common/log.h"
#include "route/normalize.h"

namespace imapgate::login {
namespace {

// One login's tries along its shard's backends. Destroying it cancels the try in flight silently.
class FailoverLogin final : public StepRequest {
 public:
  FailoverLogin(const BackendLoginStep& step, size_t shard, LoginAttempt& attempt, StepContext& context,
                upstream::BackendCredentials credentials, route::RouteSource source)
      : step_(step), shard_(step.pool().shards[shard]), attempt_(attempt), context_(context),
        credentials_(std::move(credentials)), source_(source) {}

  // Tries the first usable backend at or after `position` in the shard's failover order.
  void TryFrom(size_t position) {
    const BackendPool& pool = step_.pool();
    std::optional<size_t> next;
    if (pool.health) {
      next = health::FirstUsable(*pool.health, shard_.health_order, position);
      if (!next && !tried_any_) {
        // Every backend of the shard is marked down (none draining is skipped): the marks may be
        // stale (a restarted backend waits for its rise count), so the first one not draining
        // gets one real try. A dead one refuses fast, or fails within the connect timeout.
        for (size_t i = 0; i < shard_.health_order.size() && !next; ++i) {
          if (!pool.health->IsDraining(shard_.health_order[i])) next = i;
        }
      }
    } else if (position < shard_.backends.size()) {
      next = position;
    }
    if (!next) {
      std::string detail = "no usable backend in shard " + shard_.name;
      if (!last_failure_.empty()) detail += " (last: " + last_failure_ + ")";
      context_.Done(Verdict::Reject(RejectReason::kUnavailable, std::move(detail)));
      return;
    }
    position_ = *next;
    tried_any_ = true;
    const PoolBackend& backend = pool.backends[shard_.backends[position_]];
    attempt_.route = Route{shard_.name, backend.name, std::string(route::SourceName(source_)),
                           shard_.backends[position_]};
    upstream::ClientIdentity identity;
    identity.session_id = attempt_.session_id;
    identity.client = attempt_.client;
    identity.local = attempt_.local;
    identity.tls = attempt_.client_tls;
    std::optional<upstream::BackendConnection> warm;
    if (step_.warm_pool() != nullptr && !fresh_only_ && !backend.target.send_proxy_v2) {
      warm = step_.warm_pool()->Take(backend.health);
    }
    used_warm_ = warm.has_value();
    auto login = upstream::BackendLogin::Start(
        step_.loop(), step_.time(), backend.target, upstream::CopyCredentials(credentials_),
        [this](upstream::BackendLoginResult result) { OnResult(std::move(result)); }, step_.scratch(),
        step_.scratch_size(), &identity, std::move(warm));
    if (!login.ok()) {
      context_.Done(Verdict::Reject(RejectReason::kInternal, "backend login: " + login.status().message()));
      return;
    }
    login_ = std::move(*login);
  }

 private:
  void OnResult(upstream::BackendLoginResult result) {
    const BackendPool& pool = step_.pool();
    const PoolBackend& backend = pool.backends[shard_.backends[position_]];
    if (pool.metrics != nullptr && result.connect_seconds >= 0) {
      pool.metrics->BackendConnected(backend.metrics_index, result.connect_seconds);
    }
    switch (result.outcome) {
      case upstream::BackendOutcome::kLoggedIn:
        if (pool.metrics != nullptr && result.login_seconds >= 0) {
          pool.metrics->BackendLoggedIn(backend.metrics_index, result.login_seconds);
        }
        if (pool.health) pool.health->RecordPassive(backend.health, true);
        attempt_.backend = std::move(result);
        context_.Done(Verdict::Accept());
        return;
      case upstream::BackendOutcome::kAuthFailed:
        // The backend answered: it is healthy, and the credentials are wrong everywhere.
        if (pool.health) pool.health->RecordPassive(backend.health, true);
        context_.Done(Verdict::Reject(RejectReason::kAuthFailed, std::move(result.detail)));
        return;
      case upstream::BackendOutcome::kUnavailable:
        break;
    }
    if (used_warm_) {
      // The warm connection went stale (the backend closed it meanwhile): not the backend's
      // failure. The same backend, once more, with a fresh connect.
      fresh_only_ = true;
      std::shared_ptr<upstream::BackendLogin> finished(std::move(login_));
      step_.loop()->Defer([finished] {});
      TryFrom(position_);
      return;
    }
    if (pool.health) pool.health->RecordPassive(backend.health, false, result.detail);
    // Counted for the backend that failed (each one a failover tried), not the shard's last.
    if (pool.metrics != nullptr) pool.metrics->BackendError(backend.metrics_index);
    last_failure_ = backend.name + ": " + result.detail;
    ++attempt_.failovers;
    LogEvent(LogLevel::kWarn, "backend_failover")
        .Add("sid", attempt_.session_id)
        .Add("shard", shard_.name)
        .Add("backend", backend.name)
        .Add("reason", result.detail);
    // We are inside the old login's callback: it is freed from the loop, after this call.
    std::shared_ptr<upstream::BackendLogin> finished(std::move(login_));
    step_.loop()->Defer([finished] {});
    fresh_only_ = false;
    TryFrom(position_ + 1);
  }

  const BackendLoginStep& step_;
  const PoolShard& shard_;
  LoginAttempt& attempt_;
  StepContext& context_;
  upstream::BackendCredentials credentials_;  // copied for each try; wiped with the request
  route::RouteSource source_;
  size_t position_ = 0;
  bool tried_any_ = false;  // a backend was tried in this login
  bool used_warm_ = false;   // the try in flight runs on a warm connection
  bool fresh_only_ = false;  // the warm connection failed: this backend again, freshly connected
  std::string last_failure_;
  upstream::BackendLoginPtr login_;
};

RejectReason RouteRejectReason(route::RouteError error) {
  // A name that cannot be routed cannot be a user; an auth route to an unknown shard is ours.
  return error == route::RouteError::kUnknownAuthShard ? RejectReason::kInternal : RejectReason::kAuthFailed;
}

}  // namespace

std::unique_ptr<StepRequest> BackendLoginStep::Begin(LoginAttempt& attempt, StepContext& context) {
  std::string_view auth_shard = attempt.route ? std::string_view(attempt.route->shard) : std::string_view();
  route::RouteDecision decision;
  std::optional<std::string> moved;
  if (pool_->moves) {
    // An operator's runtime move wins over every other placement (the mailbox is there now).
    if (std::optional<std::string> user = route::NormalizedUser(attempt.user, pool_->router->default_domain())) {
      moved = pool_->moves->Find(*user);
    }
  }
  decision = moved ? pool_->router->RouteMoved(*moved) : pool_->router->Route(attempt.user, auth_shard);
  if (moved && !decision.ok()) decision = pool_->router->Route(attempt.user, auth_shard);  // shard gone since
  if (!decision.ok()) {
    attempt.password.clear();
    context.Done(Verdict::Reject(RouteRejectReason(decision.error),
                                 "no route: " + std::string(route::ErrorName(decision.error))));
    return nullptr;
  }
  const PoolShard& shard = pool_->shards[decision.shard];
  std::optional<upstream::BackendCredentials> credentials = std::move(attempt.credentials);
  attempt.credentials.reset();
  if (!credentials && shard.master) {
    if (!attempt.authenticated) {
      // A master user logs in as anyone: only for a user some step has authenticated.
      attempt.password.clear();
      context.Done(Verdict::Reject(RejectReason::kInternal,
                                   "shard " + shard.name + " logs in as a master user, and no login step "
                                   "authenticated the user"));
      return nullptr;
    }
    upstream::MasterUserCredentials m;
    m.form = shard.master->form;
    std::optional<std::string> user = route::NormalizedUser(attempt.user, pool_->router->default_domain());
    m.user = SecretString(user ? *user : attempt.user);
    m.master_user = SecretString(shard.master->master_user);
    m.master_password = SecretString(shard.master->master_password->view());
    m.separator = shard.master->separator;
    credentials = std::move(m);
  }
  if (!credentials && attempt.bearer) {
    // An OAuth bearer token goes to the backend as one (AUTHENTICATE XOAUTH2/OAUTHBEARER), never
    // as a password.
    credentials = upstream::BearerTokenCredentials{SecretString(attempt.user), std::move(attempt.password)};
  }
  if (!credentials) {
    credentials = upstream::ClientOwnCredentials{SecretString(attempt.user), std::move(attempt.password)};
  }
  attempt.password.clear();  // the request holds the only copy now
  auto request = std::make_unique<FailoverLogin>(*this, decision.shard, attempt, context, std::move(*credentials),
                                                 decision.source);
  request->TryFrom(0);
  return request;
}

}  // namespace imapgate::login
