// Tests for login::TicketRegistry: a ticket resolves to its login until released, never after,
// not even once its slot is reused; defaults and double releases are harmless; PostVerdict from
// another thread reaches a waiting login on the worker's loop, and is dropped for a gone one.

#include "login/ticket_registry.h"

#include <event2/event.h>
#include <gtest/gtest.h>

#include <thread>

#include "fake_steps.h"
#include "net/event_loop.h"

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

// Runs what was posted to the loop (no timers, no sockets: the posted queue only).
void RunPosted(net::EventLoop* loop) {
  for (int i = 0; i < 3; ++i) event_base_loop(loop->base(), EVLOOP_NONBLOCK);
}

TEST(PostVerdictTest, AResultFromAnotherThreadReachesTheWaitingLoginOnTheWorker) {
  ASSERT_TRUE(net::InitEventThreading().ok());
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  TicketRegistry registry;
  RecordingHost host;
  ScriptedStep hash("auth", LoginStep::Phase::kCheck);
  std::vector<LoginStep*> steps{&hash};
  LoginPipeline p(std::span<LoginStep* const>(steps), LoginAttempt{}, &host, &registry);
  p.Start();
  Ticket t = hash.ticket;
  std::thread pool([&] {
    PostVerdict(loop->get(), &registry, t,
                Verdict::Accept(std::nullopt, upstream::ClientOwnCredentials{SecretString("alice"), SecretString("pw")}));
  });
  pool.join();
  EXPECT_EQ(host.decisions, 0);  // nothing happens off the worker
  RunPosted(loop->get());
  EXPECT_EQ(host.decisions, 1);
  EXPECT_EQ(host.kind, VerdictKind::kAccept);
  EXPECT_TRUE(p.attempt().credentials.has_value());
}

TEST(PostVerdictTest, AResultForALoginDestroyedMeanwhileIsDropped) {
  ASSERT_TRUE(net::InitEventThreading().ok());
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  TicketRegistry registry;
  RecordingHost host;
  ScriptedStep hash("auth", LoginStep::Phase::kCheck);
  std::vector<LoginStep*> steps{&hash};
  auto p = std::make_unique<LoginPipeline>(std::span<LoginStep* const>(steps), LoginAttempt{}, &host, &registry);
  p->Start();
  Ticket t = hash.ticket;
  std::thread pool([&] { PostVerdict(loop->get(), &registry, t, Verdict::Accept()); });
  pool.join();
  p.reset();  // the session went away before the worker ran the posted result
  RunPosted(loop->get());
  EXPECT_EQ(host.decisions, 0);
  EXPECT_EQ(registry.live(), 0u);
}

}  // namespace
}  // namespace imapgate::login
