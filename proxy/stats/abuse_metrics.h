// AbuseSeries: issue C's metric families (abuse actions, connections refused by limit, blocked
// keys, store latency and errors, fail-open events, the policy hook's answers), every series
// created at start-up with fixed label values, so a scrape never grows and never names an address
// or a user. Private to stats/ (PrometheusMetrics owns one and forwards the Metrics calls).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <string_view>

namespace imapgate::stats::internal {

class AbuseSeries {
 public:
  static constexpr std::array<std::string_view, 3> kActions = {"tarpit", "refuse", "block"};
  static constexpr std::array<std::string_view, 9> kReasons = {
      "address_blocked", "subnet_blocked", "user_under_attack", "address_failures", "global_surge",
      "spraying", "subnet_failures", "blocklist", "policy_hook"};
  static constexpr std::array<std::string_view, 8> kRefusals = {
      "blocked", "blocklist", "per_address", "total", "accept_rate", "per_user", "per_user_address", "store_failure"};
  static constexpr std::array<std::string_view, 2> kStores = {"memory", "redis"};
  static constexpr std::array<std::string_view, 2> kScopes = {"address", "subnet"};
  static constexpr std::array<std::string_view, 4> kHookResults = {"allow", "reject", "delay", "failed"};

  explicit AbuseSeries(prometheus::Registry& registry);

  void Action(std::string_view action, std::string_view reason);
  void ConnectionRefused(std::string_view reason);
  void StoreCall(std::string_view store, double seconds, bool ok);
  void FailOpen();
  void SetBlocked(std::string_view scope, int64_t count);
  void PolicyHook(std::string_view result);

 private:
  std::array<std::array<prometheus::Counter*, kReasons.size()>, kActions.size()> actions_{};
  std::array<prometheus::Counter*, kRefusals.size()> refused_{};
  std::array<prometheus::Histogram*, kStores.size()> store_duration_{};
  std::array<prometheus::Counter*, kStores.size()> store_errors_{};
  prometheus::Counter* fail_open_ = nullptr;
  std::array<prometheus::Gauge*, kScopes.size()> blocked_{};
  std::array<prometheus::Counter*, kHookResults.size()> hook_{};
};

}  // namespace imapgate::stats::internal
