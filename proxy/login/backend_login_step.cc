#include "login/backend_login_step.h"

namespace imapgate::login {
namespace {

// Owns the BackendLogin; destroying it cancels the login silently.
class BackendLoginRequest final : public StepRequest {
 public:
  upstream::BackendLoginPtr login;
};

}  // namespace

std::unique_ptr<StepRequest> BackendLoginStep::Begin(LoginAttempt& attempt, StepContext& context) {
  upstream::BackendCredentials credentials =
      attempt.credentials ? std::move(*attempt.credentials)
                          : upstream::BackendCredentials(upstream::ClientOwnCredentials{
                                SecretString(attempt.user), std::move(attempt.password)});
  attempt.credentials.reset();
  attempt.password.clear();  // the backend login holds the only copy now
  upstream::ClientIdentity identity;
  identity.session_id = attempt.session_id;
  identity.client = attempt.client;
  identity.local = attempt.local;
  identity.tls = attempt.client_tls;
  LoginAttempt* a = &attempt;
  StepContext* ctx = &context;
  auto login = upstream::BackendLogin::Start(
      loop_, time_, *target_, std::move(credentials),
      [a, ctx](upstream::BackendLoginResult result) {
        switch (result.outcome) {
          case upstream::BackendOutcome::kLoggedIn:
            a->backend = std::move(result);
            ctx->Done(Verdict::Accept());
            return;
          case upstream::BackendOutcome::kAuthFailed:
            ctx->Done(Verdict::Reject(RejectReason::kAuthFailed, std::move(result.detail)));
            return;
          case upstream::BackendOutcome::kUnavailable:
            ctx->Done(Verdict::Reject(RejectReason::kUnavailable, std::move(result.detail)));
            return;
        }
      },
      scratch_, scratch_size_, &identity);
  if (!login.ok()) {
    context.Done(Verdict::Reject(RejectReason::kInternal, "backend login: " + login.status().message()));
    return nullptr;
  }
  auto request = std::make_unique<BackendLoginRequest>();
  request->login = std::move(*login);
  return request;
}

}  // namespace imapgate::login
