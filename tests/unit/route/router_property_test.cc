// Property tests of the router's weighted rendezvous hashing over 100,000 synthetic users:
// adding a shard moves only its share, and only to it; removing one moves only its users;
// weights hold.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "route/hash.h"
#include "route/rendezvous.h"
#include "route/router.h"

namespace imapgate::route {
namespace {

constexpr int kUsers = 100000;

const std::vector<std::string>& Users() {
  static const std::vector<std::string> users = [] {
    std::vector<std::string> v;
    v.reserve(kUsers);
    for (int i = 0; i < kUsers; ++i) v.push_back("user" + std::to_string(i) + "@example.com");
    return v;
  }();
  return users;
}

// Each user's shard name under `shards`.
std::vector<std::string> Assign(const std::vector<ShardSpec>& shards) {
  RouterSpec spec;
  spec.shards = shards;
  auto router = Router::Create(spec);
  EXPECT_TRUE(router.ok());
  std::vector<std::string> out;
  if (!router.ok()) return out;
  out.reserve(kUsers);
  for (const std::string& user : Users()) {
    const RouteDecision d = (*router)->Route(user);
    EXPECT_TRUE(d.ok());
    EXPECT_EQ(d.source, RouteSource::kHash);
    out.push_back((*router)->shards()[d.shard].name);
  }
  return out;
}

std::map<std::string, int> Counts(const std::vector<std::string>& assignment) {
  std::map<std::string, int> counts;
  for (const std::string& shard : assignment) ++counts[shard];
  return counts;
}

const std::vector<ShardSpec> kFour = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}};

TEST(RouterPropertyTest, AddingAFifthShardMovesAFifthOfTheUsersAllToIt) {
  std::vector<ShardSpec> five = kFour;
  five.push_back({"e", 1});
  const std::vector<std::string> before = Assign(kFour), after = Assign(five);
  ASSERT_EQ(before.size(), after.size());
  int moved = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    // No user moves between the old four.
    ASSERT_EQ(after[i], "e") << Users()[i] << " moved from " << before[i] << " to " << after[i];
  }
  const double share = static_cast<double>(moved) / kUsers;
  EXPECT_GE(share, 0.15);
  EXPECT_LE(share, 0.25);
}

TEST(RouterPropertyTest, RemovingAShardMovesOnlyItsUsers) {
  std::vector<ShardSpec> five = kFour;
  five.push_back({"e", 1});
  std::vector<ShardSpec> without_c = {{"a", 1}, {"b", 1}, {"d", 1}, {"e", 1}};
  const std::vector<std::string> before = Assign(five), after = Assign(without_c);
  int moved = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == "c") {
      ++moved;
      ASSERT_NE(after[i], "c");
    } else {
      ASSERT_EQ(after[i], before[i]) << Users()[i];
    }
  }
  // c's users spread over the other four, not onto one of them.
  std::map<std::string, int> spread;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == "c") ++spread[after[i]];
  }
  ASSERT_EQ(spread.size(), 4u);
  for (const auto& [shard, count] : spread) {
    EXPECT_NEAR(count, moved / 4.0, moved / 4.0 * 0.10) << shard;
  }
}

// Each shard's share is within ±5 % (relative) of weight / sum(weights).
void ExpectShares(const std::vector<ShardSpec>& shards) {
  double total_weight = 0;
  for (const ShardSpec& s : shards) total_weight += s.weight;
  const std::map<std::string, int> counts = Counts(Assign(shards));
  for (const ShardSpec& s : shards) {
    const double expected = kUsers * s.weight / total_weight;
    const auto it = counts.find(s.name);
    const int got = it == counts.end() ? 0 : it->second;
    EXPECT_NEAR(got, expected, expected * 0.05) << "shard " << s.name << " weight " << s.weight;
  }
}

TEST(RouterPropertyTest, WeightsOneTwoThreeFourHold) {
  ExpectShares({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}});
}

TEST(RouterPropertyTest, EqualWeightsSpreadEvenly) {
  ExpectShares(kFour);
  std::vector<ShardSpec> ten;
  for (int i = 0; i < 10; ++i) ten.push_back({"shard" + std::to_string(i), 1});
  ExpectShares(ten);
}

TEST(RouterPropertyTest, UnevenWeightsHold) {
  ExpectShares({{"big", 10}, {"small", 1}, {"mid", 4}});
}

// Doubling a shard's weight moves users only onto it.
TEST(RouterPropertyTest, RaisingAWeightMovesUsersOnlyToThatShard) {
  std::vector<ShardSpec> heavier = kFour;
  heavier[1].weight = 2;
  const std::vector<std::string> before = Assign(kFour), after = Assign(heavier);
  int moved = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    ASSERT_EQ(after[i], "b");
  }
  // b goes from 1/4 to 2/5 of the users.
  EXPECT_NEAR(moved, kUsers * (0.4 - 0.25), kUsers * 0.15 * 0.05);
}

// The router prunes shards that cannot win; its answer must be the plain argmax of every score.
TEST(RouterPropertyTest, PruningGivesTheFullArgmax) {
  RouterSpec spec;
  for (int i = 0; i < 100; ++i) {
    spec.shards.push_back({"shard-" + std::to_string(i), static_cast<uint32_t>(1 + i % 7)});
  }
  auto router = Router::Create(spec);
  ASSERT_TRUE(router.ok());
  for (int u = 0; u < 20000; ++u) {
    const std::string& user = Users()[u];
    const uint64_t h = StableHash(user);
    size_t best = 0;
    double best_score = -1;
    for (size_t i = 0; i < spec.shards.size(); ++i) {
      const double score = RendezvousScore(h, StableHash(spec.shards[i].name), spec.shards[i].weight);
      if (score > best_score) {
        best = i;
        best_score = score;
      }
    }
    ASSERT_EQ((*router)->Route(user).shard, best) << user;
  }
}

}  // namespace
}  // namespace imapgate::route
