// The one file outside net/ that includes libevent (through hiredis's adapter); see the header.
#include "ratelimit/redis_client.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace imapgate::ratelimit {
namespace {

using Clock = std::chrono::steady_clock;

// hiredis nests replies at most 7 deep; this bound keeps the conversion's recursion finite even so.
constexpr int kMaxReplyDepth = 8;

RedisReply Convert(const redisReply* r, int depth) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r->type == REDIS_REPLY_STRING   ? RedisReply::Type::kString
                 : r->type == REDIS_REPLY_STATUS ? RedisReply::Type::kStatus
                                                 : RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      if (depth >= kMaxReplyDepth) {
        out.type = RedisReply::Type::kError;
        out.str = "reply nested too deep";
        break;
      }
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i], depth + 1));
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string RedisReplyText(const RedisReply& reply, size_t max) {
  switch (reply.type) {
    case RedisReply::Type::kNil: return "(nil)";
    case RedisReply::Type::kInteger: return std::to_string(reply.integer);
    case RedisReply::Type::kArray: return "(array of " + std::to_string(reply.elements.size()) + ")";
    default: return reply.str.substr(0, max);
  }
}

StatusOr<std::unique_ptr<RedisClient>> RedisClient::Create(net::EventLoop* loop, RedisClientOptions options) {
  if (loop == nullptr) return InvalidArgument("redis: no event loop");
  if (options.host.empty()) return InvalidArgument("redis: empty host");
  if (options.port < 1 || options.port > 65535) return InvalidArgument("redis: port out of range");
  if (options.db < 0) return InvalidArgument("redis: negative db index");
  if (options.command_timeout.count() <= 0 || options.connect_timeout.count() <= 0 ||
      options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial) {
    return InvalidArgument("redis: timeouts and backoff must be positive (backoff_max >= backoff_initial)");
  }
  if (options.max_in_flight < 1) return InvalidArgument("redis: max_in_flight must be at least 1");
  if (options.timeouts_before_reconnect < 1) options.timeouts_before_reconnect = 1;
  std::unique_ptr<RedisClient> client(new RedisClient(loop, std::move(options)));
  RedisClient* self = client.get();
  auto t1 = net::Timer::Create(loop, [self] { self->HandleTimeouts(); });
  auto t2 = net::Timer::Create(loop, [self] { self->StartConnect(); });
  auto t3 = net::Timer::Create(loop, [self] {
    if (self->state_ == State::kConnecting || self->state_ == State::kHandshake) {
      self->DropConnection("connect timeout");
    }
  });
  auto t4 = net::Timer::Create(loop, [self] { self->DropConnection(self->drop_reason_); });
  if (!t1.ok()) return t1.status();
  if (!t2.ok()) return t2.status();
  if (!t3.ok()) return t3.status();
  if (!t4.ok()) return t4.status();
  client->timeout_timer_ = std::move(*t1);
  client->reconnect_timer_ = std::move(*t2);
  client->connect_timer_ = std::move(*t3);
  client->drop_timer_ = std::move(*t4);
  client->StartConnect();
  return client;
}

RedisClient::RedisClient(net::EventLoop* loop, RedisClientOptions options)
    : loop_(loop), options_(std::move(options)), rng_(std::random_device{}()) {}

RedisClient::~RedisClient() {
  *alive_ = false;
  on_connect_ = nullptr;
  latency_hook_ = nullptr;
  in_flight_.clear();  // dropped, never called
  subscriptions_.clear();
  if (ctx_ != nullptr) {
    redisAsyncContext* ac = ctx_;
    ctx_ = nullptr;
    ac->data = nullptr;  // the thunks of the callbacks hiredis runs while freeing see no client
    redisAsyncFree(ac);
  }
}

void RedisClient::StartConnect() {
  if (ctx_ != nullptr) return;
  drop_timer_->Cancel();  // a drop scheduled for the previous connection
  redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
  if (ac == nullptr) {
    ConnectionLost("out of memory");
    return;
  }
  if (ac->err != 0) {
    LogEvent(LogLevel::kDebug, "redis_connect_failed").Add("client", options_.log_name).Add("error", ac->errstr);
    redisAsyncFree(ac);
    ConnectionLost("connect failed");
    return;
  }
  redisEnableKeepAlive(&ac->c);  // a peer that vanished without a RST is noticed eventually
  ac->data = this;
  if (redisLibeventAttach(ac, loop_->base()) != REDIS_OK) {
    ac->data = nullptr;
    redisAsyncFree(ac);
    ConnectionLost("attach failed");
    return;
  }
  redisAsyncSetConnectCallback(ac, &RedisClient::OnConnectThunk);
  redisAsyncSetDisconnectCallback(ac, &RedisClient::OnDisconnectThunk);
  ctx_ = ac;
  state_ = State::kConnecting;
  connect_timer_->Arm(options_.connect_timeout);
}

void RedisClient::OnConnectThunk(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self == nullptr || self->ctx_ != ac) return;
  if (status != REDIS_OK) {
    self->ctx_ = nullptr;  // hiredis frees it after this callback
    self->ConnectionLost("connect failed");
    return;
  }
  self->StartHandshake();
}

void RedisClient::OnDisconnectThunk(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self == nullptr || self->ctx_ != ac) return;  // gone, or dropped by us
  self->ctx_ = nullptr;  // hiredis frees it after this callback
  self->ConnectionLost("connection lost");
}

void RedisClient::StartHandshake() {
  state_ = State::kHandshake;
  handshake_failed_ = false;
  if (options_.password != nullptr && !options_.password->empty()) {
    // Built in place (no temporary copy of the password is left unwiped); hiredis's own output
    // buffer holds the command until it is written, beyond our reach.
    std::vector<std::string> args(2);
    args[0] = "AUTH";
    args[1].assign(options_.password->view());
    Send(args, [this](StatusOr<RedisReply> r) { HandshakeStep(std::move(r), false); }, false);
    SecureWipe(args[1].data(), args[1].size());
  }
  if (options_.db != 0) {
    Send({"SELECT", std::to_string(options_.db)}, [this](StatusOr<RedisReply> r) { HandshakeStep(std::move(r), false); }, false);
  }
  Send({"PING"}, [this](StatusOr<RedisReply> r) { HandshakeStep(std::move(r), true); }, false);
}

void RedisClient::HandshakeStep(StatusOr<RedisReply> reply, bool last) {
  if (state_ != State::kHandshake) return;
  if (!reply.ok() || reply->is_error()) {
    if (!handshake_failed_) {
      handshake_failed_ = true;
      // Never the AUTH argument: only Redis's own error text (which does not echo it).
      LogEvent(down_logged_ ? LogLevel::kDebug : LogLevel::kWarn, "redis_handshake_failed")
          .Add("client", options_.log_name)
          .Add("error", reply.ok() ? RedisReplyText(*reply) : reply.status().message());
      ScheduleDrop("handshake failed");
    }
    return;
  }
  if (!last || handshake_failed_) return;
  connect_timer_->Cancel();
  state_ = State::kReady;
  attempt_ = 0;
  consecutive_timeouts_ = 0;
  ++connects_;
  if (down_logged_) {
    LogEvent(LogLevel::kInfo, "redis_connected").Add("client", options_.log_name);
    down_logged_ = false;
  }
  if (subscriber_) SendSubscriptions();
  if (on_connect_) on_connect_();
}

void RedisClient::SendSubscriptions() {
  for (const auto& [channel, handler] : subscriptions_) {
    const char* argv[2] = {"SUBSCRIBE", channel.c_str()};
    const size_t lens[2] = {9, channel.size()};
    if (redisAsyncCommandArgv(ctx_, &RedisClient::OnMessageThunk, nullptr, 2, argv, lens) != REDIS_OK) {
      ScheduleDrop("subscribe failed");
      return;
    }
  }
}

Status RedisClient::Subscribe(const std::string& channel, MessageHandler on_message) {
  if (sent_commands_) return InvalidArgument("redis: subscribe on a client that sends commands");
  if (channel.empty() || subscriptions_.size() >= kMaxSubscriptions) {
    return InvalidArgument("redis: empty channel or too many subscriptions");
  }
  if (!subscriptions_.emplace(channel, std::move(on_message)).second) {
    return InvalidArgument("redis: already subscribed to that channel");
  }
  subscriber_ = true;
  if (state_ == State::kReady) {
    const char* argv[2] = {"SUBSCRIBE", channel.c_str()};
    const size_t lens[2] = {9, channel.size()};
    if (redisAsyncCommandArgv(ctx_, &RedisClient::OnMessageThunk, nullptr, 2, argv, lens) != REDIS_OK) {
      ScheduleDrop("subscribe failed");
    }
  }
  return Status::Ok();
}

void RedisClient::OnMessageThunk(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<RedisClient*>(ac->data);
  const auto* r = static_cast<const redisReply*>(reply);
  if (self == nullptr || r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply* kind = r->element[0];
  const redisReply* channel = r->element[1];
  const redisReply* payload = r->element[2];
  if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) {
    return;
  }
  if (std::string_view(kind->str, kind->len) != "message") return;  // subscribe confirmations
  auto it = self->subscriptions_.find(std::string(channel->str, channel->len));
  if (it == self->subscriptions_.end()) return;
  MessageHandler handler = it->second;  // a copy: the handler may unsubscribe nothing, but may destroy
  handler(std::string_view(channel->str, channel->len), std::string_view(payload->str, payload->len));
}

void RedisClient::Fail(const Callback& done, Status status) {
  ReportLatency(0, false);
  done(std::move(status));
}

void RedisClient::ReportLatency(double seconds, bool ok) {
  if (latency_hook_) latency_hook_(seconds, ok);
}

void RedisClient::Command(std::vector<std::string> args, Callback done) {
  if (subscriber_) return Fail(done, InvalidArgument("redis: command on a subscriber connection"));
  if (args.empty() || args.size() > kMaxArgs) return Fail(done, InvalidArgument("redis: bad argument count"));
  if (state_ != State::kReady) return Fail(done, Unavailable("redis: not connected"));
  if (in_flight_.size() >= options_.max_in_flight) {
    return Fail(done, Status(StatusCode::kResourceExhausted, "redis: too many commands in flight"));
  }
  sent_commands_ = true;
  Send(args, std::move(done), true);
}

void RedisClient::Send(const std::vector<std::string>& args, Callback done, bool report) {
  const Clock::time_point now = Clock::now();
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  const uint64_t id = next_id_++;
  in_flight_.emplace(id, Pending{std::move(done), now, now + options_.command_timeout, report});
  if (ctx_ == nullptr ||
      redisAsyncCommandArgv(ctx_, &RedisClient::OnReplyThunk, reinterpret_cast<void*>(static_cast<uintptr_t>(id)),
                            static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
    auto it = in_flight_.find(id);
    Callback cb = std::move(it->second.done);
    in_flight_.erase(it);
    if (report) ReportLatency(0, false);
    cb(Unavailable("redis: connection closing"));
    return;
  }
  if (!timeout_timer_->armed()) timeout_timer_->Arm(options_.command_timeout);
}

void RedisClient::OnReplyThunk(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self == nullptr) return;
  self->HandleReply(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(privdata)), reply);
}

void RedisClient::HandleReply(uint64_t id, const void* reply) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;
  Pending p = std::move(it->second);
  in_flight_.erase(it);
  const auto* r = static_cast<const redisReply*>(reply);
  if (r != nullptr) consecutive_timeouts_ = 0;
  if (!p.done) return;  // answered by its timeout already
  if (r == nullptr) {
    if (p.report) ReportLatency(Seconds(Clock::now() - p.sent), false);
    p.done(Unavailable("redis: connection lost"));
    return;
  }
  RedisReply converted = Convert(r, 0);
  if (p.report) ReportLatency(Seconds(Clock::now() - p.sent), !converted.is_error());
  p.done(std::move(converted));
}

void RedisClient::HandleTimeouts() {
  const Clock::time_point now = Clock::now();
  std::vector<std::pair<Callback, bool>> expired;
  for (auto it = in_flight_.lower_bound(timeout_cursor_); it != in_flight_.end(); ++it) {
    if (it->second.deadline > now) break;
    timeout_cursor_ = it->first + 1;
    if (it->second.done) expired.emplace_back(std::move(it->second.done), it->second.report);
    it->second.done = nullptr;
  }
  consecutive_timeouts_ += static_cast<int>(expired.size());
  std::shared_ptr<bool> alive = alive_;
  for (auto& [cb, report] : expired) {
    if (report) ReportLatency(Seconds(options_.command_timeout), false);
    cb(Unavailable("redis: command timed out"));
    if (!*alive) return;
  }
  if (consecutive_timeouts_ >= options_.timeouts_before_reconnect && ctx_ != nullptr) {
    DropConnection("commands time out");
    return;
  }
  ArmTimeoutTimer();
}

void RedisClient::ArmTimeoutTimer() {
  auto it = in_flight_.lower_bound(timeout_cursor_);
  if (it == in_flight_.end()) return;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(it->second.deadline - Clock::now());
  timeout_timer_->Arm(std::max(wait, std::chrono::milliseconds(1)));
}

void RedisClient::ScheduleDrop(const char* why) {
  drop_reason_ = why;
  drop_timer_->FireSoon();
}

void RedisClient::DropConnection(const char* why) {
  drop_timer_->Cancel();
  if (ctx_ == nullptr) return;
  redisAsyncContext* ac = ctx_;
  ctx_ = nullptr;
  state_ = State::kIdle;
  std::shared_ptr<bool> alive = alive_;
  redisAsyncFree(ac);  // answers every pending command "connection lost"
  if (!*alive) return;
  ConnectionLost(why);
}

void RedisClient::ConnectionLost(const char* why) {
  state_ = State::kIdle;
  connect_timer_->Cancel();
  if (!down_logged_) {
    LogEvent(LogLevel::kWarn, "redis_unavailable").Add("client", options_.log_name).Add("reason", why);
    down_logged_ = true;
  }
  ScheduleReconnect();
}

void RedisClient::ScheduleReconnect() {
  int64_t delay = options_.backoff_initial.count();
  for (int i = 0; i < attempt_ && delay < options_.backoff_max.count(); ++i) delay *= 2;
  delay = std::min<int64_t>(delay, options_.backoff_max.count());
  if (attempt_ < 32) ++attempt_;
  std::uniform_int_distribution<int64_t> jitter(delay / 2, delay);
  reconnect_timer_->Arm(std::chrono::milliseconds(std::max<int64_t>(1, jitter(rng_))));
}

}  // namespace imapgate::ratelimit
