// Tests for common/secret.h: SecureWipe, ConstantTimeEquals, WipingAllocator and SecretString.
//
// Freed memory is never read. The allocator is observed through a probe: std::allocator is
// specialised for a test-only type, so WipingAllocator<ProbeByte> hands each block to the probe
// just before it is freed, and the probe records whether the block was already zero.

#include "common/secret.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace imapgate_secret_test {
struct ProbeByte {
  unsigned char value;
};
// What the probe saw.
struct ProbeLog {
  int deallocations = 0;
  int nonzero_blocks = 0;
};
inline ProbeLog g_probe_log;
}  // namespace imapgate_secret_test

// A program-defined specialisation: WipingAllocator<ProbeByte> frees through it, after its wipe.
template <>
struct std::allocator<imapgate_secret_test::ProbeByte> {
  using value_type = imapgate_secret_test::ProbeByte;
  allocator() = default;
  template <typename U>
  allocator(const allocator<U>&) {}
  value_type* allocate(size_t n) {
    return static_cast<value_type*>(::operator new(n * sizeof(value_type)));
  }
  void deallocate(value_type* p, size_t n) {
    auto& log = imapgate_secret_test::g_probe_log;
    ++log.deallocations;
    const auto* bytes = reinterpret_cast<const unsigned char*>(p);
    if (std::any_of(bytes, bytes + n * sizeof(value_type),
                    [](unsigned char b) { return b != 0; })) {
      ++log.nonzero_blocks;
    }
    ::operator delete(p);
  }
};

namespace imapgate {
namespace {

using imapgate_secret_test::g_probe_log;
using imapgate_secret_test::ProbeByte;

bool AllZero(const char* p, size_t n) {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}

TEST(SecureWipeTest, ZeroesExactlyTheRange) {
  char buf[16];
  std::memset(buf, 'x', sizeof buf);
  SecureWipe(buf + 4, 8);
  EXPECT_EQ(std::string(buf, 4), "xxxx");
  EXPECT_TRUE(AllZero(buf + 4, 8));
  EXPECT_EQ(std::string(buf + 12, 4), "xxxx");
}

TEST(SecureWipeTest, NullAndEmptyAreNoOps) {
  SecureWipe(nullptr, 0);
  SecureWipe(nullptr, 10);
  char c = 'x';
  SecureWipe(&c, 0);
  EXPECT_EQ(c, 'x');
}

TEST(ConstantTimeEqualsTest, EqualStrings) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("hunter2", "hunter2"));
  const std::string binary("a\0b\xff", 4);
  EXPECT_TRUE(ConstantTimeEquals(binary, std::string("a\0b\xff", 4)));
}

TEST(ConstantTimeEqualsTest, DifferentStrings) {
  EXPECT_FALSE(ConstantTimeEquals("hunter2", "hunter3"));
  EXPECT_FALSE(ConstantTimeEquals("hunter2", "Hunter2"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
  // Bytes that differ only in the high bit.
  EXPECT_FALSE(ConstantTimeEquals("\x01", "\x81"));
}

TEST(ConstantTimeEqualsTest, DifferentLengthsAreNeverEqual) {
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  // A prefix followed by a NUL is still a different string.
  EXPECT_FALSE(ConstantTimeEquals("abc", std::string("abc\0", 4)));
}

TEST(WipingAllocatorTest, DeallocateZeroesTheBlockBeforeFreeingIt) {
  g_probe_log = {};
  WipingAllocator<ProbeByte> alloc;
  ProbeByte* p = alloc.allocate(64);
  std::memset(p, 0xab, 64);
  alloc.deallocate(p, 64);
  EXPECT_EQ(g_probe_log.deallocations, 1);
  EXPECT_EQ(g_probe_log.nonzero_blocks, 0);
}

TEST(WipingAllocatorTest, GrowingVectorLeavesNoStaleCopy) {
  g_probe_log = {};
  {
    std::vector<ProbeByte, WipingAllocator<ProbeByte>> v;
    for (int i = 0; i < 1000; ++i) v.push_back(ProbeByte{static_cast<unsigned char>(i | 1)});
  }
  EXPECT_GT(g_probe_log.deallocations, 3);  // several reallocations, then the final block
  EXPECT_EQ(g_probe_log.nonzero_blocks, 0);
}

TEST(WipingAllocatorTest, RebindsAndComparesEqual) {
  WipingAllocator<char> a;
  WipingAllocator<int> b(a);
  EXPECT_TRUE(a == b);
  int* p = b.allocate(4);
  b.deallocate(p, 4);
}

TEST(WipingBytesTest, BehavesLikeAVector) {
  WipingBytes bytes;
  const std::string data = "password";
  bytes.insert(bytes.end(), data.begin(), data.end());
  EXPECT_EQ(std::string(bytes.data(), bytes.size()), data);
}

TEST(SecretStringTest, HoldsItsBytes) {
  SecretString empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);
  SecretString s(std::string_view("p\0ss", 4));
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(s.view(), std::string_view("p\0ss", 4));
}

// Short secrets live in the small-string buffer inside the object, long ones on the heap; both
// are covered by the tests below.
class SecretStringWipeTest : public ::testing::TestWithParam<size_t> {
 protected:
  std::string Secret() const { return std::string(GetParam(), 'S'); }
};

TEST_P(SecretStringWipeTest, ClearZeroesTheBuffer) {
  SecretString s(Secret());
  const char* p = s.view().data();
  const size_t n = s.size();
  s.clear();
  EXPECT_TRUE(s.empty());
  // clear() keeps the buffer (the string still owns it), so reading it is defined.
  EXPECT_EQ(s.view().data(), p);
  EXPECT_TRUE(AllZero(p, n));
}

TEST_P(SecretStringWipeTest, MoveConstructionEmptiesAndWipesTheSource) {
  SecretString a(Secret());
  const char* old = a.view().data();
  const size_t n = a.size();
  SecretString b(std::move(a));
  EXPECT_EQ(b.view(), Secret());
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(a.size(), 0u);
  if (old != b.view().data()) {
    // The bytes were copied (small string): the source's own buffer must not keep them.
    EXPECT_TRUE(AllZero(old, n));
  }
}

TEST_P(SecretStringWipeTest, MoveAssignmentEmptiesAndWipesTheSource) {
  SecretString a(Secret());
  SecretString b("previous");
  const char* old = a.view().data();
  const size_t n = a.size();
  b = std::move(a);
  EXPECT_EQ(b.view(), Secret());
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
  if (old != b.view().data()) {
    EXPECT_TRUE(AllZero(old, n));
  }
}

TEST_P(SecretStringWipeTest, SelfMoveAssignmentKeepsTheValue) {
  SecretString a(Secret());
  SecretString& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.view(), Secret());
}

TEST_P(SecretStringWipeTest, MovedFromObjectIsReusable) {
  SecretString a(Secret());
  SecretString b(std::move(a));
  a = SecretString("again");  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.view(), "again");
}

INSTANTIATE_TEST_SUITE_P(ShortAndLong, SecretStringWipeTest, ::testing::Values(7, 300));

TEST(SecretStringTest, DestructorWipesInlineBytes) {
  // The object lives in storage this test owns, so the storage can be inspected after the
  // destructor ran. A short secret sits in the small-string buffer inside the object.
  alignas(SecretString) unsigned char storage[sizeof(SecretString)];
  const std::string secret = "Tok3n!";  // short enough for the inline buffer
  auto* s = new (storage) SecretString(secret);
  const auto* inline_bytes = reinterpret_cast<const unsigned char*>(s->view().data());
  ASSERT_GE(inline_bytes, storage);
  ASSERT_LE(inline_bytes + secret.size(), storage + sizeof storage) << "secret not stored inline";
  s->~SecretString();
  const std::string raw(reinterpret_cast<const char*>(storage), sizeof storage);
  EXPECT_EQ(raw.find(secret), std::string::npos);
  EXPECT_EQ(raw.find("Tok"), std::string::npos);
}

}  // namespace
}  // namespace imapgate
