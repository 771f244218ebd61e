#include "abuse/abuse_step.h"

#include <algorithm>
#include <utility>

#include "abuse/worker_abuse.h"
#include "common/ascii.h"
#include "common/log.h"
#include "net/timer.h"
#include "proxyproto/address.h"
#include "ratelimit/keys.h"
#include "ratelimit/policy.h"
#include "ratelimit/policy_hook.h"
#include "stats/metrics.h"

namespace imapgate::abuse {
namespace {

using login::RejectReason;
using login::Verdict;
using ratelimit::PreLoginDecision;

constexpr std::chrono::milliseconds kStoreAllowance{2000};

// The client text of a refusal, the same whether the user exists or not.
const char* RefusalText(ratelimit::ActionReason reason) {
  switch (reason) {
    case ratelimit::ActionReason::kAddressBlocked:
    case ratelimit::ActionReason::kSubnetBlocked:
      return "Too many failed logins from your network, try again later";
    case ratelimit::ActionReason::kUserUnderAttack:
      return "Login temporarily refused from this address, try again later or from a known device";
    default:
      return "Try again later";
  }
}

// One login's abuse check: the store's answer, then the tarpit (if any), then Continue.
class AbuseCheckRequest final : public login::StepRequest {
 public:
  AbuseCheckRequest(WorkerAbuse* owner, login::LoginAttempt* attempt, login::StepContext* context)
      : owner_(owner), attempt_(attempt), context_(context) {}
  ~AbuseCheckRequest() override { *alive_ = false; }

  void Start(const proxyproto::IpAddress& counted) {
    const AbusePlan& plan = owner_->plan();
    ratelimit::LoginKeys keys = ratelimit::MakeLoginKeys(counted, attempt_->user, plan.policy.subnet_prefix_v4,
                                                         plan.policy.subnet_prefix_v6);
    const ratelimit::Fingerprinter& fp = owner_->services().fingerprints();
    attempt_->abuse_address = keys.address;
    attempt_->abuse_subnet = keys.subnet;
    attempt_->password_fingerprint = fp.Password(keys.user, attempt_->password);
    attempt_->user_fingerprint = fp.User(keys.user);
    if (plan.blocklist.Contains(counted)) {
      Count("refuse", "blocklist");
      Refuse(RejectReason::kLimited, "blocklisted", "Access denied");
      return;
    }
    started_ = owner_->time()->MonotonicNow();
    std::weak_ptr<bool> alive = alive_;
    owner_->store().Check(keys, [this, alive](ratelimit::PreLoginAnswer answer) {
      if (alive.expired() || !*alive.lock()) return;
      OnChecked(std::move(answer));
    });
  }

 private:
  void Count(std::string_view action, std::string_view reason) {
    if (owner_->metrics() != nullptr) owner_->metrics()->AbuseAction(action, reason);
  }

  void Refuse(RejectReason reason, std::string detail, std::string client_text) {
    Verdict v = Verdict::Reject(reason, std::move(detail));
    v.client_text = std::move(client_text);
    context_->Done(std::move(v));
  }

  void OnChecked(ratelimit::PreLoginAnswer answer) {
    const AbusePlan& plan = owner_->plan();
    double seconds = std::chrono::duration<double>(owner_->time()->MonotonicNow() - started_).count();
    if (owner_->metrics() != nullptr) owner_->metrics()->AbuseStoreCall(plan.store_name, seconds, answer.ok);
    if (!answer.ok) {
      if (plan.fail_closed) {
        if (owner_->metrics() != nullptr) owner_->metrics()->ConnectionRefused("store_failure");
        Refuse(RejectReason::kUnavailable, "abuse store unavailable (on_store_failure: closed)", "");
        return;
      }
      if (owner_->metrics() != nullptr) owner_->metrics()->AbuseFailOpen();
      AskHookOrContinue();
      return;
    }
    PreLoginDecision d = ratelimit::DecideBeforeLogin(plan.policy, answer.facts);
    switch (d.kind) {
      case PreLoginDecision::Kind::kAllow:
        AskHookOrContinue();
        return;
      case PreLoginDecision::Kind::kRefuse:
        Count("refuse", ratelimit::ActionReasonName(d.reason));
        LogEvent(LogLevel::kInfo, "abuse_refused")
            .Add("sid", attempt_->session_id)
            .Add("client", attempt_->abuse_address)
            .Add("user", attempt_->user)
            .Add("reason", ratelimit::ActionReasonName(d.reason));
        Refuse(RejectReason::kLimited, ratelimit::ActionReasonName(d.reason), RefusalText(d.reason));
        return;
      case PreLoginDecision::Kind::kTarpit:
        Count("tarpit", ratelimit::ActionReasonName(d.reason));
        Tarpit(d.delay);
        return;
    }
  }

  // The tarpit (or the hook's delay): a timer, then the hook (hook_next) or Continue.
  void Tarpit(std::chrono::milliseconds delay, bool hook_next = true) {
    auto timer = net::Timer::Create(owner_->loop(), [this, hook_next] {
      if (hook_next) {
        AskHookOrContinue();
      } else {
        context_->Done(Verdict::Continue());
      }
    });
    if (!timer.ok()) {  // no timer: the login goes on undelayed
      if (hook_next) {
        AskHookOrContinue();
      } else {
        context_->Done(Verdict::Continue());
      }
      return;
    }
    timer_ = std::move(*timer);
    timer_->Arm(delay);
  }

  // The auth_policy hook (weakforced), after the local checks; Continue without one.
  void AskHookOrContinue() {
    ratelimit::PolicyHook* hook = owner_->hook();
    if (hook == nullptr) {
      context_->Done(Verdict::Continue());
      return;
    }
    call_ = hook->Allow(PolicyRequestOf(*attempt_), attempt_->password,
                        [this](ratelimit::PolicyVerdict v) { OnHookAnswer(std::move(v)); });
  }

  void OnHookAnswer(ratelimit::PolicyVerdict v) {
    stats::Metrics* metrics = owner_->metrics();
    switch (v.kind) {
      case ratelimit::PolicyVerdict::Kind::kAllow:
        if (metrics != nullptr) metrics->AbusePolicyHook("allow");
        context_->Done(Verdict::Continue());
        return;
      case ratelimit::PolicyVerdict::Kind::kReject:
        if (metrics != nullptr) {
          metrics->AbusePolicyHook("reject");
          metrics->AbuseAction("refuse", "policy_hook");
        }
        attempt_->policy_rejected = true;
        LogEvent(LogLevel::kInfo, "abuse_refused")
            .Add("sid", attempt_->session_id)
            .Add("client", attempt_->abuse_address)
            .Add("user", attempt_->user)
            .Add("reason", "policy_hook");
        Refuse(RejectReason::kLimited, "policy_hook", "Login refused by policy, try again later");
        return;
      case ratelimit::PolicyVerdict::Kind::kDelay:
        if (metrics != nullptr) {
          metrics->AbusePolicyHook("delay");
          metrics->AbuseAction("tarpit", "policy_hook");
        }
        Tarpit(std::chrono::duration_cast<std::chrono::milliseconds>(v.delay), false);
        return;
      case ratelimit::PolicyVerdict::Kind::kFailed:
        if (metrics != nullptr) metrics->AbusePolicyHook("failed");
        LogEvent(LogLevel::kWarn, "policy_hook_failed").Add("sid", attempt_->session_id).Add("error", v.error);
        if (owner_->hook()->reject_on_fail()) {
          Refuse(RejectReason::kUnavailable, "policy hook failed (reject_on_fail)", "");
        } else {
          context_->Done(Verdict::Continue());
        }
        return;
    }
  }

  WorkerAbuse* owner_;
  login::LoginAttempt* attempt_;
  login::StepContext* context_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<net::Timer> timer_;
  ratelimit::PolicyCallPtr call_;  // the hook's answer in flight (destroyed: cancelled)
};

// The address counted for a login: the client's, or, from a trusted peer, the address it
// forwards in ID "x-originating-ip"; none (not counted) for a trusted peer that forwards none.
std::optional<proxyproto::IpAddress> CountedAddress(const AbusePlan& plan, const login::LoginAttempt& attempt) {
  std::optional<proxyproto::IpAddress> ip = proxyproto::ParseIp(attempt.client.Host());
  if (!ip) return std::nullopt;
  *ip = ip->Unmapped();
  if (!plan.trusted.Contains(*ip)) return ip;
  for (const auto& [key, value] : attempt.client_id) {
    if (AsciiEqualsIgnoreCase(key, "x-originating-ip")) {
      if (auto forwarded = proxyproto::ParseIp(value)) return forwarded->Unmapped();
    }
  }
  return std::nullopt;
}

}  // namespace

std::chrono::milliseconds AbuseCheckStep::timeout() const {
  const AbusePlan& plan = owner_->plan();
  std::chrono::milliseconds t = plan.policy.tarpit_max + kStoreAllowance;
  if (!plan.hook.url.empty()) t += plan.hook.timeout + plan.hook.max_delay;
  return t;
}

std::unique_ptr<login::StepRequest> AbuseCheckStep::Begin(login::LoginAttempt& attempt, login::StepContext& context) {
  std::optional<proxyproto::IpAddress> counted = CountedAddress(owner_->plan(), attempt);
  if (!counted) {
    context.Done(Verdict::Continue());  // a trusted peer (or no IP address): not limited
    return nullptr;
  }
  auto request = std::make_unique<AbuseCheckRequest>(owner_, &attempt, &context);
  request->Start(*counted);
  return request;
}

}  // namespace imapgate::abuse
