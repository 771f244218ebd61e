#include "ratelimit/policy_hook.h"

#include <algorithm>
#include <utility>

namespace imapgate::ratelimit {

// One allow check: owns its HTTP call; turns the answer into a verdict.
class PolicyCallImpl final : public PolicyCall {
 public:
  PolicyCallImpl(PolicyHook* hook, PolicyHook::Done done)
      : hook_(hook),
        max_delay_(hook->max_delay_),
        done_(std::move(done)),
        alive_(std::make_shared<int>(0)) {}

  void Start(httpc::HttpRequest request) {
    call_ = hook_->client_->Send(
        std::move(request),
        [this](StatusOr<httpc::HttpResponse> response) { OnAnswer(std::move(response)); });
  }

  // Answers `verdict` from a deferred call (never inside Allow()), unless this call or the hook
  // is destroyed first.
  void FailLater(std::string why) {
    std::weak_ptr<int> mine = alive_;
    std::weak_ptr<int> hook_alive = hook_->alive_;
    hook_->loop_->Defer([this, mine, hook_alive, why = std::move(why)]() mutable {
      if (mine.expired() || hook_alive.expired()) return;
      ++hook_->allow_failed_;
      Deliver(PolicyVerdict::Failed(std::move(why)));
    });
  }

 private:
  // Runs inside the HTTP call's callback; the hook is alive (it owns the client).
  void OnAnswer(StatusOr<httpc::HttpResponse> response) {
    if (!response.ok()) {
      ++hook_->allow_failed_;
      return Deliver(PolicyVerdict::Failed("policy server: " + response.status().message()));
    }
    StatusOr<PolicyAnswer> answer = ParsePolicyAnswer(response->status, response->body.view());
    if (!answer.ok()) {
      ++hook_->allow_failed_;
      return Deliver(PolicyVerdict::Failed(answer.status().message()));
    }
    Deliver(VerdictFromAnswer(*answer, max_delay_));
  }

  // The last thing done: the callback may destroy this call.
  void Deliver(PolicyVerdict verdict) {
    if (!done_) return;
    PolicyHook::Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(verdict));
  }

  PolicyHook* hook_;
  const std::chrono::seconds max_delay_;
  PolicyHook::Done done_;
  std::shared_ptr<int> alive_;
  httpc::HttpCallPtr call_;
};

StatusOr<std::unique_ptr<PolicyHook>> PolicyHook::Create(net::EventLoop* loop,
                                                         const TimeSource* time,
                                                         const PolicyHookConfig& config) {
  if (config.nonce.empty()) return InvalidArgument("policy hook: the nonce is empty");
  if (config.hash_truncate < 0 || config.hash_truncate > kMaxPolicyHashBits) {
    return InvalidArgument("policy hook: hash_truncate must be 0..256");
  }
  if (config.timeout.count() <= 0)
    return InvalidArgument("policy hook: the timeout must be positive");
  if (config.max_delay.count() < 0)
    return InvalidArgument("policy hook: max_delay must not be negative");
  std::unique_ptr<PolicyHook> hook(new PolicyHook(loop, config));
  if (!config.api_header.empty()) {
    std::string_view h = config.api_header.view();
    size_t colon = h.find(':');
    std::string_view name =
        colon == std::string_view::npos ? std::string_view("X-API-Key") : h.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? h : h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    if (name.empty()) return InvalidArgument("policy hook: the API header has no name");
    for (char c : name) {
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        return InvalidArgument("policy hook: the API header's name is not a token");
      }
    }
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        return InvalidArgument("policy hook: the API header's value has a control character");
      }
    }
    hook->api_header_name_ = std::string(name);
    hook->api_header_value_ = SecretString(value);
  }
  httpc::HttpClientOptions o;
  o.request_timeout = config.timeout;
  o.connect_timeout = std::min(config.timeout, std::chrono::milliseconds(2000));
  o.max_response_body_bytes = kMaxPolicyAnswerBytes;
  o.max_response_header_bytes = 8192;
  o.ca_file = config.ca_file;
  o.verify_peer = config.verify_peer;
  auto client = httpc::HttpClient::Create(loop, time, config.url, o);
  if (!client.ok())
    return Status(client.status().code(), "policy hook: " + client.status().message());
  hook->client_ = std::move(*client);
  return hook;
}

PolicyHook::PolicyHook(net::EventLoop* loop, const PolicyHookConfig& config)
    : loop_(loop),
      base_target_(config.url.target),
      nonce_(config.nonce.view()),
      hash_truncate_(config.hash_truncate),
      reject_on_fail_(config.reject_on_fail),
      max_delay_(config.max_delay),
      max_reports_in_flight_(config.max_reports_in_flight),
      alive_(std::make_shared<int>(0)) {}

PolicyHook::~PolicyHook() {
  alive_.reset();
  reports_.clear();  // cancels the reports before the client goes
  client_.reset();   // cancels every allow check still pending: their callbacks never run
}

StatusOr<httpc::HttpRequest> PolicyHook::BuildRequest(const PolicyRequest& request,
                                                      const SecretString& password,
                                                      PolicyCommand command) const {
  const std::string pwhash =
      PolicyPasswordHash(nonce_.view(), request.login, password, hash_truncate_);
  StatusOr<std::string> body = BuildPolicyRequestBody(request, pwhash, command);
  if (!body.ok()) return body.status();
  httpc::HttpRequest http;
  http.method = "POST";
  http.path = PolicyCommandTarget(base_target_, command);
  http.headers.emplace_back("Content-Type", SecretString("application/json"));
  if (!api_header_name_.empty())
    http.headers.emplace_back(api_header_name_, SecretString(api_header_value_.view()));
  http.body = SecretString(*body);
  return http;
}

PolicyCallPtr PolicyHook::Allow(const PolicyRequest& request, const SecretString& password,
                                Done done) {
  auto call = std::make_unique<PolicyCallImpl>(this, std::move(done));
  StatusOr<httpc::HttpRequest> http = BuildRequest(request, password, PolicyCommand::kAllow);
  if (!http.ok()) {
    call->FailLater(http.status().message());
    return call;
  }
  ++allow_sent_;
  call->Start(std::move(*http));
  return call;
}

void PolicyHook::Report(const PolicyRequest& request, const SecretString& password) {
  if (reports_.size() >= max_reports_in_flight_) {
    ++reports_dropped_;
    return;
  }
  StatusOr<httpc::HttpRequest> http = BuildRequest(request, password, PolicyCommand::kReport);
  if (!http.ok()) {
    ++reports_failed_;
    return;
  }
  ++reports_sent_;
  auto it = reports_.emplace(reports_.end());
  // `done` never runs inside Send(), so the slot is filled before it can be erased.
  *it = client_->Send(std::move(*http), [this, it](StatusOr<httpc::HttpResponse> response) {
    OnReportDone(it, response.ok() && response->status >= 200 && response->status <= 299);
  });
}

void PolicyHook::OnReportDone(std::list<httpc::HttpCallPtr>::iterator it, bool ok) {
  if (!ok) ++reports_failed_;
  reports_.erase(it);  // destroys the call from inside its own callback, which httpc allows
}

}  // namespace imapgate::ratelimit
