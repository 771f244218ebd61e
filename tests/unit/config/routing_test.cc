// Tests for config/routing.h: a loaded config builds the router it describes.
#include "config/routing.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config_test_util.h"

namespace imapgate::config {
namespace {

TEST(RoutingTest, TheSingleBackendIsOneShardThatTakesEveryone) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  auto router = BuildRouter(*c);
  ASSERT_TRUE(router.ok()) << router.status().message();
  ASSERT_EQ((*router)->shards().size(), 1u);
  EXPECT_EQ((*router)->shards()[0].name, "default");
  const route::RouteDecision d = (*router)->Route("Anyone@Example.com");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.shard, 0u);
  EXPECT_EQ(d.source, route::RouteSource::kHash);
}

TEST(RoutingTest, ShardsOverridesAndDomainsReachTheRouter) {
  char dir[] = "/tmp/imapgate-routing-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::ofstream(std::string(dir) + "/overrides") << "Alice shard-b\n";
  StatusOr<ConfigPtr> c = LoadConfigText(R"(listeners:
  - {name: a, address: 127.0.0.1:1993, tls: {certificate: c.pem, key: k.pem}}
shards:
  - {name: shard-a, weight: 2, backends: [{name: a1, address: 127.0.0.1:1}]}
  - {name: shard-b, backends: [{name: b1, address: 127.0.0.1:2}]}
  - {name: shard-c, backends: [{name: c1, address: 127.0.0.1:3}]}
routing:
  default_domain: Demo.Test
  override_file: overrides
  domains: {corp.example: shard-c}
)",
                                         std::string(dir) + "/imapgate.yaml");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const route::RouterSpec spec = RouterSpecOf(**c);
  ASSERT_EQ(spec.shards.size(), 3u);
  EXPECT_EQ(spec.shards[0].name, "shard-a");
  EXPECT_EQ(spec.shards[0].weight, 2u);
  auto router = BuildRouter(**c);
  ASSERT_TRUE(router.ok()) << router.status().message();
  route::RouteDecision d = (*router)->Route("ALICE");
  EXPECT_EQ(d.source, route::RouteSource::kOverride);
  EXPECT_EQ((*c)->shards[d.shard].name, "shard-b");
  d = (*router)->Route("bob@corp.example");
  EXPECT_EQ(d.source, route::RouteSource::kDomain);
  EXPECT_EQ((*c)->shards[d.shard].name, "shard-c");
  d = (*router)->Route("carol");
  EXPECT_EQ(d.source, route::RouteSource::kHash);
  EXPECT_EQ(d.shard, (*router)->Route("carol@demo.test").shard);
}

}  // namespace
}  // namespace imapgate::config
