// Tests for net/listener.h: accepting on the loop, accepted fd flags, Pause/Resume.

#include "net/listener.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <vector>

#include "loop_test_util.h"
#include "net/timer.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::IsCloseOnExec;
using ::imapgate::testing::IsNonBlocking;
using ::imapgate::testing::NewLoop;
using ::imapgate::testing::RunLoopFor;
using ::imapgate::testing::RunLoopOnce;
using ::imapgate::testing::RunLoopUntil;

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = NewLoop();
    ASSERT_NE(loop_, nullptr);
    auto addr = ResolveAddress("127.0.0.1", 0);
    ASSERT_TRUE(addr.ok());
    auto fd = ListenOn(*addr, false);
    ASSERT_TRUE(fd.ok());
    address_ = LocalAddress(fd->get());
    auto l = Listener::Create(loop_.get(), std::move(*fd),
                              [this](UniqueFd client, const SocketAddress& peer) {
                                peers_.push_back(peer.ToString());
                                accepted_.push_back(std::move(client));
                              });
    ASSERT_TRUE(l.ok());
    listener_ = std::move(*l);
  }
  UniqueFd Connect() {
    auto c = StartConnect(address_);
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(*c) : UniqueFd();
  }
  // Runs the loop until a sentinel timer fires.
  void Settle(std::chrono::milliseconds d) {
    bool done = false;
    auto t = Timer::Create(loop_.get(), [&] { done = true; });
    ASSERT_TRUE(t.ok());
    (*t)->Arm(d);
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return done; }));
  }

  std::unique_ptr<EventLoop> loop_;
  SocketAddress address_;
  ListenerPtr listener_;
  std::vector<UniqueFd> accepted_;
  std::vector<std::string> peers_;  // the address the listener reported with each fd
};

TEST_F(ListenerTest, AcceptsAConnection) {
  UniqueFd client = Connect();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return accepted_.size() == 1; }));
  const int fd = accepted_[0].get();
  EXPECT_TRUE(IsNonBlocking(fd));
  EXPECT_TRUE(IsCloseOnExec(fd));
  EXPECT_EQ(PeerAddress(fd).ToString(), LocalAddress(client.get()).ToString());
  EXPECT_EQ(peers_[0], LocalAddress(client.get()).ToString());  // reported by accept4 itself
  // The accepted socket is connected to the client.
  ASSERT_EQ(::send(client.get(), "hi", 2, MSG_NOSIGNAL), 2);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  char buf[2];
  EXPECT_EQ(::recv(fd, buf, 2, 0), 2);
}

TEST_F(ListenerTest, AcceptsSeveralPendingConnections) {
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(Connect());
  EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return accepted_.size() == 5; }));
}

TEST_F(ListenerTest, PausedListenerDoesNotAcceptUntilResumed) {
  listener_->Pause();
  UniqueFd client = Connect();
  Settle(std::chrono::milliseconds(30));
  EXPECT_TRUE(accepted_.empty());
  listener_->Resume();
  EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return accepted_.size() == 1; }));
}

// Two loops (two workers) watching one shared listening socket: every connection is accepted
// exactly once, by one of them, and the socket stays open until the last Listener is gone.
TEST(SharedListenerTest, TwoLoopsShareOneSocketAndEachConnectionIsAcceptedOnce) {
  auto loop_a = NewLoop();
  auto loop_b = NewLoop();
  ASSERT_NE(loop_a, nullptr);
  ASSERT_NE(loop_b, nullptr);
  auto addr = ResolveAddress("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto fd = ListenOn(*addr, /*reuse_port=*/false);
  ASSERT_TRUE(fd.ok());
  const SocketAddress bound = LocalAddress(fd->get());
  auto shared = std::make_shared<const UniqueFd>(std::move(*fd));
  std::vector<UniqueFd> by_a, by_b;
  auto a = Listener::Create(loop_a.get(), shared,
                            [&](UniqueFd c, const SocketAddress&) { by_a.push_back(std::move(c)); });
  auto b = Listener::Create(loop_b.get(), shared,
                            [&](UniqueFd c, const SocketAddress&) { by_b.push_back(std::move(c)); });
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  shared.reset();  // the listeners keep the socket open
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 6; ++i) {
    auto c = StartConnect(bound);
    ASSERT_TRUE(c.ok());
    clients.push_back(std::move(*c));
  }
  ASSERT_TRUE(RunLoopUntil(loop_a.get(), [&] {
    RunLoopOnce(loop_b.get());
    return by_a.size() + by_b.size() == 6;
  }));
  RunLoopFor(loop_a.get(), 5);
  RunLoopFor(loop_b.get(), 5);
  EXPECT_EQ(by_a.size() + by_b.size(), 6u);  // a loser's accept4 got EAGAIN, not a duplicate
  a->reset();
  EXPECT_EQ(ProbeBind(bound), EADDRINUSE);  // b still holds the socket
  b->reset();
  EXPECT_EQ(ProbeBind(bound), 0);  // closed with the last listener
}

}  // namespace
}  // namespace imapgate::net
