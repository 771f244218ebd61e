#include "login/login_pipeline.h"

#include <utility>

namespace imapgate::login {

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kAuthFailed: return "auth_failed";
    case RejectReason::kUnavailable: return "unavailable";
    case RejectReason::kLimited: return "limited";
    case RejectReason::kTimeout: return "step_timeout";
    case RejectReason::kInternal: return "internal_error";
  }
  return "unknown";
}

Verdict Verdict::Accept(std::optional<Route> route, std::optional<upstream::BackendCredentials> credentials) {
  Verdict v;
  v.kind = VerdictKind::kAccept;
  v.route = std::move(route);
  v.credentials = std::move(credentials);
  return v;
}

Verdict Verdict::Reject(RejectReason reason, std::string detail) {
  Verdict v;
  v.kind = VerdictKind::kReject;
  v.reason = reason;
  v.detail = std::move(detail);
  return v;
}

void StepContext::Done(Verdict verdict) { pipeline_->OnVerdict(std::move(verdict)); }
void StepContext::SendContinuation(std::string_view payload) { pipeline_->host_->SendContinuation(payload); }
Ticket StepContext::ticket() const { return pipeline_->ticket_; }
TicketRegistry* StepContext::registry() const { return pipeline_->registry_; }

LoginPipeline::LoginPipeline(std::span<LoginStep* const> steps, LoginAttempt attempt, PipelineHost* host,
                             TicketRegistry* registry)
    : steps_(steps), attempt_(std::move(attempt)), host_(host), registry_(registry), context_(this) {}

LoginPipeline::~LoginPipeline() {
  // Cancels the running step (its request must never answer after this) and invalidates its
  // ticket, so a result still on its way from another thread finds nothing.
  request_.reset();
  registry_->Release(ticket_);
}

std::string_view LoginPipeline::current_step() const {
  if (decided_ || index_ >= steps_.size()) return "";
  return steps_[index_]->name();
}

void LoginPipeline::Start() {
  in_start_ = true;
  RunSteps();
  in_start_ = false;
  if (decision_ && !decided_) host_->ArmStepTimer(std::chrono::milliseconds(0));
}

void LoginPipeline::RunSteps() {
  while (!decided_ && !decision_) {
    if (index_ >= steps_.size()) {
      Decide(Verdict::Reject(RejectReason::kInternal, "no login step accepted"));
      return;
    }
    LoginStep* step = steps_[index_];
    ticket_ = registry_->Issue(this);
    answered_in_begin_.reset();
    in_begin_ = true;
    request_ = step->Begin(attempt_, context_);
    in_begin_ = false;
    if (!answered_in_begin_) {
      if (!request_) {
        EndStep();
        Decide(Verdict::Reject(RejectReason::kInternal, std::string(step->name()) + " did not start"));
        return;
      }
      if (step->timeout().count() > 0) host_->ArmStepTimer(step->timeout());
      return;  // waits for the step's answer
    }
    EndStep();
    Verdict v = std::move(*answered_in_begin_);
    answered_in_begin_.reset();
    if (!Apply(std::move(v))) return;
  }
}

void LoginPipeline::EndStep() {
  registry_->Release(ticket_);
  ticket_ = Ticket{};
  if (request_) host_->DeleteLater(std::move(request_));
}

void LoginPipeline::OnVerdict(Verdict verdict) {
  if (decided_ || decision_) return;
  if (in_begin_) {
    if (!answered_in_begin_) answered_in_begin_ = std::move(verdict);
    return;
  }
  if (index_ < steps_.size() && steps_[index_]->timeout().count() > 0) host_->CancelStepTimer();
  EndStep();
  if (Apply(std::move(verdict))) RunSteps();
}

bool LoginPipeline::OnTicketVerdict(Ticket ticket, Verdict verdict) {
  if (registry_->Find(ticket) != this || ticket.generation != ticket_.generation ||
      ticket.slot != ticket_.slot) {
    return false;
  }
  OnVerdict(std::move(verdict));
  return true;
}

bool LoginPipeline::Apply(Verdict verdict) {
  if (verdict.route) attempt_.route = std::move(verdict.route);
  if (verdict.credentials) attempt_.credentials = std::move(verdict.credentials);
  switch (verdict.kind) {
    case VerdictKind::kContinue:
      ++index_;
      return true;
    case VerdictKind::kReject:
      Decide(std::move(verdict));
      return false;
    case VerdictKind::kAccept:
      if (steps_[index_]->phase() == LoginStep::Phase::kConnect) {
        Decide(std::move(verdict));
        return false;
      }
    {
      attempt_.authenticated = true;
      // Skip the remaining checks: the connect steps (router, backend login) run next.
      size_t next = index_ + 1;
      while (next < steps_.size() && steps_[next]->phase() != LoginStep::Phase::kConnect) ++next;
      if (next >= steps_.size()) {
        Decide(std::move(verdict));  // nothing to connect: the accepting step decides
        return false;
      }
      index_ = next;
      return true;
    }
  }
  return false;
}

void LoginPipeline::Decide(Verdict verdict) {
  decided_step_ = index_ < steps_.size() ? std::string(steps_[index_]->name()) : std::string();
  if (in_start_) {
    decision_ = std::move(verdict);  // reported from the zero-delay step timer (see Start)
    return;
  }
  decided_ = true;
  host_->OnLoginDecided(verdict, decided_step_);
}

void LoginPipeline::OnStepTimeout() {
  if (decided_) return;
  if (decision_) {
    decided_ = true;
    Verdict v = std::move(*decision_);
    decision_.reset();
    host_->OnLoginDecided(v, decided_step_);
    return;
  }
  // Only a waiting step with a timeout of its own can time out (a stale event is ignored).
  if (!request_ || index_ >= steps_.size() || steps_[index_]->timeout().count() <= 0) return;
  std::string step(current_step());
  // The timer is not the request's own callback: the request can be destroyed (cancelled) now.
  request_.reset();
  registry_->Release(ticket_);
  ticket_ = Ticket{};
  Decide(Verdict::Reject(RejectReason::kTimeout, step + " timed out"));
}

StepRequest* LoginPipeline::RequestForTicket(Ticket ticket) {
  if (decided_ || registry_->Find(ticket) != this || ticket.generation != ticket_.generation ||
      ticket.slot != ticket_.slot) {
    return nullptr;
  }
  return request_.get();
}

void LoginPipeline::OnClientResponse(SecretString response) {
  if (request_ && !decided_) request_->OnClientResponse(std::move(response));
}

}  // namespace imapgate::login
