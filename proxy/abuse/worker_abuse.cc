#include "abuse/worker_abuse.h"

#include <utility>

#include "common/log.h"
#include "proxyproto/address.h"
#include "ratelimit/keys.h"
#include "stats/metrics.h"

namespace imapgate::abuse {

WorkerAbuse::WorkerAbuse(net::EventLoop* loop, const TimeSource* time, stats::Metrics* metrics,
                         std::shared_ptr<AbuseServices> services, AbusePlanPtr plan, ratelimit::Store* store)
    : loop_(loop), time_(time), metrics_(metrics), services_(std::move(services)), plan_(std::move(plan)),
      store_(store) {}

StatusOr<std::shared_ptr<WorkerAbuse>> WorkerAbuse::Create(net::EventLoop* loop, const TimeSource* time,
                                                           stats::Metrics* metrics,
                                                           std::shared_ptr<AbuseServices> services,
                                                           AbusePlanPtr plan, ratelimit::Store* store) {
  auto w = std::make_shared<WorkerAbuse>(loop, time, metrics, std::move(services), plan, store);
  if (plan->enabled && plan->hook_url) {
    ratelimit::PolicyHookConfig c;
    c.url = *plan->hook_url;
    if (plan->hook.nonce) c.nonce = SecretString(plan->hook.nonce->view());
    c.hash_truncate = plan->hook.hash_truncate;
    c.timeout = plan->hook.timeout;
    c.reject_on_fail = plan->hook.reject_on_fail;
    c.max_delay = std::chrono::duration_cast<std::chrono::seconds>(plan->hook.max_delay);
    c.ca_file = plan->hook.ca_file;
    c.verify_peer = plan->hook.verify;
    auto hook = ratelimit::PolicyHook::Create(loop, time, c);
    if (!hook.ok()) return Status(hook.status().code(), "abuse.policy_hook: " + hook.status().message());
    w->hook_ = std::move(*hook);
  }
  return w;
}

// The hook's view of a login.
ratelimit::PolicyRequest PolicyRequestOf(const login::LoginAttempt& attempt) {
  ratelimit::PolicyRequest r;
  r.login = attempt.user;
  r.remote = attempt.abuse_address;
  for (const auto& [key, value] : attempt.client_id) {
    if (r.device_id.size() + key.size() + value.size() + 2 > 512) break;
    if (!r.device_id.empty()) r.device_id += ' ';
    r.device_id += key + "=" + value;
  }
  r.session_id = attempt.session_id;
  r.tls = attempt.client_tls;
  return r;
}

WorkerAbuse::Admission WorkerAbuse::Admit(const net::SocketAddress& client, std::string_view session_id) {
  Admission a;
  if (!plan_->enabled) return a;
  std::optional<proxyproto::IpAddress> ip = proxyproto::ParseIp(client.Host());
  if (!ip) return a;
  *ip = ip->Unmapped();
  const std::string address = proxyproto::FormatIp(*ip);
  auto refuse = [&](const char* reason, const char* text) {
    if (metrics_ != nullptr) metrics_->ConnectionRefused(reason);
    LogEvent(LogLevel::kInfo, "connection_refused").Add("sid", session_id).Add("client", address).Add("reason", reason);
    Admission refused;
    refused.admitted = false;
    refused.bye_text = text;
    refused.reason = reason;
    return refused;
  };
  ratelimit::ConnectionLimits& limits = services_->connections();
  if (plan_->trusted.Contains(*ip)) {
    // A trusted peer (webmail, a proxy in front) is not limited per address: its logins are
    // counted by the address it forwards. Its connections still count towards the total.
    a.slots.total = limits.TryAcquireTotal();
    if (!a.slots.total.held()) return refuse("total", "Too many connections");
    return a;
  }
  if (plan_->blocklist.Contains(*ip)) return refuse("blocklist", "Access denied");
  const std::string subnet =
      ratelimit::SubnetKey(*ip, plan_->policy.subnet_prefix_v4, plan_->policy.subnet_prefix_v6);
  if (store_->BlockedNow(address, subnet)) {
    return refuse("blocked", "Too many failed logins from your network, try again later");
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(time_->MonotonicNow().time_since_epoch()).count();
  if (!limits.TryAccept(address, now_ms)) return refuse("accept_rate", "Too many connections, slow down");
  a.slots = limits.TryAcquirePreauth(address);
  if (!a.slots.ok()) {
    const bool total = std::string_view(a.slots.refused_by) == "total";
    return refuse(total ? "total" : "per_address", "Too many connections");
  }
  return a;
}

void WorkerAbuse::OnLoginDecided(const login::LoginAttempt& attempt, const login::Verdict& verdict) {
  if (!plan_->enabled || attempt.abuse_address.empty()) return;
  ratelimit::LoginKeys keys;
  keys.address = attempt.abuse_address;
  keys.subnet = attempt.abuse_subnet;
  keys.user = ratelimit::NormalizedUser(attempt.user);
  const bool accepted = verdict.kind == login::VerdictKind::kAccept;
  const bool wrong_credentials = verdict.kind == login::VerdictKind::kReject &&
                                 verdict.reason == login::RejectReason::kAuthFailed;
  if (hook_) {
    ratelimit::PolicyRequest report = PolicyRequestOf(attempt);
    report.success = accepted;
    report.policy_reject = attempt.policy_rejected;
    report.fail_type = accepted ? "" : attempt.policy_rejected ? "policy" : wrong_credentials ? "credentials" : "internal";
    hook_->Report(report, attempt.password);
  }
  if (accepted) {
    store_->RecordSuccess(keys);
    return;
  }
  // Only wrong credentials count; a refusal by the defence itself, a service or a backend that
  // is down, or a timeout does not.
  if (!wrong_credentials || attempt.password_fingerprint == 0) return;
  ratelimit::FailureEvent event;
  event.password_fingerprint = attempt.password_fingerprint;
  event.user_fingerprint = attempt.user_fingerprint;
  const auto started = time_->MonotonicNow();
  std::shared_ptr<WorkerAbuse> self = shared_from_this();
  store_->RecordFailure(keys, event, [self, keys, started](ratelimit::FailureAnswer answer) {
    double seconds = std::chrono::duration<double>(self->time_->MonotonicNow() - started).count();
    if (self->metrics_ != nullptr) self->metrics_->AbuseStoreCall(self->plan_->store_name, seconds, answer.ok);
    if (!answer.ok) return;
    std::optional<ratelimit::BlockOrder> order = ratelimit::DecideAfterFailure(self->plan_->policy, answer.counts);
    if (!order) return;
    const std::string& key = order->scope == ratelimit::BlockScope::kSubnet ? keys.subnet : keys.address;
    if (self->store_->BlockedNow(keys.address, keys.subnet) == order->scope) return;  // already blocked
    self->store_->Block(order->scope, key, order->cause, self->plan_->policy.block_for);
    if (self->metrics_ != nullptr) self->metrics_->AbuseAction("block", ratelimit::BlockCauseName(order->cause));
    LogEvent(LogLevel::kWarn, "abuse_block")
        .Add("scope", ratelimit::BlockScopeName(order->scope))
        .Add("key", key)
        .Add("cause", ratelimit::BlockCauseName(order->cause))
        .Add("address_failures", static_cast<uint64_t>(answer.counts.address))
        .Add("users_tried", static_cast<uint64_t>(answer.counts.users_tried))
        .Add("subnet_failures", static_cast<uint64_t>(answer.counts.subnet))
        .Add("for_s", std::chrono::duration_cast<std::chrono::seconds>(self->plan_->policy.block_for).count());
  });
}

WorkerAbuse::SessionAdmission WorkerAbuse::AdmitSession(const login::LoginAttempt& attempt,
                                                        std::string_view session_id) {
  SessionAdmission s;
  if (!plan_->enabled || attempt.abuse_address.empty()) return s;
  const std::string user = ratelimit::NormalizedUser(attempt.user);
  s.slots = services_->connections().TryAcquireSession(user, attempt.abuse_address);
  if (s.slots.ok()) return s;
  const bool per_user = std::string_view(s.slots.refused_by) == "per_user";
  if (metrics_ != nullptr) metrics_->ConnectionRefused(per_user ? "per_user" : "per_user_address");
  LogEvent(LogLevel::kInfo, "session_refused")
      .Add("sid", session_id)
      .Add("client", attempt.abuse_address)
      .Add("user", attempt.user)
      .Add("reason", per_user ? "per_user" : "per_user_address");
  s.ok = false;
  s.reason = per_user ? "per_user" : "per_user_address";
  s.text = per_user ? "Too many sessions for this user" : "Too many sessions for this user from your address";
  return s;
}

}  // namespace imapgate::abuse
