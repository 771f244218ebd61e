// PolicyHook: the client of an external Dovecot auth_policy server (weakforced and the like) on
// one worker's loop, through httpc::HttpClient. Wire format: ratelimit/auth_policy.h.
//
// Allow() asks `POST <url>?command=allow` before a login is checked and answers a PolicyVerdict:
// allow, reject (with the server's reason), delay (seconds, capped by max_delay) or failed
// (connect, timeout, HTTP error, bad answer). The hook does not apply reject_on_fail itself: a
// caller reads reject_on_fail() and refuses a failed check, or lets it pass (fail-open, the
// default; count it). Report() tells the server the result, `POST <url>?command=report`, and
// ignores the answer; at most max_reports_in_flight reports are pending per hook, and any beyond
// that are dropped and counted.
//
// The password is used only to compute the pwhash, synchronously inside Allow()/Report(), and is
// never stored, sent or logged; the nonce and the API header are secrets too.
//
// Thread: create, use and destroy the hook and its calls on the loop's thread; the loop and the
// TimeSource must outlive the hook. A PolicyCall may outlive the hook (it then never answers).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "common/secret.h"
#include "common/status.h"
#include "common/time_source.h"
#include "httpc/http_client.h"
#include "httpc/url.h"
#include "net/event_loop.h"
#include "ratelimit/auth_policy.h"

namespace imapgate::ratelimit {

// PolicyHookConfig: one policy server. Moved or borrowed into Create(), which copies what it keeps.
struct PolicyHookConfig {
  httpc::Url url;      // http, https or unix; resolved (httpc::ResolveUrl) before Create
  SecretString nonce;  // Dovecot's auth_policy_hash_nonce; must not be empty
  int hash_truncate = kDefaultPolicyHashTruncateBits;  // 0..256; 0 = the whole digest (Dovecot)
  std::chrono::milliseconds timeout{2000};             // per request, connect included
  bool reject_on_fail = false;                         // false: fail-open (Dovecot's default)
  std::chrono::seconds max_delay{30};                  // cap on a "delay N" answer
  size_t max_reports_in_flight = 32;                   // per hook (per worker)
  // Dovecot's auth_policy_server_api_header: "Name: value", or a bare value sent as X-API-Key.
  // Empty: none.
  SecretString api_header;
  std::string ca_file;      // https: PEM CA bundle; empty: the system store
  bool verify_peer = true;  // https: false only for tests
};

// PolicyCall: one allow check in flight. Owned by the caller; destroying it cancels the request,
// and its callback never runs.
class PolicyCall {
 public:
  virtual ~PolicyCall() = default;
};
using PolicyCallPtr = std::unique_ptr<PolicyCall>;

class PolicyHook {
 public:
  using Done = std::function<void(PolicyVerdict)>;

  // Fails (kInvalidArgument) on an empty nonce, hash_truncate outside 0..256, a timeout <= 0, a
  // negative max_delay, an API header without a name, or when the HTTP client cannot be built
  // (an unresolved URL, a CA file that cannot be loaded).
  static StatusOr<std::unique_ptr<PolicyHook>> Create(net::EventLoop* loop, const TimeSource* time,
                                                      const PolicyHookConfig& config);
  ~PolicyHook();
  PolicyHook(const PolicyHook&) = delete;
  PolicyHook& operator=(const PolicyHook&) = delete;

  // Asks the server before a login. `done` runs exactly once on the loop, never inside Allow(),
  // unless the returned call is destroyed first (or the hook is, which cancels every call).
  // request.success and policy_reject are not sent.
  PolicyCallPtr Allow(const PolicyRequest& request, const SecretString& password, Done done);

  // Tells the server a login's result (request.success, policy_reject, fail_type). Fire and
  // forget: the answer is read by nobody; dropped (and counted) when max_reports_in_flight are
  // already pending.
  void Report(const PolicyRequest& request, const SecretString& password);

  bool reject_on_fail() const { return reject_on_fail_; }

  // Counters since creation (for metrics and tests).
  uint64_t allow_sent() const { return allow_sent_; }
  uint64_t allow_failed() const { return allow_failed_; }
  uint64_t reports_sent() const { return reports_sent_; }
  uint64_t reports_dropped() const { return reports_dropped_; }
  uint64_t reports_failed() const { return reports_failed_; }
  size_t reports_in_flight() const { return reports_.size(); }

 private:
  friend class PolicyCallImpl;
  PolicyHook(net::EventLoop* loop, const PolicyHookConfig& config);
  // The HTTP request for `command`; an error for a request field beyond its bound.
  StatusOr<httpc::HttpRequest> BuildRequest(const PolicyRequest& request,
                                            const SecretString& password,
                                            PolicyCommand command) const;
  void OnReportDone(std::list<httpc::HttpCallPtr>::iterator it, bool ok);

  net::EventLoop* loop_;
  std::string base_target_;
  SecretString nonce_;
  int hash_truncate_;
  bool reject_on_fail_;
  std::chrono::seconds max_delay_;
  size_t max_reports_in_flight_;
  std::string api_header_name_;
  SecretString api_header_value_;
  std::unique_ptr<httpc::HttpClient> client_;
  std::list<httpc::HttpCallPtr> reports_;
  std::shared_ptr<int> alive_;  // expires with the hook; guards deferred callbacks
  uint64_t allow_sent_ = 0;
  uint64_t allow_failed_ = 0;
  uint64_t reports_sent_ = 0;
  uint64_t reports_dropped_ = 0;
  uint64_t reports_failed_ = 0;
};

}  // namespace imapgate::ratelimit
