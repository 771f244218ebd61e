// Tests for login::TicketRegistry: a ticket resolves to its login until released, never after,
// not even once its slot is reused; defaults and double releases are harmless.

#include "login/ticket_registry.h"

#include <gtest/gtest.h>

#include "login/login_pipeline.h"

namespace imapgate::login {
namespace {

LoginPipeline* Fake(int i) { return reinterpret_cast<LoginPipeline*>(static_cast<uintptr_t>(0x1000 * i)); }

TEST(TicketRegistryTest, ATicketResolvesUntilReleased) {
  TicketRegistry r;
  Ticket t = r.Issue(Fake(1));
  EXPECT_EQ(r.Find(t), Fake(1));
  EXPECT_EQ(r.live(), 1u);
  r.Release(t);
  EXPECT_EQ(r.Find(t), nullptr);
  EXPECT_EQ(r.live(), 0u);
}

TEST(TicketRegistryTest, AReusedSlotDoesNotResolveTheOldTicket) {
  TicketRegistry r;
  Ticket old = r.Issue(Fake(1));
  r.Release(old);
  Ticket fresh = r.Issue(Fake(2));
  EXPECT_EQ(fresh.slot, old.slot);  // recycled: no growth
  EXPECT_NE(fresh.generation, old.generation);
  EXPECT_EQ(r.Find(old), nullptr);
  EXPECT_EQ(r.Find(fresh), Fake(2));
  r.Release(old);  // a stale release must not free the new owner's slot
  EXPECT_EQ(r.Find(fresh), Fake(2));
  EXPECT_EQ(r.live(), 1u);
}

TEST(TicketRegistryTest, DefaultAndUnknownTicketsResolveToNothing) {
  TicketRegistry r;
  EXPECT_EQ(r.Find(Ticket{}), nullptr);
  EXPECT_EQ(r.Find(Ticket{7, 1}), nullptr);
  r.Release(Ticket{});
  r.Release(Ticket{7, 1});
  EXPECT_EQ(r.live(), 0u);
  EXPECT_FALSE(r.Deliver(Ticket{}, Verdict{}));
}

TEST(TicketRegistryTest, SlotsAreSharedByConcurrentLogins) {
  TicketRegistry r;
  Ticket a = r.Issue(Fake(1));
  Ticket b = r.Issue(Fake(2));
  EXPECT_NE(a.slot, b.slot);
  r.Release(a);
  EXPECT_EQ(r.Find(b), Fake(2));
}

}  // namespace
}  // namespace imapgate::login
