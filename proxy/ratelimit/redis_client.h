// RedisClient: one asynchronous hiredis connection to a Redis server, driven by a net::EventLoop.
//
// The documented exception to "only net/ includes libevent": redis_client.cc attaches hiredis to
// the loop's event_base through hiredis's libevent adapter. No caller sees hiredis: replies are
// RedisReply values.
//
// Connection: Create() starts connecting to host:port (an IP address: a name is resolved by a
// blocking lookup), then runs AUTH (if a password is set), SELECT (if db != 0) and PING; only
// then connected() turns true and the on-connect hook runs. A lost connection, a failed connect
// or handshake, a connect that does not finish within connect_timeout, or
// timeouts_before_reconnect command timeouts in a row without any reply drop the connection and
// reconnect after an exponential, jittered backoff (backoff_initial doubling to backoff_max;
// the delay is drawn in [d/2, d]).
//
// Commands: Command() answers `done` exactly once, on the loop's thread: with the reply (a Redis
// error is a reply of type kError), or with a non-ok Status — at once (inside the call) when not
// connected or when max_in_flight commands are outstanding, after command_timeout when Redis has
// not answered, or when the connection is lost. Nothing is queued while Redis is down, so memory
// does not grow; a command that timed out still counts against max_in_flight until Redis answers
// it or the connection is dropped.
//
// Subscriber mode: Subscribe() makes the client a dedicated pub/sub connection (hiredis needs
// one): Command() then fails, and every subscription is renewed after each reconnect. Messages
// are delivered on the loop's thread.
//
// Lifetime and threads: loop-thread only; the loop outlives the client. Destroying the client
// drops every pending callback without calling it; no callback or hook runs after the
// destructor. Do not destroy a client from inside one of its own callbacks (use EventLoop::Defer).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"
#include "common/status.h"
#include "net/event_loop.h"
#include "net/timer.h"

struct redisAsyncContext;

namespace imapgate::ratelimit {

// A Redis reply, converted from hiredis's.
struct RedisReply {
  enum class Type : uint8_t { kNil, kInteger, kString, kArray, kError, kStatus };
  Type type = Type::kNil;
  int64_t integer = 0;              // kInteger
  std::string str;                  // kString, kError, kStatus
  std::vector<RedisReply> elements; // kArray

  bool is_error() const { return type == Type::kError; }
};

struct RedisClientOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::shared_ptr<const SecretString> password;  // null: no AUTH
  int db = 0;                                     // SELECT when non-zero
  std::chrono::milliseconds command_timeout{200};
  std::chrono::milliseconds connect_timeout{1000};  // TCP connect and handshake
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  size_t max_in_flight = 1024;
  int timeouts_before_reconnect = 8;
  std::string log_name = "redis";  // the `client` field of its log lines
};

class RedisClient {
 public:
  using Callback = std::function<void(StatusOr<RedisReply>)>;
  using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;
  static constexpr size_t kMaxSubscriptions = 16;
  static constexpr size_t kMaxArgs = 64;

  // Checks the options (port 1..65535, db >= 0, positive durations, max_in_flight >= 1) and
  // starts connecting. `loop` outlives the client.
  static StatusOr<std::unique_ptr<RedisClient>> Create(net::EventLoop* loop, RedisClientOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command (at most kMaxArgs arguments); `done` once (see above).
  void Command(std::vector<std::string> args, Callback done);

  // Subscribes to `channel` (now if connected, and after every reconnect); `on_message` gets each
  // message. Fails once commands have been sent, past kMaxSubscriptions, or on a repeated channel.
  Status Subscribe(const std::string& channel, MessageHandler on_message);

  // Runs after each successful connect and handshake (and, in subscriber mode, after the
  // SUBSCRIBE commands are sent).
  void SetOnConnect(std::function<void()> hook) { on_connect_ = std::move(hook); }
  // Called once per command with its latency in seconds and whether it got a non-error reply
  // (commands refused at once report 0 s and false).
  void SetLatencyHook(std::function<void(double seconds, bool ok)> hook) { latency_hook_ = std::move(hook); }

  bool connected() const { return state_ == State::kReady; }
  // Commands sent to Redis and not yet answered by it (including timed-out ones).
  size_t in_flight() const { return in_flight_.size(); }
  // Successful handshakes since creation (tests: a reconnect happened).
  uint64_t connects() const { return connects_; }

 private:
  enum class State : uint8_t { kIdle, kConnecting, kHandshake, kReady };
  struct Pending {
    Callback done;  // empty once answered by a timeout
    std::chrono::steady_clock::time_point sent;
    std::chrono::steady_clock::time_point deadline;
    bool report = true;  // user commands report latency; the handshake's do not
  };

  RedisClient(net::EventLoop* loop, RedisClientOptions options);
  static void OnConnectThunk(const redisAsyncContext* ac, int status);
  static void OnDisconnectThunk(const redisAsyncContext* ac, int status);
  static void OnReplyThunk(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnMessageThunk(redisAsyncContext* ac, void* reply, void* privdata);

  void StartConnect();
  void StartHandshake();
  void HandshakeStep(StatusOr<RedisReply> reply, bool last);
  void SendSubscriptions();
  // Sends without the connected check (handshake and user commands).
  void Send(const std::vector<std::string>& args, Callback done, bool report);
  void HandleReply(uint64_t id, const void* reply);
  void HandleTimeouts();
  void ArmTimeoutTimer();
  // Frees the context now (never from inside a hiredis callback) and schedules a reconnect.
  void DropConnection(const char* why);
  void ScheduleDrop(const char* why);
  void ConnectionLost(const char* why);
  void ScheduleReconnect();
  void Fail(const Callback& done, Status status);
  void ReportLatency(double seconds, bool ok);

  net::EventLoop* loop_;
  RedisClientOptions options_;
  redisAsyncContext* ctx_ = nullptr;
  State state_ = State::kIdle;
  bool handshake_failed_ = false;
  bool subscriber_ = false;
  bool sent_commands_ = false;
  bool down_logged_ = false;
  int attempt_ = 0;
  int consecutive_timeouts_ = 0;
  uint64_t connects_ = 0;
  uint64_t next_id_ = 1;
  uint64_t timeout_cursor_ = 1;  // every id below it was answered or timed out
  const char* drop_reason_ = "";
  std::map<uint64_t, Pending> in_flight_;
  std::map<std::string, MessageHandler> subscriptions_;
  std::function<void()> on_connect_;
  std::function<void(double, bool)> latency_hook_;
  net::TimerPtr timeout_timer_;
  net::TimerPtr reconnect_timer_;
  net::TimerPtr connect_timer_;
  net::TimerPtr drop_timer_;
  std::minstd_rand rng_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Converts a value for logs and errors: a reply's text cut to `max` bytes.
std::string RedisReplyText(const RedisReply& reply, size_t max = 120);

}  // namespace imapgate::ratelimit
