// Tests for net/socket.h: UniqueFd, address resolution and formatting, listen/connect on the
// loopback interface, SO_ERROR, and HasPendingInput.

#include "net/socket.h"

#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include "loop_test_util.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::IsCloseOnExec;
using ::imapgate::testing::IsNonBlocking;
using ::imapgate::testing::MakeSocketPair;
using ::imapgate::testing::SocketPair;

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Waits (bounded) until fd is ready for the given poll events.
bool WaitFor(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, 10000) == 1;
}

uint16_t PortOf(const SocketAddress& a) {
  if (a.storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port);
}

TEST(UniqueFdTest, ClosesOnDestruction) {
  int raw = ::dup(0);
  ASSERT_GE(raw, 0);
  {
    UniqueFd fd(raw);
    EXPECT_TRUE(fd.valid());
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(UniqueFdTest, MoveTransfersOwnership) {
  int raw = ::dup(0);
  UniqueFd a(raw);
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
}

TEST(UniqueFdTest, ReleaseGivesUpOwnershipAndResetCloses) {
  int raw = ::dup(0);
  UniqueFd a(raw);
  EXPECT_EQ(a.release(), raw);
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(IsOpen(raw));
  a.reset(raw);
  a.reset();
  EXPECT_FALSE(IsOpen(raw));
}

TEST(SocketAddressTest, ResolvesAndFormatsIpv4) {
  auto a = ResolveAddress("127.0.0.1", 143);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->storage.ss_family, AF_INET);
  EXPECT_EQ(a->length, sizeof(sockaddr_in));
  EXPECT_EQ(a->ToString(), "127.0.0.1:143");
}

TEST(SocketAddressTest, ResolvesAndFormatsIpv6) {
  auto a = ResolveAddress("::1", 993);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->storage.ss_family, AF_INET6);
  EXPECT_EQ(a->ToString(), "[::1]:993");
}

TEST(SocketAddressTest, EmptyAddressFormatsAsUnknown) {
  SocketAddress a;
  EXPECT_EQ(a.ToString(), "unknown");
}

TEST(ListenConnectTest, ConnectToAListenerOnAnEphemeralPort) {
  auto addr = ResolveAddress("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto listen_fd = ListenOn(*addr, /*reuse_port=*/false);
  ASSERT_TRUE(listen_fd.ok()) << listen_fd.status().message();
  EXPECT_TRUE(IsNonBlocking(listen_fd->get()));
  EXPECT_TRUE(IsCloseOnExec(listen_fd->get()));
  SocketAddress bound = LocalAddress(listen_fd->get());
  ASSERT_NE(PortOf(bound), 0);
  EXPECT_EQ(bound.ToString(), "127.0.0.1:" + std::to_string(PortOf(bound)));

  auto conn = StartConnect(bound);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  EXPECT_TRUE(IsNonBlocking(conn->get()));
  EXPECT_TRUE(IsCloseOnExec(conn->get()));
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(getsockopt(conn->get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  ASSERT_TRUE(WaitFor(conn->get(), POLLOUT));
  EXPECT_EQ(TakeSocketError(conn->get()), 0);

  ASSERT_TRUE(WaitFor(listen_fd->get(), POLLIN));
  UniqueFd server(::accept(listen_fd->get(), nullptr, nullptr));
  ASSERT_TRUE(server.valid());
  EXPECT_EQ(PeerAddress(server.get()).ToString(), LocalAddress(conn->get()).ToString());
  EXPECT_EQ(PeerAddress(conn->get()).ToString(), bound.ToString());
  // Accepted sockets inherit TCP_NODELAY from the listener (no setsockopt per connection).
  nodelay = 0;
  ASSERT_EQ(getsockopt(server.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
}

TEST(ListenConnectTest, ConnectToAClosedPortReportsRefused) {
  auto addr = ResolveAddress("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  SocketAddress closed;
  {
    auto listen_fd = ListenOn(*addr, false);
    ASSERT_TRUE(listen_fd.ok());
    closed = LocalAddress(listen_fd->get());
  }  // closed again: nothing listens on that port now
  auto conn = StartConnect(closed);
  if (!conn.ok()) return;  // an immediate refusal is also a correct outcome
  ASSERT_TRUE(WaitFor(conn->get(), POLLOUT));
  EXPECT_EQ(TakeSocketError(conn->get()), ECONNREFUSED);
  EXPECT_EQ(TakeSocketError(conn->get()), 0);  // taking the error clears it
}

TEST(ListenConnectTest, SecondListenerOnTheSamePortNeedsReusePort) {
  auto addr = ResolveAddress("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto first = ListenOn(*addr, /*reuse_port=*/true);
  ASSERT_TRUE(first.ok());
  SocketAddress bound = LocalAddress(first->get());
  auto second = ListenOn(bound, /*reuse_port=*/true);
  EXPECT_TRUE(second.ok()) << second.status().message();

  auto plain_first = ListenOn(*addr, /*reuse_port=*/false);
  ASSERT_TRUE(plain_first.ok());
  auto clash = ListenOn(LocalAddress(plain_first->get()), /*reuse_port=*/false);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(clash.status().message().find("bind 127.0.0.1:"), std::string::npos)
      << clash.status().message();
}

TEST(ListenConnectTest, ProbeBindSeesAListeningSocketAndAForeignAddress) {
  auto addr = ResolveAddress("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto held = ListenOn(*addr, /*reuse_port=*/false);
  ASSERT_TRUE(held.ok());
  const SocketAddress bound = LocalAddress(held->get());
  EXPECT_EQ(ProbeBind(bound), EADDRINUSE);
  held->reset();
  EXPECT_EQ(ProbeBind(bound), 0);  // free again: the probe neither listens nor keeps the port
  auto foreign = ResolveAddress("192.0.2.1", 0);  // TEST-NET-1: not an address of this host
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(ProbeBind(*foreign), EADDRNOTAVAIL);
}

TEST(ListenConnectTest, Ipv6LoopbackWhenAvailable) {
  auto addr = ResolveAddress("::1", 0);
  ASSERT_TRUE(addr.ok());
  auto listen_fd = ListenOn(*addr, false);
  if (!listen_fd.ok()) GTEST_SKIP() << "no IPv6 loopback: " << listen_fd.status().message();
  SocketAddress bound = LocalAddress(listen_fd->get());
  EXPECT_EQ(bound.ToString(), "[::1]:" + std::to_string(PortOf(bound)));
  auto conn = StartConnect(bound);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(WaitFor(conn->get(), POLLOUT));
  EXPECT_EQ(TakeSocketError(conn->get()), 0);
}

TEST(HasPendingInputTest, SeesBytesWithoutConsumingThem) {
  SocketPair p = MakeSocketPair();
  ASSERT_TRUE(p.a.valid());
  EXPECT_FALSE(HasPendingInput(p.a.get()));
  ASSERT_EQ(::write(p.b.get(), "ab", 2), 2);
  EXPECT_TRUE(HasPendingInput(p.a.get()));
  EXPECT_TRUE(HasPendingInput(p.a.get()));  // peeking does not consume
  char buf[4];
  ASSERT_EQ(::read(p.a.get(), buf, sizeof buf), 2);
  EXPECT_EQ(std::string(buf, 2), "ab");
  EXPECT_FALSE(HasPendingInput(p.a.get()));
}

TEST(HasPendingInputTest, EofIsNotInput) {
  SocketPair p = MakeSocketPair();
  p.b.reset();
  EXPECT_FALSE(HasPendingInput(p.a.get()));
}

TEST(HasPendingInputTest, WorksOnABlockingSocketWithoutBlocking) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd a(fds[0]), b(fds[1]);
  EXPECT_FALSE(HasPendingInput(a.get()));  // MSG_DONTWAIT: returns at once
}

}  // namespace
}  // namespace imapgate::net
