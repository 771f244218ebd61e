#include "ratelimit/redis_store.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/log.h"
#include "tls/crypto.h"

namespace imapgate::ratelimit {
namespace {

using Clock = std::chrono::steady_clock;

// now_ms(): Redis's clock. window(key, now, bucket_ms, buckets, fp): window.h's arithmetic on one
// hash (fields <slot> -> count, "r" -> the recent counted "fp:slot" list, oldest first); fp nil
// reads, else counts one event unless fp (non-"0") is among the recent ones still in the window.
constexpr std::string_view kLuaLib = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function window(key, now, bm, b, fp)
  local slot = math.floor(now / bm)
  local oldest = slot - b
  local h = redis.call('HGETALL', key)
  local total, mine, recent, stale = 0, 0, {}, {}
  for i = 1, #h, 2 do
    local f, v = h[i], h[i + 1]
    if f == 'r' then
      for p, s in string.gmatch(v, '(%d+):(%d+)') do
        if tonumber(s) > oldest then recent[#recent + 1] = {p, s} end
      end
    else
      local s = tonumber(f)
      if s ~= nil and s > oldest then
        local n = tonumber(v) or 0
        total = total + n
        if s == slot then mine = n end
      else
        stale[#stale + 1] = f
      end
    end
  end
  if fp == nil then return total end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  if fp ~= '0' then
    for _, e in ipairs(recent) do
      if e[1] == fp then return total end
    end
  end
  local field = string.format('%d', slot)
  if mine < 65535 then
    redis.call('HSET', key, field, mine + 1)
    total = total + 1
  end
  if fp ~= '0' then
    recent[#recent + 1] = {fp, field}
    local parts = {}
    for i = math.max(1, #recent - 7), #recent do parts[#parts + 1] = recent[i][1] .. ':' .. recent[i][2] end
    redis.call('HSET', key, 'r', table.concat(parts, ','))
  end
  redis.call('PEXPIRE', key, math.max(1, (slot + b) * bm - now))
  return total
end
)lua";

// KEYS: the windows address, subnet, user, user_address, global (ARGV[3]: the password
// fingerprint) and users tried (ARGV[4]: the user fingerprint). ARGV[1..2]: bucket ms, buckets.
constexpr std::string_view kRecord = R"lua(
local now = now_ms()
local bm, b = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, 5 do out[i] = window(KEYS[i], now, bm, b, ARGV[3]) end
out[6] = window(KEYS[6], now, bm, b, ARGV[4])
return out
)lua";

// KEYS: the six windows, the address block, the subnet block, the remembered pair.
// Returns the six counts, 0/1/2 (none, address, subnet blocked), 0/1 remembered.
constexpr std::string_view kCheck = R"lua(
local now = now_ms()
local bm, b = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, 6 do out[i] = window(KEYS[i], now, bm, b, nil) end
local blocked = 0
if redis.call('EXISTS', KEYS[7]) == 1 then blocked = 1 elseif redis.call('EXISTS', KEYS[8]) == 1 then blocked = 2 end
out[7] = blocked
out[8] = redis.call('EXISTS', KEYS[9])
return out
)lua";

// KEYS: ARGV[3] windows, then block keys in order of preference. Returns two counts, the first
// block's value (or "") and its PTTL.
constexpr std::string_view kReport = R"lua(
local now = now_ms()
local bm, b, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {0, 0, '', -1}
for i = 1, n do out[i] = window(KEYS[i], now, bm, b, nil) end
for i = n + 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    out[3] = v
    out[4] = redis.call('PTTL', KEYS[i])
    break
  end
end
return out
)lua";

// KEYS: the block key, the index. ARGV: duration ms, value, the index's bound.
constexpr std::string_view kBlock = R"lua(
local now = now_ms()
local d = tonumber(ARGV[1])
redis.call('SET', KEYS[1], ARGV[2], 'PX', d)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + d, KEYS[1])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if extra > 0 then redis.call('ZPOPMIN', KEYS[2], extra) end
return 1
)lua";

// KEYS: the block key, the index. Returns 1 if there was a block.
constexpr std::string_view kUnblock = R"lua(
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], KEYS[1])
return n
)lua";

// KEYS: the index. ARGV: limit. Returns value, pttl, value, pttl ... of the blocks in force.
constexpr std::string_view kList = R"lua(
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local members = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, k in ipairs(members) do
  local v = redis.call('GET', k)
  local t = redis.call('PTTL', k)
  if v and t > 0 then
    out[#out + 1] = v
    out[#out + 1] = t
  else
    redis.call('ZREM', KEYS[1], k)
  end
end
return out
)lua";

std::string ScriptText(int script) {
  static constexpr std::array<std::string_view, 6> kBodies = {kRecord, kCheck, kReport, kBlock, kUnblock, kList};
  std::string text(kLuaLib);
  text.append(kBodies[static_cast<size_t>(script)]);
  return text;
}

std::string HashHex(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto digest = tls::Sha256(text);
  std::string out;
  out.reserve(32);
  for (size_t i = 0; i < 16; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string PairText(std::string_view user, std::string_view address) {
  std::string text = std::to_string(user.size());
  text.append(":").append(user).append(address);
  return text;
}

uint32_t CountAt(const RedisReply& r, size_t i) {
  const int64_t v = r.elements[i].integer;
  return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, UINT32_MAX));
}

bool IntegerArray(const StatusOr<RedisReply>& r, size_t n) {
  if (!r.ok() || r->type != RedisReply::Type::kArray || r->elements.size() != n) return false;
  for (const RedisReply& e : r->elements) {
    if (e.type != RedisReply::Type::kInteger) return false;
  }
  return true;
}

bool IsString(const StatusOr<RedisReply>& r) { return r.ok() && r->type == RedisReply::Type::kString; }

bool ValidPrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > 64) return false;
  for (char c : prefix) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

StatusOr<std::unique_ptr<RedisStore>> RedisStore::Create(net::EventLoop* loop, const Policy& policy,
                                                         RedisStoreOptions options, const TimeSource* time) {
  if (time == nullptr) return InvalidArgument("redis store: no time source");
  if (!ValidPrefix(options.prefix)) return InvalidArgument("redis store: the prefix must be 1..64 printable bytes");
  if (policy.window.buckets < 1 || policy.window.buckets > SlidingWindow::kMaxBuckets ||
      policy.window.length.count() < 1) {
    return InvalidArgument("redis store: bad window shape");
  }
  if (options.max_mirror_blocks < 1 || options.max_indexed_blocks < 1) {
    return InvalidArgument("redis store: block bounds must be at least 1");
  }
  if (options.instance_id.empty()) {
    std::array<uint8_t, 8> random{};
    tls::RandomBytes(random);
    static constexpr char kHex[] = "0123456789abcdef";
    for (uint8_t b : random) {
      options.instance_id.push_back(kHex[b >> 4]);
      options.instance_id.push_back(kHex[b & 0xf]);
    }
  }
  std::unique_ptr<RedisStore> store(new RedisStore(loop, policy, options, time));
  RedisStore* self = store.get();
  auto client = RedisClient::Create(loop, options.redis);
  if (!client.ok()) return client.status();
  store->client_ = std::move(*client);
  auto bus = FleetBus::Create(loop, store->client_.get(), options.redis, options.prefix + "events",
                              options.instance_id, [self](const FleetEvent& e) { self->OnFleetEvent(e); });
  if (!bus.ok()) return bus.status();
  store->bus_ = std::move(*bus);
  store->client_->SetOnConnect([self] {
    self->LoadScripts();
    self->ReloadMirror();
  });
  store->bus_->SetOnSubscribed([self] { self->ReloadMirror(); });
  return store;
}

RedisStore::RedisStore(net::EventLoop* loop, const Policy& policy, RedisStoreOptions options, const TimeSource* time)
    : time_(time),
      bucket_ms_(std::max<int64_t>(1, policy.window.length.count() / policy.window.buckets)),
      buckets_(policy.window.buckets),
      remember_for_(std::max(policy.remember_for, std::chrono::milliseconds(1))),
      options_(std::move(options)) {}

// bus_ (which borrows client_) goes first: members are destroyed in reverse order.
RedisStore::~RedisStore() = default;

std::string RedisStore::WindowKey(std::string_view kind, std::string_view text) const {
  std::string key = options_.prefix;
  key.append("w:").append(kind);
  if (kind != "g") key.append(":").append(HashHex(text));
  return key;
}

std::string RedisStore::BlockKey(BlockScope scope, std::string_view key) const {
  std::string name = options_.prefix;
  name.append(scope == BlockScope::kSubnet ? "b:s:" : "b:a:").append(HashHex(key));
  return name;
}

std::string RedisStore::RememberKey(std::string_view user, std::string_view address) const {
  return options_.prefix + "r:" + HashHex(PairText(user, address));
}

void RedisStore::SetLatencyHook(std::function<void(double, bool)> hook) {
  client_->SetLatencyHook(std::move(hook));
}

void RedisStore::LoadScripts() {
  for (int i = 0; i < kScriptCount; ++i) {
    client_->Command({"SCRIPT", "LOAD", ScriptText(i)}, [this, i](StatusOr<RedisReply> r) {
      if (IsString(r)) shas_[i] = r->str;
    });
  }
}

void RedisStore::RunScript(Script script, std::vector<std::string> keys, std::vector<std::string> args,
                           RedisClient::Callback done) {
  std::vector<std::string> tail;
  tail.reserve(1 + keys.size() + args.size());
  tail.push_back(std::to_string(keys.size()));
  for (std::string& k : keys) tail.push_back(std::move(k));
  for (std::string& a : args) tail.push_back(std::move(a));
  if (shas_[script].empty()) {
    std::vector<std::string> argv = {"EVAL", ScriptText(script)};
    argv.insert(argv.end(), tail.begin(), tail.end());
    client_->Command(std::move(argv), std::move(done));
    return;
  }
  std::vector<std::string> argv = {"EVALSHA", shas_[script]};
  argv.insert(argv.end(), tail.begin(), tail.end());
  client_->Command(std::move(argv), [this, script, tail = std::move(tail), done = std::move(done)](
                                        StatusOr<RedisReply> r) mutable {
    if (r.ok() && r->is_error() && r->str.rfind("NOSCRIPT", 0) == 0) {
      shas_[script].clear();  // flushed or restarted: EVAL caches it again
      std::vector<std::string> argv = {"EVAL", ScriptText(script)};
      argv.insert(argv.end(), tail.begin(), tail.end());
      client_->Command(std::move(argv), std::move(done));
      return;
    }
    done(std::move(r));
  });
}

void RedisStore::Check(const LoginKeys& keys, std::function<void(PreLoginAnswer)> done) {
  RunScript(kCheck,
            {WindowKey("a", keys.address), WindowKey("s", keys.subnet), WindowKey("u", keys.user),
             WindowKey("ua", PairText(keys.user, keys.address)), WindowKey("g", ""), WindowKey("ut", keys.address),
             BlockKey(BlockScope::kAddress, keys.address), BlockKey(BlockScope::kSubnet, keys.subnet),
             RememberKey(keys.user, keys.address)},
            {std::to_string(bucket_ms_), std::to_string(buckets_)},
            [done = std::move(done)](StatusOr<RedisReply> r) {
              PreLoginAnswer answer;
              if (!IntegerArray(r, 8)) {
                answer.ok = false;
                done(answer);
                return;
              }
              LoginCounts& c = answer.facts.counts;
              c.address = CountAt(*r, 0);
              c.subnet = CountAt(*r, 1);
              c.user = CountAt(*r, 2);
              c.user_address = CountAt(*r, 3);
              c.global = CountAt(*r, 4);
              c.users_tried = CountAt(*r, 5);
              const int64_t blocked = r->elements[6].integer;
              if (blocked == 1) answer.facts.blocked = BlockScope::kAddress;
              if (blocked == 2) answer.facts.blocked = BlockScope::kSubnet;
              answer.facts.remembered = r->elements[7].integer == 1;
              done(answer);
            });
}

void RedisStore::RecordFailure(const LoginKeys& keys, const FailureEvent& event,
                               std::function<void(FailureAnswer)> done) {
  RunScript(kRecord,
            {WindowKey("a", keys.address), WindowKey("s", keys.subnet), WindowKey("u", keys.user),
             WindowKey("ua", PairText(keys.user, keys.address)), WindowKey("g", ""), WindowKey("ut", keys.address)},
            {std::to_string(bucket_ms_), std::to_string(buckets_), std::to_string(event.password_fingerprint),
             std::to_string(event.user_fingerprint)},
            [done = std::move(done)](StatusOr<RedisReply> r) {
              FailureAnswer answer;
              if (!IntegerArray(r, 6)) {
                answer.ok = false;
                done(answer);
                return;
              }
              LoginCounts& c = answer.counts;
              c.address = CountAt(*r, 0);
              c.subnet = CountAt(*r, 1);
              c.user = CountAt(*r, 2);
              c.user_address = CountAt(*r, 3);
              c.global = CountAt(*r, 4);
              c.users_tried = CountAt(*r, 5);
              done(answer);
            });
}

void RedisStore::RecordSuccess(const LoginKeys& keys) {
  client_->Command({"SET", RememberKey(keys.user, keys.address), "1", "PX", std::to_string(remember_for_.count())},
                   [](StatusOr<RedisReply>) {});
}

void RedisStore::Block(BlockScope scope, const std::string& key, BlockCause cause,
                       std::chrono::milliseconds duration) {
  duration = std::min(duration, std::chrono::milliseconds(kMaxFleetBlockMs));
  std::optional<std::string> value = EncodeBlockValue(scope, cause, key);
  if (!value.has_value() || duration.count() < 1) return;
  MirrorBlock(scope, key, duration);
  RunScript(kBlock, {BlockKey(scope, key), options_.prefix + "blocks"},
            {std::to_string(duration.count()), std::move(*value), std::to_string(options_.max_indexed_blocks)},
            [](StatusOr<RedisReply>) {});
  FleetEvent event;
  event.kind = FleetEventKind::kBlock;
  event.scope = scope;
  event.key = key;
  event.cause = cause;
  event.duration = duration;
  bus_->Publish(std::move(event));
}

void RedisStore::Unblock(BlockScope scope, const std::string& key, std::function<void(bool)> done) {
  mirror_.erase(MirrorKey(scope, key));
  RunScript(kUnblock, {BlockKey(scope, key), options_.prefix + "blocks"}, {},
            [done = std::move(done)](StatusOr<RedisReply> r) {
              done(r.ok() && r->type == RedisReply::Type::kInteger && r->integer == 1);
            });
  if (key.empty() || key.size() > kMaxFleetKeyBytes) return;
  FleetEvent event;
  event.kind = FleetEventKind::kUnblock;
  event.scope = scope;
  event.key = key;
  bus_->Publish(std::move(event));
}

namespace {

// Parses kList's reply: value, pttl pairs.
bool ParseBlockList(const StatusOr<RedisReply>& r, std::vector<BlockEntry>* out) {
  if (!r.ok() || r->type != RedisReply::Type::kArray || r->elements.size() % 2 != 0) return false;
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    const RedisReply& value = r->elements[i];
    const RedisReply& pttl = r->elements[i + 1];
    BlockEntry entry;
    if (value.type != RedisReply::Type::kString || pttl.type != RedisReply::Type::kInteger ||
        !DecodeBlockValue(value.str, &entry.scope, &entry.cause, &entry.key)) {
      continue;  // not ours: skipped
    }
    entry.remaining = std::chrono::milliseconds(pttl.integer);
    out->push_back(std::move(entry));
  }
  return true;
}

}  // namespace

void RedisStore::ListBlocks(size_t limit, std::function<void(bool, std::vector<BlockEntry>)> done) {
  limit = std::min(limit, options_.max_list_limit);
  if (limit == 0) {
    done(true, {});
    return;
  }
  RunScript(kList, {options_.prefix + "blocks"}, {std::to_string(limit)},
            [done = std::move(done)](StatusOr<RedisReply> r) {
              std::vector<BlockEntry> entries;
              const bool ok = ParseBlockList(r, &entries);
              done(ok, std::move(entries));
            });
}

void RedisStore::ReloadMirror() {
  if (!client_->connected()) return;
  const uint64_t generation = ++reload_generation_;
  RunScript(kList, {options_.prefix + "blocks"}, {std::to_string(options_.max_mirror_blocks)},
            [this, generation](StatusOr<RedisReply> r) {
              std::vector<BlockEntry> entries;
              if (!ParseBlockList(r, &entries)) return;
              // Entries mirrored before this reload was asked and absent from Redis were lifted or
              // expired meanwhile; those mirrored since (bus events) stay.
              for (auto it = mirror_.begin(); it != mirror_.end();) {
                if (it->second.generation < generation) {
                  it = mirror_.erase(it);
                } else {
                  ++it;
                }
              }
              for (const BlockEntry& e : entries) MirrorBlock(e.scope, e.key, e.remaining);
            });
}

void RedisStore::MirrorBlock(BlockScope scope, const std::string& key, std::chrono::milliseconds remaining) {
  const Clock::time_point now = time_->MonotonicNow();
  MirrorKey mk(scope, key);
  auto it = mirror_.find(mk);
  if (it == mirror_.end() && mirror_.size() >= options_.max_mirror_blocks) {
    for (auto e = mirror_.begin(); e != mirror_.end();) {
      e = e->second.expiry <= now ? mirror_.erase(e) : std::next(e);
    }
    if (mirror_.size() >= options_.max_mirror_blocks) {
      auto first = std::min_element(mirror_.begin(), mirror_.end(), [](const auto& a, const auto& b) {
        return a.second.expiry < b.second.expiry;
      });
      mirror_.erase(first);
    }
  }
  mirror_[std::move(mk)] = MirrorEntry{now + remaining, reload_generation_};
}

std::optional<BlockScope> RedisStore::BlockedNow(const std::string& address, const std::string& subnet) {
  const Clock::time_point now = time_->MonotonicNow();
  for (const auto& [scope, text] : {MirrorKey(BlockScope::kAddress, address), MirrorKey(BlockScope::kSubnet, subnet)}) {
    auto it = mirror_.find(MirrorKey(scope, text));
    if (it == mirror_.end()) continue;
    if (it->second.expiry > now) return scope;
    mirror_.erase(it);
  }
  return std::nullopt;
}

void RedisStore::OnFleetEvent(const FleetEvent& event) {
  if (event.kind == FleetEventKind::kBlock) MirrorBlock(event.scope, event.key, event.duration);
  if (event.kind == FleetEventKind::kUnblock) mirror_.erase(MirrorKey(event.scope, event.key));
  if (fleet_handler_) fleet_handler_(event);
}

void RedisStore::Report(std::vector<std::string> keys, int windows, std::string text,
                        std::function<void(bool, KeyReport)> done) {
  RunScript(kReport, std::move(keys), {std::to_string(bucket_ms_), std::to_string(buckets_), std::to_string(windows)},
            [text = std::move(text), done = std::move(done)](StatusOr<RedisReply> r) {
              KeyReport report;
              report.key = text;
              if (!r.ok() || r->type != RedisReply::Type::kArray || r->elements.size() != 4 ||
                  r->elements[0].type != RedisReply::Type::kInteger ||
                  r->elements[1].type != RedisReply::Type::kInteger ||
                  r->elements[3].type != RedisReply::Type::kInteger) {
                done(false, std::move(report));
                return;
              }
              report.failures = CountAt(*r, 0);
              report.users_tried = CountAt(*r, 1);
              const RedisReply& value = r->elements[2];
              BlockEntry entry;
              if (value.type == RedisReply::Type::kString && !value.str.empty() &&
                  DecodeBlockValue(value.str, &entry.scope, &entry.cause, &entry.key) && r->elements[3].integer > 0) {
                entry.remaining = std::chrono::milliseconds(r->elements[3].integer);
                report.block = std::move(entry);
              }
              done(true, std::move(report));
            });
}

void RedisStore::ReportAddress(const LoginKeys& keys, std::function<void(bool, KeyReport)> done) {
  Report({WindowKey("a", keys.address), WindowKey("ut", keys.address), BlockKey(BlockScope::kAddress, keys.address),
          BlockKey(BlockScope::kSubnet, keys.subnet)},
         2, keys.address, std::move(done));
}

void RedisStore::ReportUser(const std::string& user, std::function<void(bool, KeyReport)> done) {
  Report({WindowKey("u", user)}, 1, user, std::move(done));
}

size_t RedisStore::mirror_count(BlockScope scope) const {
  size_t n = 0;
  for (const auto& [key, entry] : mirror_) n += key.first == scope ? 1 : 0;
  return n;
}

}  // namespace imapgate::ratelimit
