// ServerAdminControl's calls for issue C's abuse defence, over the Server's AdminAbuseStore (the
// in-process store directly; a fleet store on its own thread, waited for up to a timeout).

#include <optional>
#include <string>
#include <utility>

#include "common/log.h"
#include "proxyproto/address.h"
#include "proxyproto/cidr.h"
#include "ratelimit/keys.h"
#include "server/admin_control_impl.h"
#include "server/server.h"

namespace imapgate::server {
namespace {

admin::AbuseBlockInfo ToInfo(const ratelimit::BlockEntry& b) {
  admin::AbuseBlockInfo info;
  info.scope = ratelimit::BlockScopeName(b.scope);
  info.key = b.key;
  info.cause = ratelimit::BlockCauseName(b.cause);
  info.remaining_seconds = std::chrono::duration_cast<std::chrono::seconds>(b.remaining).count();
  return info;
}

admin::AbuseCountersInfo ToInfo(const ratelimit::KeyReport& r) {
  admin::AbuseCountersInfo info;
  info.key = r.key;
  info.failures = r.failures;
  info.users_tried = r.users_tried;
  if (r.block) info.block = ToInfo(*r.block);
  return info;
}

Status NoAnswer() {
  return Status(StatusCode::kUnavailable, "the abuse store did not answer (is Redis reachable?)");
}

}  // namespace

StatusOr<std::vector<admin::AbuseBlockInfo>> ServerAdminControl::AbuseBlocks(size_t max, bool* truncated) {
  auto blocks = server_->admin_abuse_store_->ListBlocks(max + 1);
  if (!blocks) return NoAnswer();
  std::vector<admin::AbuseBlockInfo> out;
  for (const auto& b : *blocks) out.push_back(ToInfo(b));
  *truncated = out.size() > max;
  if (*truncated) out.resize(max);
  return out;
}

StatusOr<bool> ServerAdminControl::AbuseUnblock(std::string_view key) {
  const bool subnet = key.find('/') != std::string_view::npos;
  std::string canonical;
  if (subnet) {
    auto cidr = proxyproto::Cidr::Parse(key);
    if (!cidr.ok()) return InvalidArgument("key: not a CIDR subnet: " + cidr.status().message());
    canonical = cidr->ToString();
  } else {
    auto ip = proxyproto::ParseIp(key);
    if (!ip) return InvalidArgument("key: not an IP address");
    canonical = proxyproto::FormatIp(ip->Unmapped());
  }
  std::optional<bool> lifted = server_->admin_abuse_store_->Unblock(
      subnet ? ratelimit::BlockScope::kSubnet : ratelimit::BlockScope::kAddress, canonical);
  if (!lifted) return NoAnswer();
  LogEvent(LogLevel::kInfo, "admin_unblock").Add("key", canonical).Add("lifted", *lifted ? "yes" : "no");
  return *lifted;
}

StatusOr<admin::AbuseCountersInfo> ServerAdminControl::AbuseAddress(std::string_view address) {
  auto ip = proxyproto::ParseIp(address);
  if (!ip) return InvalidArgument("address: not an IP address");
  const abuse::AbusePlan& plan = *server_->generation_->abuse;
  ratelimit::LoginKeys keys =
      ratelimit::MakeLoginKeys(ip->Unmapped(), "", plan.policy.subnet_prefix_v4, plan.policy.subnet_prefix_v6);
  std::optional<ratelimit::KeyReport> report = server_->admin_abuse_store_->ReportAddress(keys);
  if (!report) return NoAnswer();
  return ToInfo(*report);
}

StatusOr<admin::AbuseCountersInfo> ServerAdminControl::AbuseUser(std::string_view user) {
  std::optional<ratelimit::KeyReport> report = server_->admin_abuse_store_->ReportUser(ratelimit::NormalizedUser(user));
  if (!report) return NoAnswer();
  return ToInfo(*report);
}

}  // namespace imapgate::server
