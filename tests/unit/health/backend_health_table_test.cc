// Tests for health::BackendHealthTable and FirstUsable: indices by name, thresholds through the
// table, passive marks, draining orthogonal to up/down, one report per change, the last check,
// session counts, the failover pick, and concurrent writers and readers (correctness, not speed).

#include "health/backend_health_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../common/stderr_capture.h"

namespace imapgate::health {
namespace {

using namespace std::chrono_literals;
using Kind = StateChange::Kind;
using Source = StateChange::Source;

struct Recorded {
  size_t backend;
  std::string name;
  Kind kind;
  Source source;
  std::string reason;
};

class BackendHealthTableTest : public ::testing::Test {
 protected:
  BackendHealthTableTest() : table_(Policy(), [this](const StateChange& c) { Record(c); }) {}

  static HealthPolicy Policy() {
    HealthPolicy p;
    p.rise = 2;
    p.fall = 3;
    return p;
  }
  void Record(const StateChange& c) {
    std::lock_guard<std::mutex> lock(mu_);
    changes_.push_back({c.backend, std::string(c.name), c.kind, c.source, std::string(c.reason)});
  }
  size_t AddOrDie(const std::string& name) {
    auto i = table_.Add(name);
    EXPECT_TRUE(i.ok()) << i.status().message();
    return i.ok() ? *i : 0;
  }
  void Fail(size_t i, int n, std::string_view why = "connect: Connection refused") {
    for (int k = 0; k < n; ++k) table_.RecordCheck(i, CheckOutcome::kConnectFailed, why, Now());
  }
  void Pass(size_t i, int n) {
    for (int k = 0; k < n; ++k) table_.RecordCheck(i, CheckOutcome::kOk, "", Now());
  }
  std::chrono::system_clock::time_point Now() {
    return std::chrono::system_clock::time_point(now_);
  }

  std::chrono::seconds now_{1'700'000'000};
  std::mutex mu_;
  std::vector<Recorded> changes_;
  BackendHealthTable table_;
};

TEST_F(BackendHealthTableTest, NamesGetStableIndices) {
  EXPECT_EQ(AddOrDie("a1"), 0u);
  EXPECT_EQ(AddOrDie("a2"), 1u);
  EXPECT_EQ(AddOrDie("a1"), 0u);
  EXPECT_EQ(table_.size(), 2u);
  EXPECT_EQ(table_.name(1), "a2");
  EXPECT_EQ(table_.Find("a2"), std::optional<size_t>(1));
  EXPECT_FALSE(table_.Find("zz").has_value());
  EXPECT_FALSE(table_.Add("").ok());
}

TEST_F(BackendHealthTableTest, CapacityIsBounded) {
  BackendHealthTable small(Policy(), nullptr, 2);
  ASSERT_TRUE(small.Add("x").ok());
  ASSERT_TRUE(small.Add("y").ok());
  auto over = small.Add("z");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(small.Add("x").ok());  // known names still resolve
}

TEST_F(BackendHealthTableTest, NewBackendStartsUpAndUsable) {
  size_t a = AddOrDie("a1");
  EXPECT_TRUE(table_.IsUp(a));
  EXPECT_FALSE(table_.IsDraining(a));
  EXPECT_TRUE(table_.IsUsable(a));
  EXPECT_FALSE(table_.Snapshot(a).checked);

  HealthPolicy down_first = Policy();
  down_first.start_up = false;
  BackendHealthTable t(down_first, nullptr);
  auto b = t.Add("b1");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(t.IsUsable(*b));
}

TEST_F(BackendHealthTableTest, FallThenRiseReportEachChangeOnce) {
  size_t a = AddOrDie("a1");
  Fail(a, 2);
  EXPECT_TRUE(table_.IsUp(a));
  EXPECT_TRUE(changes_.empty());
  Fail(a, 1, "connect timeout");
  EXPECT_FALSE(table_.IsUp(a));
  EXPECT_FALSE(table_.IsUsable(a));
  Fail(a, 5);  // still down: no more reports
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].kind, Kind::kDown);
  EXPECT_EQ(changes_[0].source, Source::kCheck);
  EXPECT_EQ(changes_[0].name, "a1");
  EXPECT_EQ(changes_[0].reason, "connect timeout");  // the failure that took it down
  Pass(a, 1);
  EXPECT_FALSE(table_.IsUp(a));
  Pass(a, 1);
  EXPECT_TRUE(table_.IsUp(a));
  Pass(a, 5);
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].kind, Kind::kUp);
  EXPECT_EQ(changes_[1].reason, "");
}

TEST_F(BackendHealthTableTest, PassiveMarksCountAsChecks) {
  size_t a = AddOrDie("a1");
  table_.RecordPassive(a, false, "connect: Connection refused");
  table_.RecordPassive(a, false, "connect: Connection refused");
  table_.RecordPassive(a, true);  // a login that worked breaks the run
  table_.RecordPassive(a, false, "x");
  table_.RecordPassive(a, false, "x");
  EXPECT_TRUE(table_.IsUp(a));
  Fail(a, 1);  // an active failure completes a run begun by passive ones
  EXPECT_FALSE(table_.IsUp(a));
  table_.RecordPassive(a, true);
  table_.RecordPassive(a, true);
  EXPECT_TRUE(table_.IsUp(a));
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].source, Source::kLogin);
  // Passive marks leave the last *check* alone, but record the failure text.
  BackendStatus s = table_.Snapshot(a);
  EXPECT_EQ(s.last_failure, "connect: Connection refused");
  table_.RecordPassive(a, false, "backend said BYE");
  EXPECT_EQ(table_.Snapshot(a).last_failure, "backend said BYE");
  EXPECT_EQ(table_.Snapshot(a).last_check, CheckOutcome::kConnectFailed);
}

TEST_F(BackendHealthTableTest, DrainingIsOrthogonalToUpDown) {
  size_t a = AddOrDie("a1");
  EXPECT_TRUE(table_.SetDraining(a, true));
  EXPECT_FALSE(table_.SetDraining(a, true));  // no change, no report
  EXPECT_TRUE(table_.IsUp(a));
  EXPECT_TRUE(table_.IsDraining(a));
  EXPECT_FALSE(table_.IsUsable(a));
  Fail(a, 3);  // goes down while draining
  EXPECT_FALSE(table_.IsUp(a));
  EXPECT_TRUE(table_.IsDraining(a));
  Pass(a, 2);  // and up again: still draining, still not usable
  EXPECT_TRUE(table_.IsUp(a));
  EXPECT_TRUE(table_.IsDraining(a));
  EXPECT_FALSE(table_.IsUsable(a));
  EXPECT_TRUE(table_.SetDraining(a, false));
  EXPECT_TRUE(table_.IsUsable(a));
  Fail(a, 3);
  EXPECT_TRUE(table_.SetDraining(a, true));
  EXPECT_TRUE(table_.SetDraining(a, false));
  EXPECT_FALSE(table_.IsUsable(a)) << "undraining a down backend does not make it usable";
  std::vector<Kind> kinds;
  for (const Recorded& r : changes_) kinds.push_back(r.kind);
  EXPECT_EQ(kinds, (std::vector<Kind>{Kind::kDraining, Kind::kDown, Kind::kUp, Kind::kUndrained,
                                      Kind::kDown, Kind::kDraining, Kind::kUndrained}));
  EXPECT_EQ(changes_[0].source, Source::kOperator);
}

TEST_F(BackendHealthTableTest, DrainingKeepsItsSessionCount) {
  size_t a = AddOrDie("a1");
  table_.SessionStarted(a);
  table_.SessionStarted(a);
  ASSERT_TRUE(table_.SetDraining(a, true));
  EXPECT_EQ(table_.ActiveSessions(a), 2);
  table_.SessionEnded(a);
  EXPECT_EQ(table_.ActiveSessions(a), 1);
}

TEST_F(BackendHealthTableTest, ActiveSessionCountsForItsLifetime) {
  size_t a = AddOrDie("a1");
  {
    ActiveSession s1(&table_, a);
    EXPECT_EQ(table_.ActiveSessions(a), 1);
    ActiveSession s2(&table_, a);
    ActiveSession moved = std::move(s2);
    EXPECT_EQ(table_.ActiveSessions(a), 2);
    s1.Reset();
    s1.Reset();
    EXPECT_EQ(table_.ActiveSessions(a), 1);
  }
  EXPECT_EQ(table_.ActiveSessions(a), 0);
}

TEST_F(BackendHealthTableTest, LastCheckResultAndTime) {
  size_t a = AddOrDie("a1");
  Fail(a, 1, "backend greeting is not IMAP");
  BackendStatus s = table_.Snapshot(a);
  EXPECT_TRUE(s.checked);
  EXPECT_EQ(s.last_check, CheckOutcome::kConnectFailed);
  EXPECT_EQ(s.last_check_time, Now());
  EXPECT_EQ(s.last_check_detail, "backend greeting is not IMAP");
  now_ += 5s;
  Pass(a, 1);
  s = table_.Snapshot(a);
  EXPECT_EQ(s.last_check, CheckOutcome::kOk);
  EXPECT_EQ(s.last_check_time, Now());
  EXPECT_EQ(s.last_check_detail, "");
  EXPECT_EQ(s.last_failure, "backend greeting is not IMAP");  // kept for the operator
  EXPECT_EQ(s.name, "a1");
  EXPECT_TRUE(s.up);
}

TEST_F(BackendHealthTableTest, DetailTextsAreBounded) {
  size_t a = AddOrDie("a1");
  const std::string huge(100'000, 'x');
  Fail(a, 3, huge);
  table_.RecordPassive(a, false, huge);
  BackendStatus s = table_.Snapshot(a);
  EXPECT_EQ(s.last_check_detail.size(), BackendHealthTable::kMaxDetailBytes);
  EXPECT_EQ(s.last_failure.size(), BackendHealthTable::kMaxDetailBytes);
  ASSERT_FALSE(changes_.empty());
  EXPECT_EQ(changes_[0].reason.size(), BackendHealthTable::kMaxDetailBytes);
}

TEST_F(BackendHealthTableTest, UnknownIndicesAreIgnoredAndReadAsUnusable) {
  AddOrDie("a1");
  table_.RecordCheck(7, CheckOutcome::kOk, "", Now());
  table_.RecordPassive(7, false, "x");
  table_.SessionStarted(7);
  EXPECT_FALSE(table_.SetDraining(7, true));
  EXPECT_FALSE(table_.IsUsable(7));
  EXPECT_FALSE(table_.IsUp(7));
  EXPECT_EQ(table_.ActiveSessions(7), 0);
  EXPECT_EQ(table_.name(7), "");
  EXPECT_EQ(table_.Snapshot(7).name, "");
  table_.RecordCheck(0, CheckOutcome::kCount, "", Now());  // not an outcome: ignored
  EXPECT_FALSE(table_.Snapshot(0).checked);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(BackendHealthTableTest, ReAddingANameKeepsItsState) {
  size_t a = AddOrDie("a1");
  Fail(a, 3);
  ASSERT_TRUE(table_.SetDraining(a, true));
  EXPECT_EQ(AddOrDie("a1"), a);  // a reload that keeps the backend
  EXPECT_FALSE(table_.IsUp(a));
  EXPECT_TRUE(table_.IsDraining(a));
}

TEST_F(BackendHealthTableTest, UnusableEpochMovesWhenABackendStopsTakingLogins) {
  const size_t a = AddOrDie("a1");
  const size_t b = AddOrDie("b1");
  EXPECT_EQ(table_.UnusableEpoch(a), 0u);
  Pass(a, 5);
  Fail(a, 2);  // below fall: still up
  EXPECT_EQ(table_.UnusableEpoch(a), 0u);
  Fail(a, 1);  // down
  EXPECT_EQ(table_.UnusableEpoch(a), 1u);
  Fail(a, 3);  // still down: no new epoch
  Pass(a, 2);  // up again: a connection made now is good
  EXPECT_EQ(table_.UnusableEpoch(a), 1u);
  ASSERT_TRUE(table_.SetDraining(a, true));
  EXPECT_EQ(table_.UnusableEpoch(a), 2u);
  ASSERT_TRUE(table_.SetDraining(a, false));
  EXPECT_EQ(table_.UnusableEpoch(a), 2u);
  EXPECT_EQ(table_.UnusableEpoch(b), 0u);  // per backend
  EXPECT_EQ(table_.UnusableEpoch(99), 0u);
}

TEST_F(BackendHealthTableTest, FirstUsableFollowsFailoverOrder) {
  const size_t a1 = AddOrDie("a1"), a2 = AddOrDie("a2"), a3 = AddOrDie("a3");
  const std::vector<size_t> order = {a1, a2, a3};
  EXPECT_EQ(FirstUsable(table_, order), std::optional<size_t>(0));
  Fail(a1, 3);  // primary down: the first replica
  EXPECT_EQ(FirstUsable(table_, order), std::optional<size_t>(1));
  ASSERT_TRUE(table_.SetDraining(a2, true));  // and it drains: the next one
  EXPECT_EQ(FirstUsable(table_, order), std::optional<size_t>(2));
  // After a failed connect to position 2 within the same login, nothing is left.
  EXPECT_EQ(FirstUsable(table_, order, 3), std::nullopt);
  Fail(a3, 3);
  EXPECT_EQ(FirstUsable(table_, order), std::nullopt);
  Pass(a1, 2);  // the primary is back: it wins again
  EXPECT_EQ(FirstUsable(table_, order), std::optional<size_t>(0));
  EXPECT_EQ(FirstUsable(table_, order, 1), std::nullopt);  // skipping it, a2 drains and a3 is down
  EXPECT_EQ(FirstUsable(table_, std::vector<size_t>{}), std::nullopt);
  EXPECT_EQ(FirstUsable(table_, std::vector<size_t>{42, a1}), std::optional<size_t>(1));
  EXPECT_EQ(FirstUsable(table_, order, 99), std::nullopt);
}

// Workers report results for one backend from several threads while others read: every change
// is reported once (downs and ups alternate in count), and the final state matches them.
TEST_F(BackendHealthTableTest, ConcurrentWritersReportEachChangeOnce) {
  const size_t a = AddOrDie("a1");
  const size_t b = AddOrDie("b1");
  constexpr int kThreads = 4;
  constexpr int kEach = 200000;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const std::vector<size_t> order = {a, b};
      auto pos = FirstUsable(table_, order);
      if (pos) {
        EXPECT_LT(*pos, 2u);
      }
      reads.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Runs of failures and successes of varying length, different per thread.
        const bool ok = ((i / (3 + t)) % 2) == 0;
        table_.RecordPassive(a, ok, "x");
        table_.SessionStarted(b);
        table_.SessionEnded(b);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  stop = true;
  reader.join();
  int downs = 0, ups = 0;
  for (const Recorded& r : changes_) {
    EXPECT_EQ(r.backend, a);
    (r.kind == Kind::kDown ? downs : ups)++;
  }
  EXPECT_GT(downs, 0);
  EXPECT_EQ(downs - ups, table_.IsUp(a) ? 0 : 1);
  EXPECT_EQ(table_.ActiveSessions(b), 0);
  EXPECT_GT(reads.load(), 0);
}

TEST_F(BackendHealthTableTest, ConcurrentFailuresTakeABackendDownOnce) {
  const size_t a = AddOrDie("a1");
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) table_.RecordPassive(a, false, "connect: Connection refused");
    });
  }
  for (std::thread& t : threads) t.join();
  threads.clear();
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].kind, Kind::kDown);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) table_.RecordPassive(a, true);
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].kind, Kind::kUp);
  EXPECT_TRUE(table_.IsUsable(a));
}

TEST_F(BackendHealthTableTest, AddingWhileOthersReadAndWriteIsSafe) {
  const size_t first = AddOrDie("b0");
  std::atomic<bool> stop{false};
  std::thread user([&] {
    while (!stop.load()) {
      const size_t n = table_.size();
      for (size_t i = 0; i < n; ++i) {
        EXPECT_FALSE(table_.name(i).empty());
        table_.RecordPassive(i, true);
        (void)table_.IsUsable(i);
      }
    }
  });
  std::vector<size_t> indices;
  for (int i = 1; i < 200; ++i) indices.push_back(AddOrDie("b" + std::to_string(i)));
  stop = true;
  user.join();
  EXPECT_EQ(first, 0u);
  for (size_t k = 0; k < indices.size(); ++k) EXPECT_EQ(indices[k], k + 1);
  EXPECT_EQ(table_.size(), 200u);
  EXPECT_TRUE(changes_.empty());
}

// The default observer: one line per change, the reason on a down, never per check.
TEST(LogStateChangeTest, LogsEachChangeOnceWithItsReason) {
  HealthPolicy p;
  p.fall = 2;
  p.rise = 1;
  BackendHealthTable table(p);  // the default observer: LogStateChange
  const size_t a = *table.Add("a1");
  table.SetShard(a, "shard-a");
  testing::StderrCapture capture;
  for (int i = 0; i < 5; ++i) table.RecordPassive(a, false, "connect: Connection refused");
  table.RecordCheck(a, CheckOutcome::kOk, "", std::chrono::system_clock::time_point());
  table.RecordCheck(a, CheckOutcome::kOk, "", std::chrono::system_clock::time_point());
  ASSERT_TRUE(table.SetDraining(a, true));
  const std::string out = capture.Take();
  std::vector<std::string> lines;
  for (size_t start = 0; start < out.size();) {
    size_t nl = out.find('\n', start);
    if (nl == std::string::npos) nl = out.size();
    lines.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_NE(lines[0].find("backend_state"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("backend=a1"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("state=down"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("shard=shard-a from=up to=down"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("via=login"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("reason=\"connect: Connection refused\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("state=up"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("shard=shard-a from=down to=up"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("via=check"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].find("reason="), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("state=draining"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("from=up to=draining"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("via=operator"), std::string::npos) << lines[2];
}

// An undrain goes back to the backend's health; a backend without a shard label logs shard=-.
TEST(LogStateChangeTest, UndrainGoesBackToTheHealthAndAnUnlabelledShardIsADash) {
  HealthPolicy p;
  p.fall = 1;
  p.rise = 1;
  BackendHealthTable table(p);
  const size_t a = *table.Add("a1");
  {
    testing::StderrCapture setup;  // the drain and down lines, not asserted here
    ASSERT_TRUE(table.SetDraining(a, true));
    table.RecordPassive(a, false, "refused");
  }
  testing::StderrCapture capture;
  ASSERT_TRUE(table.SetDraining(a, false));
  const std::string out = capture.Take();
  EXPECT_NE(out.find("backend=a1 shard=- from=draining to=down state=undrained via=operator"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace imapgate::health
