// Route() must not allocate: this binary replaces the global operator new with one that counts,
// and routes users through every path (auth, override, domain, hash, refusals) while counting.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "route/router.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* Allocate(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return Allocate(size); }
void* operator new[](std::size_t size) { return Allocate(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return Allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace imapgate::route {
namespace {

// Counts the allocations made while `body` runs.
template <typename F>
long AllocationsDuring(F body) {
  g_allocations = 0;
  g_counting = true;
  body();
  g_counting = false;
  return g_allocations.load();
}

TEST(RouterAllocTest, TheCounterSeesAnAllocation) {
  // Proves the hook works: an explicit call to operator new is never elided.
  EXPECT_EQ(AllocationsDuring([] { ::operator delete(::operator new(64)); }), 1);
  EXPECT_EQ(AllocationsDuring([] { ::operator delete[](::operator new[](8)); }), 1);
}

TEST(RouterAllocTest, RouteNeverAllocates) {
  RouterSpec spec;
  for (int i = 0; i < 100; ++i) spec.shards.push_back({"shard" + std::to_string(i), static_cast<uint32_t>(1 + i % 4)});
  spec.default_domain = "demo.test";
  spec.overrides = {{"alice", "shard7"}};
  spec.domains = {{"corp.test", "shard9"}};
  auto created = Router::Create(spec);
  ASSERT_TRUE(created.ok());
  const Router& router = **created;
  // Names built before counting starts; long enough to defeat any small-string buffer.
  std::vector<std::string> users;
  for (int i = 0; i < 1000; ++i) {
    users.push_back("Some.Rather.Long.User.Name.Number." + std::to_string(i) + "@Example.COM");
  }
  const std::string too_long(kMaxUserBytes + 10, 'x');
  int sources[4] = {0, 0, 0, 0};
  int errors = 0;
  const long allocations = AllocationsDuring([&] {
    for (const std::string& user : users) {
      RouteDecision d = router.Route(user);
      ++sources[static_cast<int>(d.source)];
      d = router.HashRoute(user);
      errors += !d.ok();
    }
    for (std::string_view user : {"ALICE", "alice@demo.test", "bob@corp.test", "bob"}) {
      ++sources[static_cast<int>(router.Route(user).source)];
    }
    ++sources[static_cast<int>(router.Route("anyone", "shard42").source)];
    errors += !router.Route("anyone", "no-such-shard").ok();
    errors += !router.Route(too_long).ok();
    errors += !router.Route("").ok();
  });
  EXPECT_EQ(allocations, 0);
  // Every path was taken.
  EXPECT_EQ(sources[static_cast<int>(RouteSource::kAuth)], 1);
  EXPECT_EQ(sources[static_cast<int>(RouteSource::kOverride)], 2);
  EXPECT_EQ(sources[static_cast<int>(RouteSource::kDomain)], 1);
  EXPECT_EQ(sources[static_cast<int>(RouteSource::kHash)], 1001);
  EXPECT_EQ(errors, 3);
}

}  // namespace
}  // namespace imapgate::route
