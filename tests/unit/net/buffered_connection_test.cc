// Tests for net::BufferedConnection over a socketpair with a plain transport: queued output is
// written and wiped, a blocked write asks for writability and completes later, reads and EOF,
// the hand-over (a move keeps the interest; a detached watcher calls nobody), DiscardOutput
// wipes what was never sent, Send writes through and queues only the rest, and ShutdownWrite.

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

TEST_F(BufferedConnectionTest, AHandOverKeepsTheInterestAndADetachedWatcherCallsNobody) {
  BufferedConnection c = Make();
  c.UpdateInterest(true);
  c.set_handler(nullptr);
  BufferedConnection next = std::move(c);
  EXPECT_FALSE(c.open());
  ASSERT_TRUE(next.open());
  EXPECT_TRUE(next.watcher().wants_read());  // still registered: no epoll_ctl pair at the hand-over
  ASSERT_EQ(send(peer_.get(), "x", 1, 0), 1);
  testing::RunLoopFor(loop_.get(), 3);
  EXPECT_EQ(handler_.readable_, 0);  // detached: nobody is called
  EXPECT_FALSE(next.watcher().wants_read());  // and the ownerless watcher disarmed itself
}

TEST_F(BufferedConnectionTest, DiscardOutputWipesWhatWasNeverSent) {
  BufferedConnection c = Make();
  c.Queue("A2 LOGIN alice password-tail\r\n");
  EXPECT_TRUE(c.OutputStorageContains("password-tail"));
  c.DiscardOutput();
  EXPECT_FALSE(c.has_output());
  EXPECT_FALSE(c.OutputStorageContains("password-tail"));  // the kept buffer was wiped
  EXPECT_EQ(ReadPeer(), "");
}

TEST_F(BufferedConnectionTest, SendWritesStraightThroughAndQueuesOnlyWhatDidNotFit) {
  BufferedConnection c = Make();
  c.set_output_policy(ByteQueue::Policy::kPlain);
  EXPECT_EQ(c.Send("* 1 EXISTS\r\n", 12), IoStatus::kOk);
  EXPECT_FALSE(c.holds_output_memory());  // written at once: no copy, no buffer
  EXPECT_EQ(ReadPeer(), "* 1 EXISTS\r\n");

  int small = 4096;
  ASSERT_EQ(setsockopt(ours_, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  std::string big(1 << 20, 'm');
  EXPECT_EQ(c.Send(big.data(), big.size()), IoStatus::kOk);
  ASSERT_TRUE(c.has_output());
  size_t queued = c.queued_bytes();
  EXPECT_LT(queued, big.size());  // the socket took a part
  EXPECT_EQ(c.Send("tail", 4), IoStatus::kOk);  // behind the queue, never ahead of it
  EXPECT_EQ(c.queued_bytes(), queued + 4);
  EXPECT_TRUE(c.ShouldFlush(false, true));
  EXPECT_FALSE(c.ShouldFlush(true, false));  // a plain write never waits on readability
  std::string got;
  ASSERT_TRUE(testing::RunLoopUntil(loop_.get(), [&] {
    got += ReadPeer();
    c.Flush();
    return !c.has_output();
  }, 100000));
  got += ReadPeer();
  EXPECT_EQ(got, big + "tail");
  EXPECT_FALSE(c.holds_output_memory());  // kPlain: an emptied queue frees its memory
}

TEST_F(BufferedConnectionTest, ShutdownWriteEndsTheStream) {
  BufferedConnection c = Make();
  EXPECT_EQ(c.ShutdownWrite(), IoStatus::kOk);
  EXPECT_FALSE(c.has_pending_output());
  char ch;
  EXPECT_EQ(recv(peer_.get(), &ch, 1, 0), 0);  // the peer sees the end of the stream
}

}  // namespace
}  // namespace imapgate::net
