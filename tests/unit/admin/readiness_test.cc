// Tests for admin::EvaluateReadiness: ready, and each way of not being ready with its reason.

#include "admin/readiness.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::admin {
namespace {

BackendInfo Backend(std::string name, BackendState state) {
  BackendInfo b;
  b.name = std::move(name);
  b.state = state;
  return b;
}

StatusInfo ReadyState() {
  StatusInfo s;
  s.config_loaded = true;
  s.listeners_bound = true;
  s.shards = {{"a", {Backend("a1", BackendState::kUp), Backend("a2", BackendState::kDown)}},
              {"b", {Backend("b1", BackendState::kDown), Backend("b2", BackendState::kUp)}}};
  return s;
}

TEST(ReadinessTest, ReadyWhenEveryShardHasABackendUp) {
  Readiness r = EvaluateReadiness(ReadyState());
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.reason, "ready");
}

TEST(ReadinessTest, ShardWithNoBackendUpIsNamedWithItsBackends) {
  StatusInfo s = ReadyState();
  s.shards[1].backends[1].state = BackendState::kDraining;
  Readiness r = EvaluateReadiness(s);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "shard b: no backend up (b1 down, b2 draining)");
}

TEST(ReadinessTest, DrainingBackendDoesNotCountAsUp) {
  StatusInfo s = ReadyState();
  s.shards[0].backends = {Backend("a1", BackendState::kDraining)};
  Readiness r = EvaluateReadiness(s);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "shard a: no backend up (a1 draining)");
}

TEST(ReadinessTest, EveryShardThatIsDownIsNamed) {
  StatusInfo s = ReadyState();
  s.shards[0].backends[0].state = BackendState::kDown;
  s.shards[1].backends[1].state = BackendState::kDown;
  EXPECT_EQ(EvaluateReadiness(s).reason,
            "shard a: no backend up (a1 down, a2 down); shard b: no backend up (b1 down, b2 down)");
}

TEST(ReadinessTest, DrainingProcessWinsOverEverything) {
  StatusInfo s = ReadyState();
  s.draining = true;
  s.shards[0].backends[0].state = BackendState::kDown;
  s.shards[0].backends[1].state = BackendState::kDown;
  Readiness r = EvaluateReadiness(s);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "draining");
}

TEST(ReadinessTest, ConfigAndListeners) {
  StatusInfo s = ReadyState();
  s.config_loaded = false;
  EXPECT_EQ(EvaluateReadiness(s).reason, "no configuration loaded");
  s = ReadyState();
  s.listeners_bound = false;
  Readiness r = EvaluateReadiness(s);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "listeners not bound");
}

TEST(ReadinessTest, NoShardsOrAnEmptyShardIsNotReady) {
  StatusInfo s = ReadyState();
  s.shards.push_back({"c", {}});
  EXPECT_EQ(EvaluateReadiness(s).reason, "shard c: no backend configured");
  s.shards.clear();
  EXPECT_FALSE(EvaluateReadiness(s).ready);
}

TEST(ReadinessTest, ReasonIsBounded) {
  StatusInfo s = ReadyState();
  s.shards.clear();
  for (int i = 0; i < 200; ++i) {
    s.shards.push_back({"shard" + std::to_string(i), {Backend(std::string(60, 'x'), BackendState::kDown),
                                                     Backend(std::string(60, 'y'), BackendState::kDown)}});
  }
  Readiness r = EvaluateReadiness(s);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason.size(), kMaxReasonBytes);
  EXPECT_EQ(r.reason.substr(r.reason.size() - 3), "...");
  EXPECT_EQ(r.reason.rfind("shard shard0: no backend up (", 0), 0u) << r.reason.substr(0, 80);
}

}  // namespace
}  // namespace imapgate::admin
