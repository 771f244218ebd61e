#include "stats/abuse_metrics.h"

#include <string>

namespace imapgate::stats::internal {
namespace {

template <size_t N>
int Find(const std::array<std::string_view, N>& values, std::string_view v) {
  for (size_t i = 0; i < N; ++i) {
    if (values[i] == v) return static_cast<int>(i);
  }
  return -1;
}

// A store call is a map lookup (memory) or a loopback round trip (Redis).
const prometheus::Histogram::BucketBoundaries& StoreBuckets() {
  static const auto* const kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.00001, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25};
  return *kBuckets;
}

}  // namespace

AbuseSeries::AbuseSeries(prometheus::Registry& r) {
  auto& actions = prometheus::BuildCounter()
                      .Name("imapgate_abuse_actions_total")
                      .Help("Abuse defence actions (tarpit, refuse, block) per reason.")
                      .Register(r);
  for (size_t a = 0; a < kActions.size(); ++a) {
    for (size_t x = 0; x < kReasons.size(); ++x) {
      actions_[a][x] = &actions.Add({{"action", std::string(kActions[a])}, {"reason", std::string(kReasons[x])}});
    }
  }
  auto& refused = prometheus::BuildCounter()
                      .Name("imapgate_connections_refused_total")
                      .Help("Connections and logins refused by an abuse block or a connection limit, per reason.")
                      .Register(r);
  for (size_t i = 0; i < kRefusals.size(); ++i) refused_[i] = &refused.Add({{"reason", std::string(kRefusals[i])}});
  auto& duration = prometheus::BuildHistogram()
                       .Name("imapgate_abuse_store_duration_seconds")
                       .Help("How long one call to the abuse store took, per store (memory, redis).")
                       .Register(r);
  auto& errors = prometheus::BuildCounter()
                     .Name("imapgate_abuse_store_errors_total")
                     .Help("Abuse store calls that failed (Redis down, timeout, bad answer), per store.")
                     .Register(r);
  for (size_t i = 0; i < kStores.size(); ++i) {
    store_duration_[i] = &duration.Add({{"store", std::string(kStores[i])}}, StoreBuckets());
    store_errors_[i] = &errors.Add({{"store", std::string(kStores[i])}});
  }
  fail_open_ = &prometheus::BuildCounter()
                    .Name("imapgate_abuse_fail_open_total")
                    .Help("Logins let through unchecked because the abuse store could not answer (on_store_failure: open).")
                    .Register(r)
                    .Add({});
  auto& blocked = prometheus::BuildGauge()
                      .Name("imapgate_abuse_blocked_keys")
                      .Help("Addresses and subnets blocked now, as this instance knows them.")
                      .Register(r);
  for (size_t i = 0; i < kScopes.size(); ++i) blocked_[i] = &blocked.Add({{"scope", std::string(kScopes[i])}});
  auto& hook = prometheus::BuildCounter()
                   .Name("imapgate_abuse_policy_hook_total")
                   .Help("Answers of the auth_policy hook before a login (allow, reject, delay, failed).")
                   .Register(r);
  for (size_t i = 0; i < kHookResults.size(); ++i) hook_[i] = &hook.Add({{"result", std::string(kHookResults[i])}});
}

void AbuseSeries::Action(std::string_view action, std::string_view reason) {
  const int a = Find(kActions, action);
  const int x = Find(kReasons, reason);
  if (a >= 0 && x >= 0) actions_[static_cast<size_t>(a)][static_cast<size_t>(x)]->Increment();
}

void AbuseSeries::ConnectionRefused(std::string_view reason) {
  if (int i = Find(kRefusals, reason); i >= 0) refused_[static_cast<size_t>(i)]->Increment();
}

void AbuseSeries::StoreCall(std::string_view store, double seconds, bool ok) {
  const int i = Find(kStores, store);
  if (i < 0) return;
  store_duration_[static_cast<size_t>(i)]->Observe(seconds);
  if (!ok) store_errors_[static_cast<size_t>(i)]->Increment();
}

void AbuseSeries::FailOpen() { fail_open_->Increment(); }

void AbuseSeries::SetBlocked(std::string_view scope, int64_t count) {
  if (int i = Find(kScopes, scope); i >= 0) blocked_[static_cast<size_t>(i)]->Set(static_cast<double>(count));
}

void AbuseSeries::PolicyHook(std::string_view result) {
  if (int i = Find(kHookResults, result); i >= 0) hook_[static_cast<size_t>(i)]->Increment();
}

}  // namespace imapgate::stats::internal
