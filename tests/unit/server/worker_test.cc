// Tests for server/worker.h: a worker takes a new configuration generation by message, new
// sessions use it, and a session that started earlier keeps its own until it ends.

#include "server/worker.h"

#include <gtest/gtest.h>

#include <memory>

#include "../net/loop_test_util.h"
#include "common/time_source.h"
#include "stats/metrics.h"

namespace imapgate::server {
namespace {

using ::imapgate::testing::MakeSocketPair;
using ::imapgate::testing::RunLoopUntil;

// A generation with one STARTTLS listener (no TLS needed until a client sends STARTTLS).
std::shared_ptr<Generation> MakeGeneration(uint64_t id) {
  auto g = std::make_shared<Generation>();
  g->id = id;
  ListenerSpec spec;
  spec.context.index = 0;
  spec.context.name = "imap";
  spec.context.frontend.implicit_tls = false;
  spec.mode = config::ListenerMode::kStartTls;
  g->listeners.push_back(spec);
  auto pool = login::SingleBackendPool("backend-of-" + std::to_string(id), upstream::BackendTarget{});
  EXPECT_TRUE(pool.ok());
  if (pool.ok()) g->pool = std::move(*pool);
  return g;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(net::InitEventThreading().ok());
    auto m = stats::Metrics::Create({"imap"}, "b", "0");
    ASSERT_TRUE(m.ok());
    metrics_ = std::move(*m);
    auto peer = net::ResolveAddress("127.0.0.1", 40000);
    ASSERT_TRUE(peer.ok());
    peer_ = *peer;
  }
  StatusOr<WorkerPtr> NewWorker(GenerationPtr g) {
    WorkerOptions o;
    o.generation = std::move(g);
    o.metrics = metrics_.get();
    o.time = &time_;
    o.id_prefix = "t-";
    return Worker::Create(std::move(o));
  }

  stats::MetricsPtr metrics_;  // outlives the worker
  ManualTimeSource time_;
  net::SocketAddress peer_;
};

TEST_F(WorkerTest, NewSessionsTakeANewGenerationAndOldSessionsKeepTheirs) {
  std::shared_ptr<Generation> g1 = MakeGeneration(1);
  std::weak_ptr<Generation> watch_g1 = g1;
  auto created = NewWorker(std::move(g1));
  ASSERT_TRUE(created.ok()) << created.status().message();
  Worker& w = **created;
  ASSERT_EQ(w.generation()->id, 1u);

  auto old_client = MakeSocketPair();
  ASSERT_TRUE(old_client.a.valid());
  w.Accept(0, std::move(old_client.a), peer_);
  ASSERT_EQ(w.active_sessions(), 1u);

  std::shared_ptr<Generation> g2 = MakeGeneration(2);
  std::weak_ptr<Generation> watch_g2 = g2;
  w.SetGeneration(std::move(g2));
  EXPECT_EQ(w.generation()->id, 1u);  // by message: taken on the worker's loop, not here
  ASSERT_TRUE(RunLoopUntil(w.loop(), [&] { return w.generation()->id == 2; }));
  // Nobody but the running session refers to generation 1 now, and it is still alive.
  EXPECT_FALSE(watch_g1.expired());

  auto new_client = MakeSocketPair();
  w.Accept(0, std::move(new_client.a), peer_);
  ASSERT_EQ(w.active_sessions(), 2u);

  old_client.b.reset();  // the first client hangs up: its session ends and is deleted
  ASSERT_TRUE(RunLoopUntil(w.loop(), [&] { return watch_g1.expired(); }));
  EXPECT_EQ(w.active_sessions(), 1u);
  EXPECT_FALSE(watch_g2.expired());
}

TEST_F(WorkerTest, AConnectionForAListenerTheGenerationLacksIsClosed) {
  auto created = NewWorker(MakeGeneration(1));
  ASSERT_TRUE(created.ok());
  auto client = MakeSocketPair();
  (*created)->Accept(5, std::move(client.a), peer_);
  EXPECT_EQ((*created)->active_sessions(), 0u);
  char byte;
  EXPECT_EQ(::recv(client.b.get(), &byte, 1, MSG_DONTWAIT), 0);  // closed: EOF
}

TEST_F(WorkerTest, CreateNeedsAGenerationAndOneSocketPerListener) {
  EXPECT_FALSE(NewWorker(nullptr).ok());
  WorkerOptions o;
  o.generation = MakeGeneration(1);
  o.metrics = metrics_.get();
  o.time = &time_;
  o.listen_fds.push_back(std::make_shared<const net::UniqueFd>());
  o.listen_fds.push_back(std::make_shared<const net::UniqueFd>());
  EXPECT_FALSE(Worker::Create(std::move(o)).ok());
}

}  // namespace
}  // namespace imapgate::server
