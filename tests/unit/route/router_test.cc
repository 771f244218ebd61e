// Tests for route/router.h: precedence (auth > override > domain > hash), errors, Create's
// validation, pinned answers, and the same answers from a second process.
#include "route/router.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace imapgate::route {
namespace {

RouterSpec FourShards() {
  RouterSpec spec;
  spec.shards = {{"shard-a", 1}, {"shard-b", 1}, {"shard-c", 2}, {"shard-d", 1}};
  return spec;
}

std::shared_ptr<const Router> Build(const RouterSpec& spec) {
  StatusOr<std::shared_ptr<const Router>> router = Router::Create(spec);
  EXPECT_TRUE(router.ok()) << router.status().message();
  return router.ok() ? *router : nullptr;
}

std::string ShardOf(const Router& router, std::string_view user, std::string_view auth = {}) {
  const RouteDecision d = router.Route(user, auth);
  if (!d.ok()) return std::string("error:") + std::string(ErrorName(d.error));
  return router.shards()[d.shard].name;
}

// The hash answer (no overrides) for a user whose hash lands anywhere but on `not_shard`.
std::string UserNotHashedTo(const Router& router, const std::string& domain,
                            const std::string& not_shard) {
  for (int i = 0;; ++i) {
    std::string user = "user" + std::to_string(i) + "@" + domain;
    RouteDecision d = router.HashRoute(user);
    if (router.shards()[d.shard].name != not_shard) return user;
  }
}

TEST(RouterTest, PrecedenceIsAuthThenOverrideThenDomainThenHash) {
  RouterSpec spec = FourShards();
  spec.default_domain = "demo.test";
  spec.overrides = {{"carol@corp.test", "shard-a"}, {"alice", "shard-b"}};
  spec.domains = {{"corp.test", "shard-c"}};
  auto router = Build(spec);
  ASSERT_TRUE(router);
  // Auth beats the override (and anything else).
  RouteDecision d = router->Route("carol@corp.test", "shard-d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.source, RouteSource::kAuth);
  EXPECT_EQ(router->shards()[d.shard].name, "shard-d");
  // The override beats the domain rule.
  d = router->Route("carol@corp.test");
  EXPECT_EQ(d.source, RouteSource::kOverride);
  EXPECT_EQ(router->shards()[d.shard].name, "shard-a");
  // The domain rule beats the hash, for a user the hash would send elsewhere.
  const std::string dave = UserNotHashedTo(*router, "corp.test", "shard-c");
  d = router->Route(dave);
  EXPECT_EQ(d.source, RouteSource::kDomain);
  EXPECT_EQ(router->shards()[d.shard].name, "shard-c");
  // Anything else: the hash.
  d = router->Route("zed@else.test");
  EXPECT_EQ(d.source, RouteSource::kHash);
  EXPECT_EQ(d.shard, router->HashRoute("zed@else.test").shard);
}

TEST(RouterTest, NamesAreNormalizedBeforeLookup) {
  RouterSpec spec = FourShards();
  spec.default_domain = "Demo.Test";
  spec.overrides = {{"Alice", "shard-b"}};
  spec.domains = {{"CORP.test", "shard-c"}};
  auto router = Build(spec);
  ASSERT_TRUE(router);
  EXPECT_EQ(ShardOf(*router, "ALICE"), "shard-b");
  EXPECT_EQ(ShardOf(*router, "alice@DEMO.test"), "shard-b");
  EXPECT_EQ(router->Route("alice@demo.test").source, RouteSource::kOverride);
  EXPECT_EQ(ShardOf(*router, "Someone@CORP.Test"), "shard-c");
  // A bare name takes the default domain, so its hash is that of the full name.
  EXPECT_EQ(router->Route("Bob").shard, router->Route("bob@demo.test").shard);
  EXPECT_EQ(router->default_domain(), "demo.test");
}

TEST(RouterTest, DomainRulesApplyToBareNamesThroughTheDefaultDomain) {
  RouterSpec spec = FourShards();
  spec.default_domain = "corp.test";
  spec.domains = {{"corp.test", "shard-d"}};
  auto router = Build(spec);
  ASSERT_TRUE(router);
  EXPECT_EQ(router->Route("anyone").source, RouteSource::kDomain);
  EXPECT_EQ(ShardOf(*router, "anyone"), "shard-d");
}

TEST(RouterTest, RefusesWhatItCannotRoute) {
  auto router = Build(FourShards());
  ASSERT_TRUE(router);
  EXPECT_EQ(ShardOf(*router, ""), "error:empty_name");
  EXPECT_EQ(ShardOf(*router, std::string(kMaxUserBytes + 1, 'a')), "error:name_too_long");
  EXPECT_EQ(ShardOf(*router, std::string(kMaxUserBytes, 'a')).rfind("shard-", 0), 0u);
  // An auth route to a shard we do not have is refused, never replaced by another shard.
  EXPECT_EQ(ShardOf(*router, "alice", "shard-x"), "error:unknown_auth_shard");
  EXPECT_EQ(router->HashRoute("").error, RouteError::kEmptyName);
}

TEST(RouterTest, SourceAndErrorNamesAreStable) {
  EXPECT_EQ(SourceName(RouteSource::kAuth), "auth");
  EXPECT_EQ(SourceName(RouteSource::kOverride), "override");
  EXPECT_EQ(SourceName(RouteSource::kDomain), "domain");
  EXPECT_EQ(SourceName(RouteSource::kHash), "hash");
  EXPECT_EQ(ErrorName(RouteError::kUnknownAuthShard), "unknown_auth_shard");
}

std::string CreateError(const RouterSpec& spec) {
  StatusOr<std::shared_ptr<const Router>> router = Router::Create(spec);
  EXPECT_FALSE(router.ok());
  return router.ok() ? "" : router.status().message();
}

TEST(RouterTest, CreateValidatesTheSpec) {
  EXPECT_EQ(CreateError(RouterSpec{}), "router: at least one shard is required");
  RouterSpec spec = FourShards();
  spec.shards.push_back({"shard-a", 1});
  EXPECT_EQ(CreateError(spec), "router: duplicate shard name 'shard-a'");
  spec = FourShards();
  spec.shards[1].weight = 0;
  EXPECT_EQ(CreateError(spec), "router: shard 'shard-b' has weight 0 (must be positive)");
  spec = FourShards();
  spec.shards.push_back({"", 1});
  EXPECT_EQ(CreateError(spec), "router: a shard has an empty name");
  spec = FourShards();
  spec.overrides = {{"alice", "shard-x"}};
  EXPECT_EQ(CreateError(spec), "router: override for 'alice' names unknown shard 'shard-x'");
  spec = FourShards();
  spec.domains = {{"corp.test", "nope"}};
  EXPECT_EQ(CreateError(spec), "router: domain rule 'corp.test' names unknown shard 'nope'");
  spec = FourShards();
  spec.overrides = {{std::string(kMaxUserBytes + 1, 'a'), "shard-a"}};
  EXPECT_NE(CreateError(spec).find("is empty or longer than 320 bytes"), std::string::npos);
  // Two spellings of one user on two shards.
  spec = FourShards();
  spec.default_domain = "demo.test";
  spec.overrides = {{"alice", "shard-a"}, {"Alice@demo.test", "shard-b"}};
  EXPECT_EQ(CreateError(spec), "router: overrides for 'alice@demo.test' name two shards");
  spec.overrides = {{"alice", "shard-a"}, {"Alice@demo.test", "shard-a"}};
  EXPECT_TRUE(Build(spec));
  spec = FourShards();
  spec.domains = {{"corp.test", "shard-a"}, {"CORP.TEST", "shard-b"}};
  EXPECT_EQ(CreateError(spec), "router: rules for domain 'corp.test' name two shards");
}

TEST(RouterTest, FindShardByName) {
  auto router = Build(FourShards());
  ASSERT_TRUE(router);
  EXPECT_EQ(router->FindShard("shard-c"), std::optional<size_t>(2));
  EXPECT_EQ(router->FindShard("shard-x"), std::nullopt);
}

// The answer depends on the shard names and weights, not on their order in the config.
TEST(RouterTest, ShardOrderDoesNotMatter) {
  RouterSpec spec = FourShards();
  auto forward = Build(spec);
  std::reverse(spec.shards.begin(), spec.shards.end());
  auto backward = Build(spec);
  ASSERT_TRUE(forward && backward);
  for (int i = 0; i < 20000; ++i) {
    const std::string user = "user" + std::to_string(i) + "@example.com";
    ASSERT_EQ(ShardOf(*forward, user), ShardOf(*backward, user)) << user;
  }
}

// Known answers, computed once: they must hold in every build, process and restart, since a
// change would move those users (and every other) to another shard's mail store.
TEST(RouterTest, PinnedAnswers) {
  auto router = Build(FourShards());
  ASSERT_TRUE(router);
  const std::vector<std::pair<std::string, std::string>> golden = {
      {"alice@demo.test", "shard-c"},
      {"bob@demo.test", "shard-b"},
      {"carol@example.com", "shard-c"},
      {"dave@example.org", "shard-c"},
      {"erin", "shard-d"},
      {"Frank@Example.COM", "shard-d"},
      {"grace@x.test", "shard-c"},
      {"heidi@demo.test", "shard-c"},
      {"ivan@demo.test", "shard-d"},
      {"judy@example.net", "shard-c"},
      {"mallory@demo.test", "shard-b"},
      {"oscar@demo.test", "shard-c"},
      {"peggy@example.com", "shard-d"},
      {"trent@example.com", "shard-c"},
      {"victor@demo.test", "shard-c"},
      {"walter@demo.test", "shard-b"},
      {"yves@demo.test", "shard-a"},
      {"zoe@demo.test", "shard-c"},
      {"nina@example.org", "shard-a"},
      {"omar@example.org", "shard-a"},
  };
  for (const auto& [user, shard] : golden) EXPECT_EQ(ShardOf(*router, user), shard) << user;
}

// The cross-process check: this binary, started again with IMAPGATE_ROUTE_CHILD_OUT set,
// writes "user shard" lines for the same users to that file and exits before any test runs.
std::vector<std::string> CrossProcessUsers() {
  std::vector<std::string> users;
  for (int i = 0; i < 2000; ++i) users.push_back("U" + std::to_string(i * 7919) + "@Example.COM");
  return users;
}

std::string Answers() {
  RouterSpec spec = FourShards();
  spec.shards.push_back({"shard-e", 3});
  auto router = Router::Create(spec);
  if (!router.ok()) return "error";
  std::string out;
  for (const std::string& user : CrossProcessUsers()) {
    out += user + " " + ShardOf(**router, user) + "\n";
  }
  return out;
}

const bool kIsChild = [] {
  const char* path = std::getenv("IMAPGATE_ROUTE_CHILD_OUT");
  if (path == nullptr) return false;
  std::ofstream(path) << Answers();
  std::_Exit(0);
}();

TEST(RouterTest, SecondProcessGivesTheSameAnswers) {
  ASSERT_FALSE(kIsChild);
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  char out[] = "/tmp/imapgate-route-test-XXXXXX";
  const int fd = mkstemp(out);
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string command = std::string("IMAPGATE_ROUTE_CHILD_OUT='") + out + "' '" + self + "'";
  const int status = std::system(command.c_str());
  std::ifstream in(out);
  std::stringstream child;
  child << in.rdbuf();
  unlink(out);
  ASSERT_EQ(status, 0);
  const std::string mine = Answers();
  EXPECT_EQ(child.str().size(), mine.size());
  EXPECT_TRUE(child.str() == mine) << "the second process routed some users differently";
}

}  // namespace
}  // namespace imapgate::route
