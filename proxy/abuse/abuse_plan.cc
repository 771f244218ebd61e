#include "abuse/abuse_plan.h"

#include <string>
#include <vector>

namespace imapgate::abuse {
namespace {

StatusOr<proxyproto::CidrList> ToCidrList(const std::vector<config::CidrRange>& ranges) {
  std::vector<std::string> texts;
  texts.reserve(ranges.size());
  for (const config::CidrRange& r : ranges) texts.push_back(r.ToString());
  return proxyproto::CidrList::Parse(texts);
}

}  // namespace

StatusOr<std::shared_ptr<const AbusePlan>> AbusePlan::Build(const config::AbuseConfig& config) {
  auto plan = std::make_shared<AbusePlan>();
  plan->enabled = config.enabled;
  plan->policy = config.policy;
  plan->connections = config.connections;
  auto trusted = ToCidrList(config.trusted_networks);
  if (!trusted.ok()) return Status(StatusCode::kInternal, "abuse.trusted_networks: " + trusted.status().message());
  plan->trusted = std::move(*trusted);
  auto blocklist = ToCidrList(config.blocklist);
  if (!blocklist.ok()) return Status(StatusCode::kInternal, "abuse.blocklist: " + blocklist.status().message());
  plan->blocklist = std::move(*blocklist);
  plan->fail_closed = config.fail_closed;
  plan->store_name = config.store == config::AbuseConfig::StoreKind::kRedis ? "redis" : "memory";
  plan->hook = config.policy_hook;
  if (!plan->hook.url.empty()) {
    auto url = httpc::ParseUrl(plan->hook.url);
    if (!url.ok()) return Status(StatusCode::kInvalidArgument, "abuse.policy_hook.url: " + url.status().message());
    if (Status st = httpc::ResolveUrl(&*url); !st.ok()) {
      return Status(StatusCode::kInvalidArgument, "abuse.policy_hook.url: " + st.message());
    }
    plan->hook_url = std::move(*url);
  }
  return std::shared_ptr<const AbusePlan>(std::move(plan));
}

}  // namespace imapgate::abuse
