// Tests for the plain TCP Transport (net/plain_transport.cc) on a socketpair.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "loop_test_util.h"
#include "net/transport.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::MakeSocketPair;
using ::imapgate::testing::SocketPair;

class PlainTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SocketPair p = MakeSocketPair();
    ASSERT_TRUE(p.a.valid());
    own_fd_ = p.a.get();
    transport_ = MakePlainTransport(p.a.release());
    peer_ = std::move(p.b);
  }
  std::string PeerReadAll() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(peer_.get(), buf, sizeof buf)) > 0) out.append(buf, n);
    return out;
  }

  int own_fd_ = -1;
  TransportPtr transport_;
  UniqueFd peer_;
};

TEST_F(PlainTransportTest, DescribesItself) {
  EXPECT_EQ(transport_->fd(), own_fd_);
  EXPECT_EQ(transport_->ProtocolName(), "none");
  EXPECT_FALSE(transport_->HasBufferedInput());
}

TEST_F(PlainTransportTest, ReadOnAnEmptySocketWantsRead) {
  char buf[16];
  EXPECT_EQ(transport_->Read(buf, sizeof buf).status, IoStatus::kWantRead);
}

TEST_F(PlainTransportTest, ReadReturnsWhatThePeerWrote) {
  ASSERT_EQ(::write(peer_.get(), "A1 NOOP\r\n", 9), 9);
  char buf[64];
  IoResult r = transport_->Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "A1 NOOP\r\n");
  EXPECT_EQ(transport_->Read(buf, sizeof buf).status, IoStatus::kWantRead);
}

TEST_F(PlainTransportTest, ReadHonoursTheLength) {
  ASSERT_EQ(::write(peer_.get(), "abcdef", 6), 6);
  char buf[4];
  IoResult r = transport_->Read(buf, 4);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "abcd");
  r = transport_->Read(buf, 4);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "ef");
}

TEST_F(PlainTransportTest, ReadAfterPeerCloseIsEof) {
  ASSERT_EQ(::write(peer_.get(), "bye", 3), 3);
  peer_.reset();
  char buf[16];
  IoResult r = transport_->Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);  // data first
  EXPECT_EQ(r.bytes, 3u);
  EXPECT_EQ(transport_->Read(buf, sizeof buf).status, IoStatus::kEof);
  EXPECT_EQ(transport_->Read(buf, sizeof buf).status, IoStatus::kEof);
}

TEST_F(PlainTransportTest, ReadAfterPeerShutdownWriteIsEof) {
  ASSERT_EQ(::shutdown(peer_.get(), SHUT_WR), 0);
  char buf[16];
  EXPECT_EQ(transport_->Read(buf, sizeof buf).status, IoStatus::kEof);
}

TEST_F(PlainTransportTest, WriteReachesThePeer) {
  IoResult w = transport_->Write("* OK ready\r\n", 12);
  ASSERT_EQ(w.status, IoStatus::kOk);
  EXPECT_EQ(w.bytes, 12u);
  EXPECT_EQ(PeerReadAll(), "* OK ready\r\n");
}

TEST_F(PlainTransportTest, WriteToAFullSocketWantsWriteAfterAPartialWrite) {
  std::vector<char> chunk(64 * 1024, 'x');
  size_t total = 0;
  IoResult w;
  for (int i = 0; i < 10000; ++i) {
    w = transport_->Write(chunk.data(), chunk.size());
    if (w.status != IoStatus::kOk) break;
    ASSERT_GT(w.bytes, 0u);
    total += w.bytes;
  }
  EXPECT_EQ(w.status, IoStatus::kWantWrite);
  EXPECT_GT(total, 0u);
  EXPECT_EQ(PeerReadAll().size(), total);  // nothing lost or duplicated
}

TEST_F(PlainTransportTest, WriteAfterPeerCloseIsAnErrorNotASignal) {
  peer_.reset();
  // MSG_NOSIGNAL: EPIPE comes back as an error instead of killing the process.
  EXPECT_EQ(transport_->Write("x", 1).status, IoStatus::kError);
}

TEST_F(PlainTransportTest, ShutdownWriteGivesThePeerEofButKeepsReading) {
  EXPECT_EQ(transport_->ShutdownWrite().status, IoStatus::kOk);
  char buf[8];
  EXPECT_EQ(::read(peer_.get(), buf, sizeof buf), 0);  // EOF
  // The other direction still works.
  ASSERT_EQ(::write(peer_.get(), "late", 4), 4);
  IoResult r = transport_->Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "late");
}

TEST_F(PlainTransportTest, ReleaseFdHandsOverTheOpenSocket) {
  const int fd = transport_->ReleaseFd();
  EXPECT_EQ(fd, own_fd_);
  EXPECT_EQ(transport_->fd(), -1);
  transport_.reset();  // must not close the released fd
  UniqueFd owned(fd);
  ASSERT_EQ(::write(owned.get(), "still open", 10), 10);
  EXPECT_EQ(PeerReadAll(), "still open");
}

TEST_F(PlainTransportTest, DestructionClosesTheSocket) {
  transport_.reset();
  char buf[4];
  EXPECT_EQ(::read(peer_.get(), buf, sizeof buf), 0);
}

}  // namespace
}  // namespace imapgate::net
