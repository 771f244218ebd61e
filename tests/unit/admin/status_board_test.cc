// Tests for admin::RefusalRing and admin::StatusBoard: the ring's bound (capacity and field
// lengths), its order, its total, the capacity clamp, and concurrent writers with a reader.

#include "admin/status_board.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace imapgate::admin {
namespace {

TEST(RefusalRingTest, EmptyAtStart) {
  RefusalRing ring;
  EXPECT_TRUE(ring.Recent().empty());
  EXPECT_EQ(ring.total(), 0u);
  EXPECT_EQ(ring.capacity(), RefusalRing::kDefaultCapacity);
  EXPECT_EQ(RefusalRing::kDefaultCapacity, 50u);
}

TEST(RefusalRingTest, ListsNewestFirstWithEveryField) {
  RefusalRing ring(4);
  ring.Record(100, "imaps", "per_address", "192.0.2.1:1000");
  ring.Record(101, "imap", "cleartext_login", "[2001:db8::1]:2000");
  std::vector<Refusal> r = ring.Recent();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].at_unix_seconds, 101);
  EXPECT_EQ(r[0].listener, "imap");
  EXPECT_EQ(r[0].reason, "cleartext_login");
  EXPECT_EQ(r[0].client_address, "[2001:db8::1]:2000");
  EXPECT_EQ(r[1].at_unix_seconds, 100);
  EXPECT_EQ(r[1].reason, "per_address");
}

TEST(RefusalRingTest, KeepsOnlyTheLastCapacityRefusals) {
  RefusalRing ring(3);
  for (int i = 1; i <= 10; ++i) ring.Record(i, "imaps", "r" + std::to_string(i), "192.0.2.1:1");
  std::vector<Refusal> r = ring.Recent();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].reason, "r10");
  EXPECT_EQ(r[1].reason, "r9");
  EXPECT_EQ(r[2].reason, "r8");
  EXPECT_EQ(ring.total(), 10u);
}

TEST(RefusalRingTest, WrapsAroundManyTimesInOrder) {
  RefusalRing ring(5);
  for (int i = 1; i <= 1003; ++i) ring.Record(i, "l", "r", "a");
  std::vector<Refusal> r = ring.Recent();
  ASSERT_EQ(r.size(), 5u);
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].at_unix_seconds, 1003 - static_cast<int64_t>(i));
}

TEST(RefusalRingTest, CapacityIsClamped) {
  EXPECT_EQ(RefusalRing(0).capacity(), 1u);
  EXPECT_EQ(RefusalRing(RefusalRing::kMaxCapacity + 1).capacity(), RefusalRing::kMaxCapacity);
  RefusalRing huge(1'000'000);
  for (size_t i = 0; i < RefusalRing::kMaxCapacity + 10; ++i) huge.Record(1, "l", "r", "a");
  EXPECT_EQ(huge.Recent().size(), RefusalRing::kMaxCapacity);
}

TEST(RefusalRingTest, FieldsAreCutToTheBound) {
  RefusalRing ring(2);
  const std::string long_text(10'000, 'x');
  ring.Record(1, long_text, long_text, long_text);
  std::vector<Refusal> r = ring.Recent();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].listener.size(), RefusalRing::kMaxFieldBytes);
  EXPECT_EQ(r[0].reason.size(), RefusalRing::kMaxFieldBytes);
  EXPECT_EQ(r[0].client_address.size(), RefusalRing::kMaxFieldBytes);
}

TEST(RefusalRingTest, ConcurrentWritersAndAReader) {
  RefusalRing ring(50);
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&ring, t] {
      for (int i = 0; i < kEach; ++i) ring.Record(i, "w" + std::to_string(t), "reason", "192.0.2.1:1");
    });
  }
  size_t max_seen = 0;
  for (int i = 0; i < 200; ++i) max_seen = std::max(max_seen, ring.Recent().size());
  for (auto& w : writers) w.join();
  EXPECT_LE(max_seen, 50u);
  EXPECT_EQ(ring.Recent().size(), 50u);
  EXPECT_EQ(ring.total(), static_cast<uint64_t>(kThreads * kEach));
}

TEST(StatusBoardTest, CountsLoginsAndHandshakes) {
  StatusBoard board;
  board.CountLogin(true);
  board.CountLogin(true);
  board.CountLogin(false);
  board.CountTlsHandshake(true);
  board.CountTlsHandshake(false);
  board.CountTlsHandshake(false);
  StatusCounts c = board.Counts();
  EXPECT_EQ(c.logins_ok, 2u);
  EXPECT_EQ(c.logins_failed, 1u);
  EXPECT_EQ(c.tls_handshakes_ok, 1u);
  EXPECT_EQ(c.tls_handshakes_failed, 2u);
  board.refusals().Record(5, "imaps", "blocked", "192.0.2.9:4");
  EXPECT_EQ(board.refusals().total(), 1u);
}

}  // namespace
}  // namespace imapgate::admin
