// Tests for issue E's backend and relay series of stats::Metrics: connect and login latency per
// backend, the shard gauges, and relay bytes counted as they flow. Each test reads the text
// exposition, as a scrape would.

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stats/metrics.h"

namespace imapgate::stats {
namespace {

// The value of the sample written exactly as `series` (name and labels as prometheus-cpp writes
// them, e.g. imapgate_shard_backends{shard="a"}); nullopt when the scrape has no such line.
std::optional<double> Find(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

class BackendMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = Metrics::Create({"imap"}, "first", "0");
    ASSERT_TRUE(m.ok()) << m.status().message();
    metrics_ = std::move(*m);
  }

  // The sample's value in a fresh scrape; fails the test when the series is missing.
  double Value(const std::string& series) {
    std::optional<double> v = Find(metrics_->Serialize(), series);
    EXPECT_TRUE(v.has_value()) << "no series " << series;
    return v.value_or(-1);
  }

  MetricsPtr metrics_;
};

TEST_F(BackendMetricsTest, EveryBackendAndShardHasItsSeriesAtZeroOnceNamed) {
  ASSERT_TRUE(metrics_->BackendIndex("b2").ok());
  ASSERT_TRUE(metrics_->ShardIndex("s1").ok());
  const std::string text = metrics_->Serialize();
  for (const char* backend : {"first", "b2"}) {
    const std::string label = std::string("{backend=\"") + backend + "\"}";
    EXPECT_EQ(Find(text, "imapgate_backend_connect_duration_seconds_count" + label), 0.0) << backend;
    EXPECT_EQ(Find(text, "imapgate_backend_login_duration_seconds_count" + label), 0.0) << backend;
  }
  EXPECT_EQ(Find(text, "imapgate_shard_backends{shard=\"s1\"}"), 0.0);
  EXPECT_EQ(Find(text, "imapgate_shard_backends_up{shard=\"s1\"}"), 0.0);
  EXPECT_EQ(Find(text, "imapgate_relay_bytes_total{direction=\"client_to_backend\"}"), 0.0);
  EXPECT_EQ(Find(text, "imapgate_relay_bytes_total{direction=\"backend_to_client\"}"), 0.0);
  EXPECT_NE(text.find("# TYPE imapgate_backend_connect_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE imapgate_backend_login_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE imapgate_shard_backends gauge"), std::string::npos);
  EXPECT_NE(text.find("# TYPE imapgate_shard_backends_up gauge"), std::string::npos);
}

TEST_F(BackendMetricsTest, ConnectAndLoginLatencyGoToTheirBackendOnly) {
  StatusOr<int> b2 = metrics_->BackendIndex("b2");
  ASSERT_TRUE(b2.ok());
  metrics_->BackendConnected(*b2, 0.003);
  metrics_->BackendLoggedIn(*b2, 0.02);
  metrics_->BackendLoggedIn(*b2, 0.04);
  const std::string text = metrics_->Serialize();
  EXPECT_EQ(Find(text, "imapgate_backend_connect_duration_seconds_count{backend=\"b2\"}"), 1.0);
  EXPECT_DOUBLE_EQ(Find(text, "imapgate_backend_connect_duration_seconds_sum{backend=\"b2\"}").value_or(0), 0.003);
  EXPECT_EQ(Find(text, "imapgate_backend_connect_duration_seconds_bucket{backend=\"b2\",le=\"0.0025\"}"), 0.0);
  EXPECT_EQ(Find(text, "imapgate_backend_connect_duration_seconds_bucket{backend=\"b2\",le=\"0.005\"}"), 1.0);
  EXPECT_EQ(Find(text, "imapgate_backend_login_duration_seconds_count{backend=\"b2\"}"), 2.0);
  EXPECT_DOUBLE_EQ(Find(text, "imapgate_backend_login_duration_seconds_sum{backend=\"b2\"}").value_or(0), 0.06);
  EXPECT_EQ(Find(text, "imapgate_backend_connect_duration_seconds_count{backend=\"first\"}"), 0.0);
  EXPECT_EQ(Find(text, "imapgate_backend_login_duration_seconds_count{backend=\"first\"}"), 0.0);
}

TEST_F(BackendMetricsTest, UnknownBackendIndicesAreIgnored) {
  for (int bad : {-1, 1, 57, Metrics::kMaxBackends, 1 << 30}) {
    metrics_->BackendConnected(bad, 1);
    metrics_->BackendLoggedIn(bad, 1);
  }
  metrics_->SetShardBackends({{-1, 3, 2}, {7, 3, 2}, {Metrics::kMaxBackends + 5, 1, 1}});
  const std::string text = metrics_->Serialize();
  EXPECT_EQ(Find(text, "imapgate_backend_connect_duration_seconds_count{backend=\"first\"}"), 0.0);
  EXPECT_EQ(text.find("imapgate_shard_backends{"), std::string::npos) << "no shard was named";
}

TEST_F(BackendMetricsTest, ShardGaugesTakeTheListedCountsAndZeroTheRest) {
  StatusOr<int> a = metrics_->ShardIndex("a");
  StatusOr<int> b = metrics_->ShardIndex("b");
  ASSERT_TRUE(a.ok() && b.ok());
  metrics_->SetShardBackends({{*a, 3, 2}, {*b, 2, 0}});
  EXPECT_EQ(Value("imapgate_shard_backends{shard=\"a\"}"), 3.0);
  EXPECT_EQ(Value("imapgate_shard_backends_up{shard=\"a\"}"), 2.0);
  EXPECT_EQ(Value("imapgate_shard_backends{shard=\"b\"}"), 2.0);
  EXPECT_EQ(Value("imapgate_shard_backends_up{shard=\"b\"}"), 0.0);
  // A reload removed shard b: it is no longer listed, and reads 0 rather than its last count.
  metrics_->SetShardBackends({{*a, 3, 3}});
  EXPECT_EQ(Value("imapgate_shard_backends_up{shard=\"a\"}"), 3.0);
  EXPECT_EQ(Value("imapgate_shard_backends{shard=\"b\"}"), 0.0);
  EXPECT_EQ(Value("imapgate_shard_backends_up{shard=\"b\"}"), 0.0);
}

TEST_F(BackendMetricsTest, RelayBytesFlowedShowInTheNextScrapeAndAreNeverCountedTwice) {
  metrics_->RelayBytesFlowed(false, 10);
  metrics_->RelayBytesFlowed(true, 1000);
  metrics_->RelayBytesFlowed(true, 24);
  EXPECT_EQ(Value("imapgate_relay_bytes_total{direction=\"client_to_backend\"}"), 10.0);
  EXPECT_EQ(Value("imapgate_relay_bytes_total{direction=\"backend_to_client\"}"), 1024.0);
  // A second scrape without new bytes: the same totals (the pending sums were moved, not copied).
  EXPECT_EQ(Value("imapgate_relay_bytes_total{direction=\"backend_to_client\"}"), 1024.0);
  metrics_->RelayBytesFlowed(false, 5);
  EXPECT_EQ(Value("imapgate_relay_bytes_total{direction=\"client_to_backend\"}"), 15.0);
}

TEST_F(BackendMetricsTest, RelayBytesFromManyThreadsDuringScrapesAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr int kAdds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kAdds; ++i) metrics_->RelayBytesFlowed(t % 2 == 1, 3);
    });
  }
  for (int i = 0; i < 20; ++i) metrics_->Serialize();  // scrapes racing the adds
  for (auto& t : threads) t.join();
  EXPECT_EQ(Value("imapgate_relay_bytes_total{direction=\"client_to_backend\"}"), 3.0 * kAdds * kThreads / 2);
  EXPECT_EQ(Value("imapgate_relay_bytes_total{direction=\"backend_to_client\"}"), 3.0 * kAdds * kThreads / 2);
}

}  // namespace
}  // namespace imapgate::stats
