// Tests for net::BufferedConnection over a socketpair with a plain transport: queued output is
// written and wiped, a blocked write asks for writability and completes later, reads and EOF,
// the hand-over (move, TakeTransport/TakeWatcher keep the interest and drop the handler), and
// DiscardOutput wipes what was never sent.

#include "net/buffered_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "loop_test_util.h"
#include "net/socket.h"

namespace imapgate::net {
namespace {

class CountingHandler : public IoHandler {
 public:
  void OnIo(IoWatcher*, bool readable, bool writable) override {
    readable_ += readable ? 1 : 0;
    writable_ += writable ? 1 : 0;
  }
  int readable_ = 0;
  int writable_ = 0;
};

class BufferedConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = testing::NewLoop();
    ASSERT_NE(loop_, nullptr);
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    ours_ = fds[0];
    peer_.reset(fds[1]);
  }

  BufferedConnection Make() {
    auto c = BufferedConnection::Create(loop_.get(), MakePlainTransport(ours_), &handler_);
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }

  std::string ReadPeer() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = recv(peer_.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0) out.append(buf, n);
    return out;
  }

  std::unique_ptr<EventLoop> loop_;
  int ours_ = -1;
  UniqueFd peer_;
  CountingHandler handler_;
};

TEST_F(BufferedConnectionTest, QueuedOutputIsWrittenAndWiped) {
  BufferedConnection c = Make();
  c.Queue("A2 LOGIN {5+}\r\nalice {6+}\r\ns3cr3t\r\n");
  EXPECT_TRUE(c.has_output());
  EXPECT_TRUE(c.OutputStorageContains("s3cr3t"));
  EXPECT_EQ(c.Flush(), IoStatus::kOk);
  EXPECT_FALSE(c.has_output());
  EXPECT_FALSE(c.OutputStorageContains("s3cr3t"));  // wiped, not only cleared
  EXPECT_EQ(ReadPeer(), "A2 LOGIN {5+}\r\nalice {6+}\r\ns3cr3t\r\n");
}

TEST_F(BufferedConnectionTest, ABlockedWriteAsksForWritabilityAndFinishesLater) {
  int small = 4096;
  ASSERT_EQ(setsockopt(ours_, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  BufferedConnection c = Make();
  std::string big(1 << 20, 'x');
  c.Queue(big);
  EXPECT_EQ(c.Flush(), IoStatus::kWantWrite);
  EXPECT_TRUE(c.has_output());
  c.UpdateInterest(false);
  EXPECT_TRUE(c.watcher().wants_write());
  EXPECT_FALSE(c.watcher().wants_read());
  std::string got;
  ASSERT_TRUE(testing::RunLoopUntil(loop_.get(), [&] {
    got += ReadPeer();
    if (handler_.writable_ > 0 && c.has_output()) c.Flush();
    return !c.has_output();
  }, 100000));
  got += ReadPeer();
  EXPECT_EQ(got.size(), big.size());
  c.UpdateInterest(true);
  EXPECT_FALSE(c.watcher().wants_write());
  EXPECT_TRUE(c.watcher().wants_read());
}

TEST_F(BufferedConnectionTest, ReadsWhatThePeerSentThenEof) {
  BufferedConnection c = Make();
  ASSERT_EQ(send(peer_.get(), "* OK hi\r\n", 9, 0), 9);
  char buf[64];
  IoResult r = c.Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "* OK hi\r\n");
  EXPECT_EQ(c.Read(buf, sizeof buf).status, IoStatus::kWantRead);
  EXPECT_TRUE(c.ShouldRead(true, false));
  EXPECT_FALSE(c.ShouldRead(false, true));  // a plain read never wants to write
  peer_.reset();
  EXPECT_EQ(c.Read(buf, sizeof buf).status, IoStatus::kEof);
}

TEST_F(BufferedConnectionTest, MovingHandsOverTheWholeConnection) {
  BufferedConnection a = Make();
  a.Queue("pending");
  BufferedConnection b = std::move(a);
  EXPECT_FALSE(a.open());
  ASSERT_TRUE(b.open());
  EXPECT_TRUE(b.has_output());
  EXPECT_EQ(b.Flush(), IoStatus::kOk);
  EXPECT_EQ(ReadPeer(), "pending");
  // Assigning over an open connection closes the old one (watcher first, then the fd).
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd other_peer(fds[1]);
  auto other = BufferedConnection::Create(loop_.get(), MakePlainTransport(fds[0]), &handler_);
  ASSERT_TRUE(other.ok());
  b = std::move(*other);
  char c;
  EXPECT_EQ(recv(peer_.get(), &c, 1, 0), 0) << "the first connection was not closed";
  EXPECT_EQ(b.fd(), fds[0]);
}

TEST_F(BufferedConnectionTest, TakeWatcherKeepsTheInterestAndDropsTheHandler) {
  BufferedConnection c = Make();
  c.UpdateInterest(true);
  TransportPtr transport = c.TakeTransport();
  IoWatcherPtr watcher = c.TakeWatcher();
  EXPECT_FALSE(c.open());
  ASSERT_NE(watcher, nullptr);
  EXPECT_TRUE(watcher->wants_read());  // still registered: no epoll_ctl pair at the hand-over
  ASSERT_EQ(send(peer_.get(), "x", 1, 0), 1);
  testing::RunLoopFor(loop_.get(), 3);
  EXPECT_EQ(handler_.readable_, 0);  // detached: nobody is called
  watcher.reset();
}

TEST_F(BufferedConnectionTest, DiscardOutputWipesWhatWasNeverSent) {
  int small = 4096;
  ASSERT_EQ(setsockopt(ours_, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  BufferedConnection c = Make();
  std::string big(1 << 20, 'p');
  big += "password-tail";
  c.Queue(big);
  EXPECT_EQ(c.Flush(), IoStatus::kWantWrite);
  EXPECT_TRUE(c.OutputStorageContains("password-tail"));
  c.DiscardOutput();
  EXPECT_FALSE(c.has_output());
  EXPECT_FALSE(c.OutputStorageContains("password-tail"));
}

}  // namespace
}  // namespace imapgate::net
