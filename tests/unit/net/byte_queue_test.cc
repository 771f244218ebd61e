// Tests for net::ByteQueue: FIFO order across growth and compaction, memory given back when
// emptied (an idle connection holds none), and the kWipe policy's wiping of consumed, moved,
// discarded and outgrown storage.

#include "net/byte_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::net {
namespace {

TEST(ByteQueueTest, KeepsOrderAcrossGrowthAndCompaction) {
  ByteQueue q(ByteQueue::Policy::kPlain);
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    std::string chunk = "chunk-" + std::to_string(i) + ";";
    q.Append(chunk);
    expected += chunk;
    if (i % 3 == 0) {  // consume a little from the front now and then (forces memmove reuse)
      size_t n = std::min<size_t>(7, q.size());
      EXPECT_EQ(q.view().substr(0, n), expected.substr(0, n));
      q.Consume(n);
      expected.erase(0, n);
    }
  }
  EXPECT_EQ(q.view(), expected);
}

TEST(ByteQueueTest, PlainQueueFreesItsMemoryWhenEmptied) {
  ByteQueue q(ByteQueue::Policy::kPlain);
  EXPECT_FALSE(q.holds_memory());
  q.Append("* 1 FETCH (BODY[] {3}\r\nabc)\r\n");
  EXPECT_TRUE(q.holds_memory());
  q.Consume(q.size());
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.holds_memory());
}

TEST(ByteQueueTest, WipingQueueWipesWhatWasWrittenAndKeepsOnlyASmallBuffer) {
  ByteQueue q;  // kWipe
  q.Append("A2 LOGIN alice s3cr3t\r\n");
  EXPECT_TRUE(q.StorageContains("s3cr3t"));
  q.Consume(q.size());
  EXPECT_TRUE(q.holds_memory());  // a small buffer is kept for the next reply...
  EXPECT_FALSE(q.StorageContains("s3cr3t"));  // ...wiped, not only marked empty

  std::string big(64 * 1024, 'x');
  q.Append(big);
  q.Consume(q.size());
  EXPECT_FALSE(q.holds_memory());  // a large one is given back
}

TEST(ByteQueueTest, WipingQueueLeavesNoStaleCopyWhenCompacting) {
  ByteQueue q;  // kWipe
  q.Append(std::string(3000, 'a') + "s3cr3t-head");
  q.Consume(3000);  // "s3cr3t-head" stays, in the middle of the buffer
  q.Append(std::string(2000, 'b'));  // fits only after moving the rest to the front
  EXPECT_EQ(q.view().substr(0, 11), "s3cr3t-head");
  q.Consume(11);
  // Whatever remains in storage, the secret is only where it is still queued: nowhere now.
  EXPECT_FALSE(q.StorageContains("s3cr3t-head"));
}

TEST(ByteQueueTest, ClearWipesUnsentBytes) {
  ByteQueue q;
  q.Append("AUTHENTICATE PLAIN AGFsaWNlAHMzY3IzdA==\r\n");
  q.Clear();
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.StorageContains("AGFsaWNlAHMzY3IzdA=="));
}

TEST(ByteQueueTest, MovingTransfersTheBytes) {
  ByteQueue a;
  a.Append("pending");
  ByteQueue b = std::move(a);
  EXPECT_EQ(b.view(), "pending");
  EXPECT_FALSE(a.holds_memory());
  a = std::move(b);
  EXPECT_EQ(a.view(), "pending");
}

}  // namespace
}  // namespace imapgate::net
