// WorkerAbuse: one worker's abuse-defence runtime for one configuration generation (issue C):
// the connection admission at accept, the login check step, the accounting of each login's
// result, and the session limits after login. Built by the worker for each generation (like
// auth::WorkerAuth) and held by each session for its connection and logins, so a reload never
// frees what a session uses.
//
// The store belongs to the worker and outlives every WorkerAbuse of it (a fleet store is one
// Redis connection per worker, kept across reloads); the AbuseServices are shared by the whole
// process. Everything here runs on the worker's loop.
#pragma once

#include <memory>
#include <string>

#include "abuse/abuse_plan.h"
#include "abuse/abuse_services.h"
#include "abuse/abuse_step.h"
#include "common/time_source.h"
#include "login/login_pipeline.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "ratelimit/connection_limits.h"
#include "ratelimit/policy_hook.h"
#include "ratelimit/store.h"

namespace imapgate::stats {
class Metrics;
}

namespace imapgate::abuse {

class WorkerAbuse : public std::enable_shared_from_this<WorkerAbuse> {
 public:
  // Every pointer outlives the runtime (store: the worker's; metrics may be null in tests).
  // Fails when the plan's policy hook cannot be set up (its CA file, ...).
  static StatusOr<std::shared_ptr<WorkerAbuse>> Create(net::EventLoop* loop, const TimeSource* time,
                                                       stats::Metrics* metrics,
                                                       std::shared_ptr<AbuseServices> services, AbusePlanPtr plan,
                                                       ratelimit::Store* store);
  WorkerAbuse(net::EventLoop* loop, const TimeSource* time, stats::Metrics* metrics,
              std::shared_ptr<AbuseServices> services, AbusePlanPtr plan, ratelimit::Store* store);

  // A connection from `client` (the real client: after PROXY protocol) before anything is read.
  // Admitted: the session keeps `slots` until it logs in or ends. Refused: the session sends
  // "* BYE <bye_text>" and closes; the refusal is counted and logged here.
  struct Admission {
    bool admitted = true;
    std::string bye_text;
    const char* reason = "";  // refused: the imapgate_connections_refused_total reason
    ratelimit::ConnectionLimits::PreauthSlots slots;
  };
  Admission Admit(const net::SocketAddress& client, std::string_view session_id);

  // The login step; null when the defence is off.
  login::LoginStep* step() { return plan_->enabled ? &step_ : nullptr; }

  // A login ended (its verdict): a failure with wrong credentials is counted in every window
  // (and may block the address or subnet), a success remembers the address for the user.
  void OnLoginDecided(const login::LoginAttempt& attempt, const login::Verdict& verdict);

  // A login succeeded: the per-user and per-(user, address) session limits. Refused: the session
  // answers "NO [LIMIT] <text>" and drops the backend connection.
  struct SessionAdmission {
    bool ok = true;
    std::string text;
    const char* reason = "";  // refused: "per_user" or "per_user_address"
    ratelimit::ConnectionLimits::SessionSlots slots;
  };
  SessionAdmission AdmitSession(const login::LoginAttempt& attempt, std::string_view session_id);

  const AbusePlan& plan() const { return *plan_; }
  // For the step.
  net::EventLoop* loop() const { return loop_; }
  const TimeSource* time() const { return time_; }
  stats::Metrics* metrics() const { return metrics_; }
  AbuseServices& services() { return *services_; }
  ratelimit::Store& store() { return *store_; }
  // The auth_policy hook; null when none is configured.
  ratelimit::PolicyHook* hook() { return hook_.get(); }

 private:
  net::EventLoop* loop_;
  const TimeSource* time_;
  stats::Metrics* metrics_;
  std::shared_ptr<AbuseServices> services_;
  AbusePlanPtr plan_;
  ratelimit::Store* store_;
  std::unique_ptr<ratelimit::PolicyHook> hook_;
  AbuseCheckStep step_{this};
};

using WorkerAbusePtr = std::shared_ptr<WorkerAbuse>;

// The auth_policy hook's request fields for a login (user, counted address, ID fields, session,
// TLS).
ratelimit::PolicyRequest PolicyRequestOf(const login::LoginAttempt& attempt);

}  // namespace imapgate::abuse
