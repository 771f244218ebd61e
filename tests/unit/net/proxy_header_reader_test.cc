// Tests for net/proxy_header_reader.h over socketpairs and loopback TCP: the header is consumed
// and nothing after it; split headers; refusals (untrusted peer, malformed, too long, unknown
// family, EOF); the deadline; completion only on the loop.
#include "net/proxy_header_reader.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "loop_test_util.h"
#include "proxyproto/encoder.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::MakeSocketPair;
using ::imapgate::testing::NewLoop;
using ::imapgate::testing::RunLoopFor;
using ::imapgate::testing::RunLoopUntil;
using ::imapgate::testing::SocketPair;

SocketAddress Addr(const char* ip, uint16_t port) {
  auto a = ResolveAddress(ip, port);
  EXPECT_TRUE(a.ok());
  return *a;
}

proxyproto::Endpoint E(const char* ip, uint16_t port) { return {*proxyproto::ParseIp(ip), port}; }

// Everything readable on fd right now.
std::string Drain(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

class ProxyHeaderReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = NewLoop();
    ASSERT_NE(loop_, nullptr);
    pair_ = MakeSocketPair();
    ASSERT_TRUE(pair_.a.valid());
    auto list = proxyproto::CidrList::Parse({"127.0.0.0/8", "::1"});
    ASSERT_TRUE(list.ok());
    trusted_ = *list;
  }
  void StartReader(const SocketAddress& peer, ProxyHeaderOptions options = {}) {
    auto r = ProxyHeaderReader::Start(loop_.get(), pair_.a.get(), peer, trusted_, options,
                                      [this](const ProxyHeaderResult& res) {
                                        ++calls_;
                                        result_ = res;
                                      });
    ASSERT_TRUE(r.ok()) << r.status().message();
    reader_ = std::move(*r);
    EXPECT_EQ(calls_, 0) << "never completes inside Start()";
  }
  void PeerWrites(const std::string& s) {
    ASSERT_EQ(::write(pair_.b.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  bool RunUntilDone(int iterations = 2000) {
    return RunLoopUntil(loop_.get(), [&] { return calls_ > 0; }, iterations);
  }

  std::unique_ptr<EventLoop> loop_;
  SocketPair pair_;
  proxyproto::CidrList trusted_;
  std::unique_ptr<ProxyHeaderReader> reader_;
  ProxyHeaderResult result_;
  int calls_ = 0;
};

TEST_F(ProxyHeaderReaderTest, V2HeaderGivesTheClientAddressAndLeavesTheRest) {
  const std::string after = std::string("\x16\x03\x01\x00\x05hello", 10);  // a TLS record
  PeerWrites(proxyproto::EncodeV2(E("203.0.113.9", 50000), E("192.0.2.1", 993)) + after);
  StartReader(Addr("127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(calls_, 1);
  ASSERT_TRUE(result_.ok) << result_.error;
  EXPECT_EQ(result_.client.ToString(), "203.0.113.9:50000");
  EXPECT_EQ(result_.destination.ToString(), "192.0.2.1:993");
  EXPECT_EQ(result_.version, 2);
  EXPECT_EQ(result_.header_length, 28u);
  EXPECT_FALSE(result_.local);
  EXPECT_EQ(Drain(pair_.a.get()), after);
  RunLoopFor(loop_.get(), 5);
  EXPECT_EQ(calls_, 1) << "reported exactly once";
}

TEST_F(ProxyHeaderReaderTest, V1HeaderSplitInAFewSegmentsIsRead) {
  const std::string header = proxyproto::EncodeV1(E("2001:db8::7", 1234), E("::1", 143));
  StartReader(Addr("::1", 40000));
  const size_t third = header.size() / 3;
  for (size_t at = 0; at < header.size(); at += third) {
    EXPECT_EQ(calls_, 0);
    PeerWrites(header.substr(at, third));
    RunLoopFor(loop_.get(), 2);
    // Examined header bytes are taken from the socket, so a partial header cannot keep the
    // level-triggered watcher firing.
    EXPECT_FALSE(HasPendingInput(pair_.a.get()));
  }
  PeerWrites("a1 LOGIN alice secret\r\n");
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(result_.ok) << result_.error;
  EXPECT_EQ(result_.client.ToString(), "[2001:db8::7]:1234");
  EXPECT_EQ(result_.destination.ToString(), "[::1]:143");
  EXPECT_EQ(result_.version, 1);
  EXPECT_EQ(result_.header_length, header.size());
  EXPECT_EQ(Drain(pair_.a.get()), "a1 LOGIN alice secret\r\n");
}

TEST_F(ProxyHeaderReaderTest, AHeaderSplitOverManySegmentsIsRefused) {
  const std::string header = proxyproto::EncodeV1(E("2001:db8::7", 1234), E("::1", 143));
  StartReader(Addr("::1", 40000));
  for (size_t i = 0; i < header.size() && calls_ == 0; ++i) {
    PeerWrites(std::string(1, header[i]));
    RunLoopFor(loop_.get(), 2);
  }
  ASSERT_TRUE(RunUntilDone());
  EXPECT_FALSE(result_.ok);
  EXPECT_EQ(result_.error, "too_fragmented");
}

TEST_F(ProxyHeaderReaderTest, V2HeaderWithTlvsSplitInTwo) {
  std::string header = proxyproto::EncodeV2(E("198.51.100.2", 7), E("192.0.2.1", 143));
  header[15] = static_cast<char>(12 + 7);                      // body: addresses + one TLV
  header += std::string("\x01\x00\x04imap", 7);                // ALPN "imap"
  StartReader(Addr("127.0.0.1", 40000));
  PeerWrites(header.substr(0, 9));
  RunLoopFor(loop_.get(), 5);
  EXPECT_EQ(calls_, 0);
  PeerWrites(header.substr(9) + "a1 CAPABILITY\r\n");
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(result_.ok) << result_.error;
  EXPECT_EQ(result_.client.ToString(), "198.51.100.2:7");
  EXPECT_EQ(Drain(pair_.a.get()), "a1 CAPABILITY\r\n");
}

TEST_F(ProxyHeaderReaderTest, MappedAddressesInTheHeaderAreReportedAsIpv4) {
  PeerWrites("PROXY TCP6 ::ffff:203.0.113.9 ::ffff:192.0.2.1 5000 143\r\n");
  StartReader(Addr("127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(result_.ok) << result_.error;
  EXPECT_EQ(result_.client.ToString(), "203.0.113.9:5000");
  EXPECT_EQ(result_.client.storage.ss_family, AF_INET);
  EXPECT_EQ(result_.destination.ToString(), "192.0.2.1:143");
}

TEST_F(ProxyHeaderReaderTest, LocalUsesTheSocketPeer) {
  PeerWrites(proxyproto::EncodeV2Local() + "a1 NOOP\r\n");
  StartReader(Addr("127.0.0.2", 40001));
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(result_.ok) << result_.error;
  EXPECT_TRUE(result_.local);
  EXPECT_EQ(result_.client.ToString(), "127.0.0.2:40001");
  EXPECT_EQ(Drain(pair_.a.get()), "a1 NOOP\r\n");
}

TEST_F(ProxyHeaderReaderTest, UntrustedPeerIsRefusedWithoutReading) {
  const std::string header = proxyproto::EncodeV1(E("10.0.0.1", 1), E("10.0.0.2", 2));
  PeerWrites(header);
  StartReader(Addr("192.0.2.50", 40000));
  ASSERT_TRUE(RunUntilDone(50));
  EXPECT_FALSE(result_.ok);
  EXPECT_EQ(result_.error, "untrusted_peer");
  EXPECT_EQ(Drain(pair_.a.get()), header) << "nothing read from an untrusted peer";
  EXPECT_EQ(reader_->TakeWatcher(), nullptr);
}

TEST_F(ProxyHeaderReaderTest, MappedPeerIsCheckedAsIpv4) {
  PeerWrites(proxyproto::EncodeV2Local());
  StartReader(Addr("::ffff:127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_TRUE(result_.ok) << result_.error;
}

TEST_F(ProxyHeaderReaderTest, NonIpPeerIsUntrusted) {
  PeerWrites(proxyproto::EncodeV2Local());
  StartReader(LocalAddress(pair_.a.get()));  // AF_UNIX
  ASSERT_TRUE(RunUntilDone(50));
  EXPECT_EQ(result_.error, "untrusted_peer");
}

TEST_F(ProxyHeaderReaderTest, EmptyTrustListRefusesEveryone) {
  trusted_ = proxyproto::CidrList();
  PeerWrites(proxyproto::EncodeV2Local());
  StartReader(Addr("127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone(50));
  EXPECT_EQ(result_.error, "untrusted_peer");
}

TEST_F(ProxyHeaderReaderTest, RefusesWhatIsNotAHeader) {
  PeerWrites("a1 LOGIN alice secret\r\n");
  StartReader(Addr("127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_FALSE(result_.ok);
  EXPECT_EQ(result_.error, "bad_signature");
}

TEST_F(ProxyHeaderReaderTest, RefusesAnUnknownFamily) {
  std::string header = proxyproto::EncodeV2(E("10.0.0.1", 1), E("10.0.0.2", 2));
  header[13] = 0x41;
  PeerWrites(header);
  StartReader(Addr("127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.error, "v2_unknown_family");
}

TEST_F(ProxyHeaderReaderTest, RefusesATooLongV2HeaderFromItsLengthField) {
  std::string header = proxyproto::EncodeV2Local();
  header[14] = 0x02;  // length 512 + 1
  header[15] = 0x01;
  PeerWrites(header);  // refused before any of the 513 announced bytes arrive
  StartReader(Addr("127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.error, "v2_too_long");
}

TEST_F(ProxyHeaderReaderTest, RefusesATooLongV1Line) {
  PeerWrites("PROXY UNKNOWN " + std::string(200, 'x'));
  StartReader(Addr("127.0.0.1", 40000));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.error, "v1_too_long");
}

TEST_F(ProxyHeaderReaderTest, ConfiguredLimitIsUsed) {
  std::string header = proxyproto::EncodeV2(E("10.0.0.1", 1), E("10.0.0.2", 2));
  header[14] = 0x02;  // 12 + 600 bytes: addresses and one NOOP TLV
  header[15] = static_cast<char>(0x64);
  std::string tlv = std::string("\x04\x02\x55", 3) + std::string(0x255, 'n');
  ASSERT_EQ(12 + tlv.size(), 0x264u);
  ProxyHeaderOptions options;
  options.limits.max_v2_body = 1024;
  PeerWrites(header + tlv + "next");
  StartReader(Addr("127.0.0.1", 40000), options);
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(result_.ok) << result_.error;
  EXPECT_EQ(result_.header_length, 16u + 0x264u);
  EXPECT_EQ(Drain(pair_.a.get()), "next");
}

TEST_F(ProxyHeaderReaderTest, PeerClosingMidHeaderIsRefused) {
  PeerWrites("PROXY TCP4 10.0.0.1 ");
  StartReader(Addr("127.0.0.1", 40000));
  RunLoopFor(loop_.get(), 5);
  EXPECT_EQ(calls_, 0);
  pair_.b.reset();
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.error, "closed");
}

TEST_F(ProxyHeaderReaderTest, SilentPeerTimesOut) {
  ProxyHeaderOptions options;
  options.timeout = std::chrono::milliseconds(30);
  StartReader(Addr("127.0.0.1", 40000), options);
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.error, "timeout");
}

TEST_F(ProxyHeaderReaderTest, SlowPeerTimesOutFromStartNotFromItsLastByte) {
  ProxyHeaderOptions options;
  options.timeout = std::chrono::milliseconds(60);
  StartReader(Addr("127.0.0.1", 40000), options);
  const std::string header = "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n";
  const auto start = std::chrono::steady_clock::now();
  size_t sent = 0;
  // Ten bytes every ~40 ms (fewer pieces than kMaxPartialReads before the deadline): the whole
  // header would take ~160 ms, past the deadline.
  while (calls_ == 0 && sent < header.size()) {
    PeerWrites(header.substr(sent, 10));
    sent += 10;
    const auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(40);
    while (calls_ == 0 && std::chrono::steady_clock::now() < next) RunLoopFor(loop_.get(), 1);
  }
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.error, "timeout");
  EXPECT_LT(sent, header.size());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
}

TEST_F(ProxyHeaderReaderTest, DestroyingTheReaderCancelsIt) {
  ProxyHeaderOptions options;
  options.timeout = std::chrono::milliseconds(10);
  StartReader(Addr("127.0.0.1", 40000), options);
  reader_.reset();
  PeerWrites(proxyproto::EncodeV2Local());
  RunLoopFor(loop_.get(), 50);
  EXPECT_EQ(calls_, 0);
}

TEST_F(ProxyHeaderReaderTest, WatcherCanBeTakenAfterCompletion) {
  StartReader(Addr("127.0.0.1", 40000));
  EXPECT_EQ(reader_->TakeWatcher(), nullptr) << "not before the result";
  PeerWrites(proxyproto::EncodeV2Local());
  ASSERT_TRUE(RunUntilDone());
  IoWatcherPtr w = reader_->TakeWatcher();
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->fd(), pair_.a.get());
  EXPECT_FALSE(w->wants_read());
}

// Over real loopback TCP: the peer address from accept, a header in two segments, and the next
// stage's bytes left in the socket.
TEST(ProxyHeaderReaderTcpTest, LoopbackConnection) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  auto listen_addr = ResolveAddress("127.0.0.1", 0);
  ASSERT_TRUE(listen_addr.ok());
  auto listener = ListenOn(*listen_addr, false);
  ASSERT_TRUE(listener.ok()) << listener.status().message();
  SocketAddress bound = LocalAddress(listener->get());
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), bound.get(), bound.length), 0);
  SocketAddress peer;
  peer.length = sizeof peer.storage;
  UniqueFd server(::accept4(listener->get(), reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                            SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_TRUE(server.valid());

  auto trusted = proxyproto::CidrList::Parse({"127.0.0.1/32"});
  ASSERT_TRUE(trusted.ok());
  ProxyHeaderResult result;
  int calls = 0;
  auto reader = ProxyHeaderReader::Start(loop.get(), server.get(), peer, *trusted, {},
                                         [&](const ProxyHeaderResult& r) { result = r, ++calls; });
  ASSERT_TRUE(reader.ok());
  const std::string header = proxyproto::EncodeV2(E("203.0.113.77", 61000), E("192.0.2.10", 993));
  ASSERT_EQ(::send(client.get(), header.data(), 10, 0), 10);
  RunLoopFor(loop.get(), 10);
  EXPECT_EQ(calls, 0);
  const std::string rest = header.substr(10) + "a1 STARTTLS\r\n";
  ASSERT_EQ(::send(client.get(), rest.data(), rest.size(), 0), static_cast<ssize_t>(rest.size()));
  ASSERT_TRUE(RunLoopUntil(loop.get(), [&] { return calls > 0; }));
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.client.ToString(), "203.0.113.77:61000");
  EXPECT_EQ(result.destination.ToString(), "192.0.2.10:993");
  std::string left;
  ASSERT_TRUE(RunLoopUntil(loop.get(), [&] {
    left += Drain(server.get());
    return left.size() >= 13;
  }));
  EXPECT_EQ(left, "a1 STARTTLS\r\n");
}

TEST(ProxyHeaderAddressTest, ConvertsBothWays) {
  auto v4 = ToEndpoint(*ResolveAddress("192.0.2.1", 143));
  ASSERT_TRUE(v4);
  EXPECT_EQ(*v4, E("192.0.2.1", 143));
  auto mapped = ToEndpoint(*ResolveAddress("::ffff:192.0.2.1", 143));
  ASSERT_TRUE(mapped);
  EXPECT_EQ(*mapped, E("192.0.2.1", 143));
  auto v6 = ToEndpoint(*ResolveAddress("2001:db8::1", 993));
  ASSERT_TRUE(v6);
  EXPECT_EQ(ToSocketAddress(*v6).ToString(), "[2001:db8::1]:993");
  EXPECT_EQ(ToSocketAddress(*v4).ToString(), "192.0.2.1:143");
  EXPECT_EQ(ToSocketAddress(*v4).length, sizeof(sockaddr_in));
  SocketAddress unix_addr;
  unix_addr.storage.ss_family = AF_UNIX;
  EXPECT_FALSE(ToEndpoint(unix_addr));
}

}  // namespace
}  // namespace imapgate::net
