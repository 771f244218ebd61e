// AbusePlan: one configuration generation's abuse-defence settings, ready to use on the login
// path (CIDR lists parsed once). Immutable; shared by every worker as shared_ptr<const AbusePlan>.
#pragma once

#include <memory>
#include <optional>

#include "common/status.h"
#include "config/abuse_config.h"
#include "httpc/url.h"
#include "proxyproto/cidr.h"
#include "ratelimit/connection_limits.h"
#include "ratelimit/policy.h"

namespace imapgate::abuse {

struct AbusePlan {
  bool enabled = false;
  ratelimit::Policy policy;
  ratelimit::ConnectionLimitsConfig connections;
  proxyproto::CidrList trusted;    // never limited; their ID x-originating-ip is counted instead
  proxyproto::CidrList blocklist;  // refused at connect and at login
  bool fail_closed = false;        // a store that cannot answer refuses the login
  const char* store_name = "memory";  // the metrics label of the store
  config::PolicyHookConfig hook;      // url "": no hook
  std::optional<httpc::Url> hook_url;  // hook.url parsed and resolved (config time, blocking)

  // From the config's `abuse:` (its CIDR texts were validated by the loader). Resolves the
  // policy hook's host name (blocking: config time only); fails when it cannot.
  static StatusOr<std::shared_ptr<const AbusePlan>> Build(const config::AbuseConfig& config);
};

using AbusePlanPtr = std::shared_ptr<const AbusePlan>;

}  // namespace imapgate::abuse
