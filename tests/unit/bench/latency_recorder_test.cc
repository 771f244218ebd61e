#include "bench/loadgen/latency_recorder.h"

#include <gtest/gtest.h>

namespace imapgate::bench {
namespace {

TEST(LatencyRecorderTest, EmptyIsAllZero) {
  LatencyRecorder r;
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p50, 0u);
  EXPECT_EQ(s.p99, 0u);
  EXPECT_EQ(s.max, 0u);
  EXPECT_EQ(s.mean, 0.0);
}

TEST(LatencyRecorderTest, OneToHundred) {
  LatencyRecorder r;
  for (uint64_t v = 100; v >= 1; --v) r.Record(v);  // unsorted input
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.p50, 50u);
  EXPECT_EQ(s.p90, 90u);
  EXPECT_EQ(s.p99, 99u);
  EXPECT_EQ(s.max, 100u);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

TEST(LatencyRecorderTest, SingleSample) {
  LatencyRecorder r;
  r.Record(42);
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.p50, 42u);
  EXPECT_EQ(s.p90, 42u);
  EXPECT_EQ(s.p99, 42u);
  EXPECT_EQ(s.max, 42u);
  EXPECT_DOUBLE_EQ(s.mean, 42.0);
}

TEST(LatencyRecorderTest, NearestRankOnSmallVectors) {
  // Nearest rank of {10,20,30,40}: p50 -> 2nd, p90 -> 4th, p99 -> 4th.
  std::vector<uint64_t> v = {10, 20, 30, 40};
  EXPECT_EQ(Percentile(v, 50), 20u);
  EXPECT_EQ(Percentile(v, 90), 40u);
  EXPECT_EQ(Percentile(v, 99), 40u);
  EXPECT_EQ(Percentile(v, 25), 10u);
  EXPECT_EQ(Percentile(v, 100), 40u);
  EXPECT_EQ(Percentile({}, 50), 0u);
}

TEST(LatencyRecorderTest, TailIsVisible) {
  LatencyRecorder r;
  for (int i = 0; i < 990; ++i) r.Record(100);
  for (int i = 0; i < 10; ++i) r.Record(5000);
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.p50, 100u);
  EXPECT_EQ(s.p90, 100u);
  EXPECT_EQ(s.p99, 100u);  // exactly 99% are 100
  EXPECT_EQ(s.max, 5000u);
  r.Record(5000);
  EXPECT_EQ(r.Summarize().p99, 5000u);
}

TEST(LatencyRecorderTest, MergeCombinesSamples) {
  LatencyRecorder a, b;
  a.Record(1);
  a.Record(3);
  b.Record(2);
  b.Record(4);
  a.Merge(b);
  EXPECT_EQ(a.count(), 4u);
  EXPECT_EQ(a.Summarize().p50, 2u);
  EXPECT_EQ(a.Summarize().max, 4u);
}

TEST(LatencyRecorderTest, TwoHundredThousandSamples) {
  LatencyRecorder r;
  r.Reserve(200000);
  for (uint64_t i = 1; i <= 200000; ++i) r.Record(i);
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.p50, 100000u);
  EXPECT_EQ(s.p90, 180000u);
  EXPECT_EQ(s.p99, 198000u);
  EXPECT_EQ(s.max, 200000u);
}

}  // namespace
}  // namespace imapgate::bench
