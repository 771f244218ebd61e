// Tests for relay/relay.h: the two-way pump between a client and its backend.
//
// Each side is a socketpair: the test holds one end (a Peer), the relay the other through a
// plain transport wrapped in a FlakyTransport, which counts bytes and, when a test asks, returns
// "would block" on a schedule. The idle clock is a ManualTimeSource. The loop is driven from the
// test thread in bounded steps, so a stuck relay fails a test instead of hanging it.

#include "relay/relay.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../imap/raw_deflate.h"
#include "../net/loop_test_util.h"
#include "common/time_source.h"
#include "flaky_transport.h"
#include "net/io_watcher.h"
#include "net/timer.h"
#include "net/transport.h"
#include "stats/metrics.h"

namespace imapgate::relay {
namespace {

using ::imapgate::testing::FlakySchedule;
using ::imapgate::testing::FlakyTransport;
using ::imapgate::testing::MakeSocketPair;
using ::imapgate::testing::NewLoop;
using ::imapgate::testing::RunLoopOnce;
using ::imapgate::testing::RunLoopUntil;
using ::imapgate::testing::TransportStats;
using std::chrono::milliseconds;

constexpr size_t kScratchSize = 64 * 1024;  // what a worker uses
constexpr char kBackendLost[] = "* BYE Backend connection lost\r\n";

// Deterministic test data with every byte value in it.
std::string Pattern(size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + i / 256 + seed) & 0xff);
  return s;
}

// The test's end of one socketpair.
class Peer {
 public:
  explicit Peer(net::UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }
  const std::string& received() const { return received_; }
  bool eof() const { return eof_; }
  int error() const { return error_; }

  // Reads what is there now, up to `max` bytes. Returns the number of bytes read.
  size_t Pull(size_t max = SIZE_MAX) {
    size_t total = 0;
    char buf[64 * 1024];
    while (total < max && fd_.valid()) {
      ssize_t n = ::recv(fd_.get(), buf, std::min(sizeof buf, max - total), 0);
      if (n > 0) {
        received_.append(buf, static_cast<size_t>(n));
        total += static_cast<size_t>(n);
        continue;
      }
      if (n == 0) {
        eof_ = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        error_ = errno;
      }
      break;
    }
    return total;
  }
  // Writes as much of `data` as the socket takes now. Returns the number of bytes written.
  size_t Push(std::string_view data) {
    size_t total = 0;
    while (total < data.size()) {
      ssize_t n = ::send(fd_.get(), data.data() + total, data.size() - total, MSG_NOSIGNAL);
      if (n > 0) {
        total += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    return total;
  }
  // For short messages that always fit in the socket buffer.
  void Send(std::string_view data) { ASSERT_EQ(Push(data), data.size()); }
  void ShutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }
  void ShutdownRead() { ::shutdown(fd_.get(), SHUT_RD); }
  void Close() { fd_.reset(); }

 private:
  net::UniqueFd fd_;
  std::string received_;
  bool eof_ = false;
  int error_ = 0;
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = NewLoop();
    ASSERT_NE(loop_, nullptr);
    auto c = MakeSocketPair();
    auto b = MakeSocketPair();
    ASSERT_TRUE(c.a.valid() && b.a.valid());
    client_ = std::make_unique<Peer>(std::move(c.a));
    backend_ = std::make_unique<Peer>(std::move(b.a));
    relay_client_fd_ = std::move(c.b);
    relay_backend_fd_ = std::move(b.b);
    scratch_.resize(kScratchSize);
  }
  // The owner destroys the relay outside its callbacks; so does the test.
  void TearDown() override { relay_.reset(); }

  void CreateRelay(std::string_view to_client = "", std::string_view to_backend = "",
                   FlakySchedule client_schedule = {}, FlakySchedule backend_schedule = {}) {
    net::BufferedConnection client_side = MakeSide(std::move(relay_client_fd_), client_schedule, &client_stats_);
    net::BufferedConnection backend_side =
        MakeSide(std::move(relay_backend_fd_), backend_schedule, &backend_stats_);
    client_side.Queue(to_client);  // as the frontend leaves its tagged OK
    auto r = Relay::Create(loop_.get(), std::move(client_side), std::move(backend_side), to_backend,
                           options_, &time_, scratch_.data(), scratch_.size(),
                           [this](const RelayResult& result) {
                             ++done_count_;
                             result_ = result;
                           });
    ASSERT_TRUE(r.ok()) << r.status().message();
    relay_ = std::move(*r);
  }
  void StartRelay(std::string_view to_client = "", std::string_view to_backend = "",
                  FlakySchedule client_schedule = {}, FlakySchedule backend_schedule = {}) {
    CreateRelay(to_client, to_backend, client_schedule, backend_schedule);
    if (relay_) relay_->Start();
  }

  // Runs the loop (reading whatever reaches the test's ends, unless auto_pull_ is off) until
  // cond() holds.
  bool RunUntil(const std::function<bool()>& cond, int max_iterations = 2000) {
    return RunLoopUntil(
        loop_.get(),
        [&] {
          if (auto_pull_) {
            client_->Pull();
            backend_->Pull();
          }
          return cond();
        },
        max_iterations);
  }
  bool RunUntilDone() {
    return RunUntil([&] { return done_count_ > 0; });
  }
  // Runs the loop until a timer armed now with `delay` fired (and so did every earlier one).
  bool RunFor(milliseconds delay) {
    bool fired = false;
    auto t = net::Timer::Create(loop_.get(), [&] { fired = true; });
    if (!t.ok()) return false;
    (*t)->Arm(delay);
    return RunUntil([&] { return fired; });
  }

  // Bytes the relay took in from one side and has not yet handed to the other.
  uint64_t QueuedToClient(size_t initial = 0) const {
    return backend_stats_->bytes_read + initial - client_stats_->bytes_written;
  }
  uint64_t QueuedToBackend(size_t initial = 0) const {
    return client_stats_->bytes_read + initial - backend_stats_->bytes_written;
  }

  RelayOptions options_;
  ManualTimeSource time_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<Peer> client_;
  std::unique_ptr<Peer> backend_;
  std::shared_ptr<TransportStats> client_stats_;
  std::shared_ptr<TransportStats> backend_stats_;
  RelayPtr relay_;
  int done_count_ = 0;
  RelayResult result_;
  bool auto_pull_ = true;

 private:
  net::BufferedConnection MakeSide(net::UniqueFd fd, FlakySchedule schedule,
                                   std::shared_ptr<TransportStats>* stats) {
    *stats = std::make_shared<TransportStats>();
    const int raw = fd.release();
    auto transport = std::make_unique<FlakyTransport>(net::MakePlainTransport(raw), schedule, *stats);
    auto w = net::IoWatcher::Create(loop_.get(), raw, nullptr);  // the relay sets the handler
    EXPECT_TRUE(w.ok());
    return net::BufferedConnection(std::move(transport), w.ok() ? std::move(*w) : nullptr);
  }

  net::UniqueFd relay_client_fd_;
  net::UniqueFd relay_backend_fd_;
  std::vector<char> scratch_;
};

TEST(RelayEndNameTest, NamesEveryEnd) {
  EXPECT_STREQ(RelayEndName(RelayEnd::kClosed), "closed");
  EXPECT_STREQ(RelayEndName(RelayEnd::kLogout), "logout");
  EXPECT_STREQ(RelayEndName(RelayEnd::kClientError), "client_error");
  EXPECT_STREQ(RelayEndName(RelayEnd::kBackendClosed), "backend_closed");
  EXPECT_STREQ(RelayEndName(RelayEnd::kBackendError), "backend_error");
  EXPECT_STREQ(RelayEndName(RelayEnd::kIdleTimeout), "idle_timeout");
  EXPECT_STREQ(RelayEndName(RelayEnd::kShutdown), "shutdown");
  EXPECT_STREQ(RelayEndName(RelayEnd::kKicked), "kicked");
}

TEST_F(RelayTest, RelaysBytesBothWaysByteForByte) {
  StartRelay();
  client_->Send("A1 NOOP\r\n");
  ASSERT_TRUE(RunUntil([&] { return backend_->received() == "A1 NOOP\r\n"; }));
  backend_->Send("A1 OK NOOP completed\r\n");
  ASSERT_TRUE(RunUntil([&] { return client_->received() == "A1 OK NOOP completed\r\n"; }));

  // Every byte value, including NUL, CR and LF, passes untouched.
  const std::string up = Pattern(70000, 1);
  const std::string down = Pattern(90000, 2);
  size_t up_sent = 0, down_sent = 0;
  ASSERT_TRUE(RunUntil([&] {
    up_sent += client_->Push(std::string_view(up).substr(up_sent));
    down_sent += backend_->Push(std::string_view(down).substr(down_sent));
    return backend_->received().size() == 9 + up.size() &&
           client_->received().size() == 22 + down.size();
  }));
  EXPECT_TRUE(backend_->received().substr(9) == up);
  EXPECT_TRUE(client_->received().substr(22) == down);
  EXPECT_EQ(done_count_, 0);
  EXPECT_FALSE(client_->eof());
  EXPECT_FALSE(backend_->eof());
}

// The value of imapgate_relay_bytes_total{direction} in a fresh scrape of `metrics`.
double RelayBytesMetric(stats::Metrics& metrics, const std::string& direction) {
  const std::string series = "imapgate_relay_bytes_total{direction=\"" + direction + "\"} ";
  const std::string text = metrics.Serialize();
  size_t at = text.find(series);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + series.size(), nullptr);
}

TEST_F(RelayTest, RelayBytesReachTheMetricsAsTheyFlowWhileTheSessionLasts) {
  auto metrics = stats::Metrics::Create({}, "b", "0");
  ASSERT_TRUE(metrics.ok());
  options_.metrics = metrics->get();
  StartRelay();
  client_->Send("A1 IDLE\r\n");
  ASSERT_TRUE(RunUntil([&] { return backend_->received() == "A1 IDLE\r\n"; }));
  EXPECT_EQ(RelayBytesMetric(**metrics, "client_to_backend"), 9);
  EXPECT_EQ(RelayBytesMetric(**metrics, "backend_to_client"), 0);
  const std::string cont = "+ idling\r\n";
  backend_->Send(cont);
  ASSERT_TRUE(RunUntil([&] { return client_->received() == cont; }));
  const std::string update = "* 4 EXISTS\r\n";
  for (int i = 0; i < 3; ++i) {
    backend_->Send(update);
    ASSERT_TRUE(RunUntil([&] { return client_->received().size() == cont.size() + (i + 1) * update.size(); }));
    // Counted while the session is still open (no end-of-session add).
    EXPECT_EQ(RelayBytesMetric(**metrics, "backend_to_client"), cont.size() + (i + 1) * update.size());
  }
  EXPECT_EQ(done_count_, 0);
  // The end of the session adds nothing more.
  client_->Close();
  backend_->ShutdownWrite();
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(RelayBytesMetric(**metrics, "client_to_backend"), 9);
  EXPECT_EQ(RelayBytesMetric(**metrics, "backend_to_client"), cont.size() + 3 * update.size());
  relay_.reset();
}

TEST_F(RelayTest, InitialToClientIsDeliveredBeforeAnyBackendBytes) {
  backend_->Send("* 1 EXISTS\r\n");  // already waiting when the relay starts
  StartRelay("A1 OK LOGIN completed\r\n", "");
  ASSERT_TRUE(RunUntil([&] { return client_->received().size() >= 35; }));
  EXPECT_EQ(client_->received(), "A1 OK LOGIN completed\r\n* 1 EXISTS\r\n");
}

TEST_F(RelayTest, InitialToBackendIsDeliveredBeforeAnyClientBytes) {
  client_->Send("A3 NOOP\r\n");  // pipelined behind the commands the frontend already took
  StartRelay("", "A2 SELECT INBOX\r\n");
  ASSERT_TRUE(RunUntil([&] { return backend_->received().size() >= 26; }));
  EXPECT_EQ(backend_->received(), "A2 SELECT INBOX\r\nA3 NOOP\r\n");
}

TEST_F(RelayTest, InitialBytesKeepTheirPlaceWhenTheFirstWritesWouldBlock) {
  backend_->Send("* 1 EXISTS\r\n");
  client_->Send("A3 NOOP\r\n");
  FlakySchedule blocked_first;
  blocked_first.write_would_block_first = 2;
  StartRelay("A1 OK LOGIN completed\r\n", "A2 SELECT INBOX\r\n", blocked_first, blocked_first);
  ASSERT_TRUE(RunUntil(
      [&] { return client_->received().size() >= 35 && backend_->received().size() >= 26; }));
  EXPECT_EQ(client_->received(), "A1 OK LOGIN completed\r\n* 1 EXISTS\r\n");
  EXPECT_EQ(backend_->received(), "A2 SELECT INBOX\r\nA3 NOOP\r\n");
  EXPECT_GE(client_stats_->faults, 1u);
  EXPECT_GE(backend_stats_->faults, 1u);
}

TEST_F(RelayTest, ClientHalfCloseReachesTheBackendWhileRepliesStillFlow) {
  StartRelay();
  client_->Send("A1 LOGOUT\r\n");
  client_->ShutdownWrite();
  ASSERT_TRUE(RunUntil([&] { return backend_->eof(); }));
  EXPECT_EQ(backend_->received(), "A1 LOGOUT\r\n");
  EXPECT_EQ(done_count_, 0);

  // The other direction is still open.
  backend_->Send("* 2 EXISTS\r\n");
  ASSERT_TRUE(RunUntil([&] { return client_->received() == "* 2 EXISTS\r\n"; }));
  backend_->Send("A1 OK done\r\n");
  ASSERT_TRUE(RunUntil([&] { return client_->received().size() >= 24; }));
  EXPECT_EQ(done_count_, 0);
  EXPECT_FALSE(client_->eof());

  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), "* 2 EXISTS\r\nA1 OK done\r\n");  // no BYE injected
  EXPECT_EQ(done_count_, 1);
  EXPECT_EQ(result_.end, RelayEnd::kClosed);
  EXPECT_EQ(result_.client_to_backend, 11u);
  EXPECT_EQ(result_.backend_to_client, 24u);
}

TEST_F(RelayTest, ByteCountsExcludeTheInitialBytes) {
  StartRelay("A1 OK\r\n", "A2 NOOP\r\n");
  client_->Send("abc");
  backend_->Send("defgh");
  ASSERT_TRUE(RunUntil(
      [&] { return backend_->received().size() == 12 && client_->received().size() == 12; }));
  client_->ShutdownWrite();
  ASSERT_TRUE(RunUntil([&] { return backend_->eof(); }));
  backend_->ShutdownWrite();
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kClosed);
  EXPECT_EQ(result_.client_to_backend, 3u);
  EXPECT_EQ(result_.backend_to_client, 5u);
}

TEST_F(RelayTest, BackendCloseWithoutByeTellsTheClient) {
  StartRelay();
  backend_->Send("* 3 EXISTS\r\n");
  ASSERT_TRUE(RunUntil([&] { return client_->received() == "* 3 EXISTS\r\n"; }));
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), std::string("* 3 EXISTS\r\n") + kBackendLost);
  EXPECT_EQ(result_.end, RelayEnd::kBackendClosed);
  EXPECT_EQ(result_.backend_to_client, 12u);  // our BYE is not backend traffic
  EXPECT_EQ(done_count_, 1);
}

TEST_F(RelayTest, BackendByeThenCloseIsAnOrderlyEnd) {
  StartRelay();
  const std::string logout = "* BYE Logging out\r\nA1 OK LOGOUT completed\r\n";
  backend_->Send(logout);
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), logout);  // no second BYE
  EXPECT_EQ(result_.end, RelayEnd::kLogout);
}

// A backend may send the untagged BYE and the tagged OK of a LOGOUT in two writes, and the
// relay may read them as two chunks; the BYE has still been said.
TEST_F(RelayTest, BackendByeAndTaggedOkInSeparateReadsIsAnOrderlyEnd) {
  StartRelay();
  backend_->Send("* BYE Logging out\r\n");
  ASSERT_TRUE(RunUntil([&] { return client_->received() == "* BYE Logging out\r\n"; }));
  backend_->Send("A1 OK LOGOUT completed\r\n");
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), "* BYE Logging out\r\nA1 OK LOGOUT completed\r\n");
  EXPECT_EQ(result_.end, RelayEnd::kLogout);
}

// "* BYE " in the middle of a line (here inside a header of a fetched message) is mail content,
// not the backend saying goodbye: if the backend then dies, the client must still be told.
TEST_F(RelayTest, ByeTextInsideALineIsNotABye) {
  StartRelay();
  const std::string fetch =
      "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: * BYE now\r\n\r\n)\r\n";
  backend_->Send(fetch);
  ASSERT_TRUE(RunUntil([&] { return client_->received() == fetch; }));
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), fetch + kBackendLost);
  EXPECT_EQ(result_.end, RelayEnd::kBackendClosed);
}

TEST_F(RelayTest, BackendResetMidSessionLooksLikeBackendLoss) {
  StartRelay("", "A2 NOOP\r\n");
  auto_pull_ = false;
  ASSERT_TRUE(RunUntil([&] { return backend_stats_->bytes_written == 9; }));
  backend_->Close();  // with unread bytes: the relay's next read fails with ECONNRESET
  auto_pull_ = true;
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), kBackendLost);
  EXPECT_EQ(result_.end, RelayEnd::kBackendClosed);
  EXPECT_FALSE(backend_stats_->eof_seen);  // it really was a reset, not an EOF
}

// The backend is gone before the relay even starts (it closed right after the LOGIN reply).
TEST_F(RelayTest, BackendGoneAtStartEndsTheRelay) {
  backend_->Close();
  StartRelay("A1 OK LOGIN completed\r\n", "");
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), std::string("A1 OK LOGIN completed\r\n") + kBackendLost);
  // The client got BYE and EOF; the relay must end now, not when the client acts.
  EXPECT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kBackendClosed);
}

TEST_F(RelayTest, ClientResetIsAClientError) {
  StartRelay("A1 OK LOGIN completed\r\n", "");
  auto_pull_ = false;
  ASSERT_TRUE(RunUntil([&] { return client_stats_->bytes_written == 23; }));
  client_->Close();  // with those bytes unread: a reset
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kClientError);
  EXPECT_FALSE(client_stats_->eof_seen);  // it really was a reset, not an EOF
  EXPECT_EQ(done_count_, 1);
}

TEST_F(RelayTest, FailedWriteToTheClientIsAClientError) {
  StartRelay();
  client_->ShutdownRead();           // the client side still looks open for reading by the relay...
  backend_->Send("* 4 EXISTS\r\n");  // ...but refuses bytes: EPIPE
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kClientError);
}

TEST_F(RelayTest, FailedWriteToTheBackendIsABackendError) {
  StartRelay();
  backend_->ShutdownRead();
  client_->Send("A5 NOOP\r\n");
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kBackendError);
}

TEST_F(RelayTest, ClientCloseIsAnOrderlyEndOnceTheBackendFollows) {
  StartRelay();
  client_->Send("A9 LOGOUT\r\n");
  client_->ShutdownWrite();
  ASSERT_TRUE(RunUntil([&] { return backend_->eof(); }));
  backend_->Send("* BYE\r\nA9 OK\r\n");
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), "* BYE\r\nA9 OK\r\n");
  EXPECT_EQ(result_.end, RelayEnd::kClosed);
}

TEST_F(RelayTest, ShutdownSendsByeWithTheTextAndEnds) {
  StartRelay();
  client_->Send("A1 IDLE\r\n");
  ASSERT_TRUE(RunUntil([&] { return backend_->received() == "A1 IDLE\r\n"; }));
  relay_->Shutdown("Server shutting down");
  EXPECT_EQ(done_count_, 1);  // called from outside a callback: ends at once
  EXPECT_EQ(result_.end, RelayEnd::kShutdown);
  EXPECT_EQ(result_.client_to_backend, 9u);
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), "* BYE Server shutting down\r\n");
  relay_->Shutdown("again");  // no second BYE, no second callback
  EXPECT_EQ(done_count_, 1);
  // Nothing moves any more.
  client_->Send("A2 NOOP\r\n");
  ASSERT_TRUE(RunFor(milliseconds(20)));
  EXPECT_EQ(backend_->received(), "A1 IDLE\r\n");
}

TEST_F(RelayTest, DestroyingTheRelayClosesBothSockets) {
  StartRelay();
  ASSERT_TRUE(RunFor(milliseconds(1)));
  relay_.reset();
  ASSERT_TRUE(RunUntil([&] { return client_->eof() && backend_->eof(); }));
}

class RelayIdleTest : public RelayTest {
 protected:
  void SetUp() override {
    RelayTest::SetUp();
    options_.idle_timeout = milliseconds(50);
  }
};

TEST_F(RelayIdleTest, IdleTimeoutSendsByeAndEnds) {
  StartRelay();
  time_.Advance(milliseconds(51));
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), "* BYE Idle timeout\r\n");
  EXPECT_EQ(result_.end, RelayEnd::kIdleTimeout);
  EXPECT_FALSE(backend_->eof());  // the owner closes the backend when it destroys the relay
  relay_.reset();
  EXPECT_TRUE(RunUntil([&] { return backend_->eof(); }));
}

TEST_F(RelayIdleTest, TimerFiringBeforeTheIdleClockRunsOutRearms) {
  StartRelay();
  // The real 50 ms pass, but the session's clock did not move: not idle.
  ASSERT_TRUE(RunFor(milliseconds(60)));
  EXPECT_EQ(done_count_, 0);
  time_.Advance(milliseconds(50));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kIdleTimeout);
}

TEST_F(RelayIdleTest, ClientActivityJustBeforeTheDeadlineRearms) {
  StartRelay();
  time_.Advance(milliseconds(40));
  client_->Send("A1 NOOP\r\n");
  ASSERT_TRUE(RunUntil([&] { return backend_->received() == "A1 NOOP\r\n"; }));
  time_.Advance(milliseconds(20));        // 60 ms after start, 20 ms after the last activity
  ASSERT_TRUE(RunFor(milliseconds(60)));  // the relay's 50 ms timer has fired by now
  EXPECT_EQ(done_count_, 0);
  EXPECT_EQ(client_->received(), "");
  time_.Advance(milliseconds(31));  // now 51 ms idle
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kIdleTimeout);
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), "* BYE Idle timeout\r\n");
}

TEST_F(RelayIdleTest, BackendActivityAlsoCounts) {
  StartRelay();
  time_.Advance(milliseconds(45));
  backend_->Send("* 5 EXISTS\r\n");
  ASSERT_TRUE(RunUntil([&] { return client_->received() == "* 5 EXISTS\r\n"; }));
  time_.Advance(milliseconds(10));
  ASSERT_TRUE(RunFor(milliseconds(60)));
  EXPECT_EQ(done_count_, 0);
  time_.Advance(milliseconds(50));
  ASSERT_TRUE(RunUntilDone());
  EXPECT_EQ(result_.end, RelayEnd::kIdleTimeout);
}

// Relay::Queue is not visible; the byte counts of both transports show what it holds: bytes
// taken in from one side and not yet written to the other.
TEST_F(RelayTest, QueuesAreEmptyAfterTraffic) {
  StartRelay("A1 OK\r\n", "A2 NOOP\r\n");
  // Both test ends stop reading, so both directions back up into the relay's queues...
  auto_pull_ = false;
  const std::string up = Pattern(1 << 20, 3);
  const std::string down = Pattern(1 << 20, 4);
  size_t up_sent = 0, down_sent = 0;
  int quiet = 0;
  for (int i = 0; i < 20000 && quiet < 20; ++i) {
    const size_t a = client_->Push(std::string_view(up).substr(up_sent));
    const size_t b = backend_->Push(std::string_view(down).substr(down_sent));
    up_sent += a;
    down_sent += b;
    const uint64_t taken = client_stats_->bytes_read + backend_stats_->bytes_read;
    RunLoopOnce(loop_.get());
    const bool moved = client_stats_->bytes_read + backend_stats_->bytes_read != taken;
    quiet = (a == 0 && b == 0 && !moved) ? quiet + 1 : 0;
  }
  ASSERT_EQ(quiet, 20);
  EXPECT_GT(QueuedToClient(7), 0u);
  EXPECT_GT(QueuedToBackend(9), 0u);
  // ...and drain completely once they read again.
  auto_pull_ = true;
  ASSERT_TRUE(RunUntil([&] {
    up_sent += client_->Push(std::string_view(up).substr(up_sent));
    down_sent += backend_->Push(std::string_view(down).substr(down_sent));
    return backend_->received().size() == 9 + up.size() &&
           client_->received().size() == 7 + down.size();
  }));
  EXPECT_EQ(QueuedToClient(7), 0u);
  EXPECT_EQ(QueuedToBackend(9), 0u);
  EXPECT_TRUE(backend_->received() == "A2 NOOP\r\n" + up);
  EXPECT_TRUE(client_->received() == "A1 OK\r\n" + down);
  EXPECT_EQ(done_count_, 0);
}

// Backpressure: 10 MiB through a relay whose destination reads slowly.
class RelayBackpressureTest : public RelayTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool backend_to_client() const { return GetParam(); }
  Peer& source() { return backend_to_client() ? *backend_ : *client_; }
  Peer& sink() { return backend_to_client() ? *client_ : *backend_; }
  // The relay's reads from the source and writes to the sink.
  const TransportStats& source_stats() const {
    return backend_to_client() ? *backend_stats_ : *client_stats_;
  }
  const TransportStats& sink_stats() const {
    return backend_to_client() ? *client_stats_ : *backend_stats_;
  }
  uint64_t queued() const { return source_stats().bytes_read - sink_stats().bytes_written; }
};

TEST_P(RelayBackpressureTest, TenMebibytesReachASlowReaderAndTheQueueStaysBounded) {
  StartRelay();
  auto_pull_ = false;
  const std::string data = Pattern(10 << 20, 5);
  size_t sent = 0;

  // Phase 1: nobody reads the sink. The relay fills the sink's socket, queues up to the high
  // watermark, then stops reading the source, whose socket then fills too.
  int quiet = 0;
  for (int i = 0; i < 100000 && quiet < 50; ++i) {
    const size_t n = source().Push(std::string_view(data).substr(sent));
    sent += n;
    const uint64_t reads = source_stats().read_calls;
    RunLoopOnce(loop_.get());
    quiet = (n == 0 && source_stats().read_calls == reads) ? quiet + 1 : 0;
  }
  ASSERT_EQ(quiet, 50) << "the relay never stopped reading its source";
  EXPECT_GE(queued(), options_.high_watermark);
  EXPECT_LT(queued(), options_.high_watermark + kScratchSize);
  EXPECT_LT(sent, data.size());
  EXPECT_GT(sent, source_stats().bytes_read);  // bytes wait, unread, in the source's socket
  EXPECT_EQ(source().Push("x"), 0u);           // ...which is full
  const uint64_t reads_when_paused = source_stats().read_calls;
  ASSERT_TRUE(RunFor(milliseconds(20)));
  EXPECT_EQ(source_stats().read_calls, reads_when_paused);

  // Phase 2: the sink reads 16 KiB per loop iteration until everything has arrived.
  uint64_t max_queued = 0;
  for (int i = 0; i < 400000 && sink().received().size() < data.size(); ++i) {
    sink().Pull(16 * 1024);
    sent += source().Push(std::string_view(data).substr(sent));
    RunLoopOnce(loop_.get());
    max_queued = std::max(max_queued, queued());
  }
  ASSERT_EQ(sink().received().size(), data.size());
  EXPECT_TRUE(sink().received() == data) << "bytes lost, duplicated or reordered";
  EXPECT_LT(max_queued, options_.high_watermark + kScratchSize);
  EXPECT_EQ(queued(), 0u);
  EXPECT_EQ(done_count_, 0);
  EXPECT_FALSE(sink().eof());
}

INSTANTIATE_TEST_SUITE_P(BothDirections, RelayBackpressureTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "BackendToClient" : "ClientToBackend";
                         });

// Transports that would block at every suspension point still deliver every byte, in order.
struct FlakyCase {
  const char* name;
  FlakySchedule client;
  FlakySchedule backend;
  size_t high_watermark;
  size_t low_watermark;
};

FlakySchedule Schedule(int read_block, int read_wants_write, int write_block, int short_write,
                       size_t max_read) {
  FlakySchedule s;
  s.read_would_block_every = read_block;
  s.read_wants_write_every = read_wants_write;
  s.write_would_block_every = write_block;
  s.short_write_every = short_write;
  s.max_read = max_read;
  return s;
}

class RelayFlakyTransportTest : public RelayTest,
                                public ::testing::WithParamInterface<FlakyCase> {};

TEST_P(RelayFlakyTransportTest, EveryByteArrivesInOrderBothWays) {
  const FlakyCase& c = GetParam();
  options_.high_watermark = c.high_watermark;
  options_.low_watermark = c.low_watermark;
  const std::string hello = "A1 OK LOGIN completed\r\n";
  const std::string pipelined = "A2 SELECT INBOX\r\n";
  StartRelay(hello, pipelined, c.client, c.backend);
  const std::string up = Pattern(300000, 6);
  const std::string down = Pattern(400000, 7);
  size_t up_sent = 0, down_sent = 0;
  ASSERT_TRUE(RunUntil(
      [&] {
        // Small writes, so the relay sees many separate chunks.
        up_sent += client_->Push(std::string_view(up).substr(up_sent, 3000));
        down_sent += backend_->Push(std::string_view(down).substr(down_sent, 5000));
        return backend_->received().size() == pipelined.size() + up.size() &&
               client_->received().size() == hello.size() + down.size();
      },
      200000));
  EXPECT_TRUE(backend_->received() == pipelined + up) << "client to backend corrupted";
  EXPECT_TRUE(client_->received() == hello + down) << "backend to client corrupted";

  // An orderly end through the same flaky transports.
  client_->ShutdownWrite();
  ASSERT_TRUE(RunUntil([&] { return backend_->eof(); }, 200000));
  backend_->Send("* BYE\r\n");
  backend_->ShutdownWrite();
  ASSERT_TRUE(RunUntil([&] { return done_count_ > 0 && client_->eof(); }, 200000));
  EXPECT_EQ(client_->received().substr(hello.size() + down.size()), "* BYE\r\n");
  EXPECT_EQ(result_.end, RelayEnd::kClosed);
  EXPECT_EQ(result_.client_to_backend, up.size());
  EXPECT_EQ(result_.backend_to_client, down.size() + 7);
  EXPECT_EQ(QueuedToClient(hello.size()), 0u);
  EXPECT_EQ(QueuedToBackend(pipelined.size()), 0u);
  // The schedule really was exercised on each side it was set for.
  if (c.client.read_would_block_every || c.client.write_would_block_every ||
      c.client.read_wants_write_every) {
    EXPECT_GT(client_stats_->faults, 0u);
  }
  if (c.backend.read_would_block_every || c.backend.write_would_block_every ||
      c.backend.read_wants_write_every) {
    EXPECT_GT(backend_stats_->faults, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Schedules, RelayFlakyTransportTest,
    ::testing::Values(
        FlakyCase{"ReadsWouldBlock", Schedule(2, 0, 0, 0, 0), Schedule(3, 0, 0, 0, 0), 262144,
                  65536},
        FlakyCase{"WritesWouldBlock", Schedule(0, 0, 2, 0, 0), Schedule(0, 0, 3, 0, 0), 262144,
                  65536},
        FlakyCase{"ShortWritesAndReads", Schedule(0, 0, 0, 2, 7), Schedule(0, 0, 0, 3, 1000),
                  262144, 65536},
        FlakyCase{"ReadsWantWrite", Schedule(0, 3, 0, 0, 0), Schedule(0, 2, 0, 0, 0), 262144,
                  65536},
        FlakyCase{"EverythingWithTinyWatermarks", Schedule(3, 5, 2, 7, 4096),
                  Schedule(2, 7, 3, 5, 333), 4096, 1024},
        FlakyCase{"ClientOnly", Schedule(2, 3, 5, 7, 100), FlakySchedule{}, 8192, 2048},
        FlakyCase{"BackendOnly", FlakySchedule{}, Schedule(2, 3, 5, 7, 100), 8192, 2048}),
    [](const ::testing::TestParamInfo<FlakyCase>& info) { return info.param.name; });


// ---- Framing: the relay writes its own bytes only where the client can read them ----------

// Incompressible bytes: deflate must emit blocks for them even without a flush.
std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

using ::imapgate::testing::RawDeflate;

class RelayCompressTest : public RelayTest {
 protected:
  // Logs in, and has the backend accept COMPRESS DEFLATE; returns after the client read the OK.
  void StartCompressed() {
    StartRelay("A1 OK Logged in\r\n");
    client_->Send("C1 COMPRESS DEFLATE\r\n");
    ASSERT_TRUE(RunUntil([&] { return backend_->received() == "C1 COMPRESS DEFLATE\r\n"; }));
    backend_->Send("C1 OK Begin compression.\r\n");
    ASSERT_TRUE(RunUntil([&] { return client_->received().size() == plain_prefix_.size(); }));
    ASSERT_EQ(client_->received(), plain_prefix_);
    ASSERT_TRUE(relay_->framing().compressed());
  }
  // What the client received after COMPRESS started, inflated; fails on a corrupt stream.
  std::string ClientInflated() {
    bool ok = false;
    std::string out = inflater_.Inflate(std::string_view(client_->received()).substr(plain_prefix_.size()), &ok);
    EXPECT_TRUE(ok) << "the client's deflate stream is corrupt or has bytes left over";
    return out;
  }
  const std::string plain_prefix_ = "A1 OK Logged in\r\nC1 OK Begin compression.\r\n";
  RawDeflate server_;
  RawDeflate inflater_;
};

// mbsync's crash: a compressed LOGOUT, then the backend closes. Nothing may follow its stream.
TEST_F(RelayCompressTest, CompressedLogoutAddsNothingAndIsALogout) {
  StartCompressed();
  backend_->Send(server_.Compress("* BYE Logging out\r\nL1 OK Logout completed.\r\n", Z_SYNC_FLUSH));
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(ClientInflated(), "* BYE Logging out\r\nL1 OK Logout completed.\r\n");
  EXPECT_EQ(result_.end, RelayEnd::kLogout);
}

TEST_F(RelayCompressTest, BackendDeathInsideADeflateBlockAddsNothing) {
  StartCompressed();
  std::string partial = server_.Compress("* 1 FETCH (BODY[] {100000}\r\n" + RandomBytes(50000, 3), Z_NO_FLUSH);
  ASSERT_GT(partial.size(), 1000u);
  backend_->Send(partial.substr(0, partial.size() / 2));
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received().size(), plain_prefix_.size() + partial.size() / 2);  // ours: none
  EXPECT_EQ(result_.end, RelayEnd::kBackendClosed);
}

TEST_F(RelayCompressTest, ShutdownByeIsCompressedAtAFlushPoint) {
  StartCompressed();
  backend_->Send(server_.Compress("* 2 EXISTS\r\n", Z_SYNC_FLUSH));
  ASSERT_TRUE(RunUntil([&] { return client_->received().size() > plain_prefix_.size(); }));
  relay_->Shutdown("Server shutting down");
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(ClientInflated(), "* 2 EXISTS\r\n* BYE Server shutting down\r\n");
  EXPECT_EQ(result_.end, RelayEnd::kShutdown);
}

TEST_F(RelayCompressTest, ShutdownInsideADeflateBlockClosesWithoutAWord) {
  StartCompressed();
  std::string unflushed = server_.Compress("* 3 EXISTS\r\n" + RandomBytes(20000, 4), Z_NO_FLUSH);
  ASSERT_GT(unflushed.size(), 1000u);
  backend_->Send(unflushed);
  ASSERT_TRUE(RunUntil([&] { return client_->received().size() == plain_prefix_.size() + unflushed.size(); }));
  relay_->Shutdown("Server shutting down");
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received().size(), plain_prefix_.size() + unflushed.size());
}

TEST_F(RelayCompressTest, IdleTimeoutByeIsCompressed) {
  options_.idle_timeout = milliseconds(50);
  StartCompressed();
  backend_->Send(server_.Compress("* OK still here\r\n", Z_SYNC_FLUSH));
  ASSERT_TRUE(RunUntil([&] { return client_->received().size() > plain_prefix_.size(); }));
  time_.Advance(milliseconds(51));
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(ClientInflated(), "* OK still here\r\n* BYE Idle timeout\r\n");
  EXPECT_EQ(result_.end, RelayEnd::kIdleTimeout);
}

// A message body whose lines start with "* BYE " is content: the session goes on, and if the
// backend then dies the client is still told.
TEST_F(RelayTest, ByeLinesInsideAFetchedBodyAreContent) {
  StartRelay();
  const std::string body = "Subject: test\r\n\r\nhello\r\n* BYE not the server\r\n* BYE Logging out\r\n";
  const std::string fetch = "* 1 FETCH (BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + ")\r\nF1 OK\r\n";
  backend_->Send(fetch);
  ASSERT_TRUE(RunUntil([&] { return client_->received() == fetch; }));
  client_->Send("N1 NOOP\r\n");  // the session goes on
  ASSERT_TRUE(RunUntil([&] { return backend_->received() == "N1 NOOP\r\n"; }));
  backend_->Close();
  ASSERT_TRUE(RunUntilDone());
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), fetch + kBackendLost);
  EXPECT_EQ(result_.end, RelayEnd::kBackendClosed);
}

// Shutdown while a literal is half delivered: a BYE there would be read as message content.
TEST_F(RelayTest, ShutdownInsideALiteralClosesWithoutAWord) {
  StartRelay();
  const std::string partial = "* 1 FETCH (BODY[] {1000}\r\nFrom: a\r\n";
  backend_->Send(partial);
  ASSERT_TRUE(RunUntil([&] { return client_->received() == partial; }));
  relay_->Shutdown("Server shutting down");
  ASSERT_TRUE(RunUntil([&] { return client_->eof(); }));
  EXPECT_EQ(client_->received(), partial);
  EXPECT_EQ(result_.end, RelayEnd::kShutdown);
}

// TLS: close_notify may not fit into the socket at once; the FIN must still go out.
TEST_F(RelayTest, ShutdownWriteThatWouldBlockIsRetried) {
  FlakySchedule client_schedule;
  client_schedule.shutdown_would_block_first = 1;
  StartRelay("", "", client_schedule);
  backend_->Send("* BYE Logging out\r\nL1 OK\r\n");
  backend_->Close();
  ASSERT_TRUE(RunUntil([&] { return client_->eof() && done_count_ == 1; }));
  EXPECT_EQ(client_stats_->shutdown_calls, 2u);
  EXPECT_TRUE(client_stats_->shut_down);
  EXPECT_EQ(result_.end, RelayEnd::kLogout);
}

}  // namespace
}  // namespace imapgate::relay
