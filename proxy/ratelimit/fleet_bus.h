// FleetBus: the fleet's events (block, unblock, kick, move; fleet_event.h) over Redis pub/sub on
// one channel (`<prefix>events`).
//
// It owns a subscriber RedisClient (a dedicated connection, re-subscribed after each reconnect)
// and publishes through a command RedisClient it borrows (the RedisStore's), which outlives it.
// Every event carries the sender's instance id; events whose id is this bus's own are dropped on
// receipt: the sender applies its own events locally when it publishes them (RedisStore::Block
// blocks in its own mirror at once; whoever publishes a kick or a move ends or moves its own
// sessions itself), so they take effect there even while Redis is down. Malformed lines are
// counted and dropped; lines of an unknown kind or version are ignored. Publishing is
// fire-and-forget: while Redis is down an event is lost (the stores reload the blocks on
// reconnect; a kick or move is not replayed).
//
// Thread: the loop's thread only. Handlers run on it and are never called after destruction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/event_loop.h"
#include "ratelimit/fleet_event.h"
#include "ratelimit/redis_client.h"

namespace imapgate::ratelimit {

class FleetBus {
 public:
  using Handler = std::function<void(const FleetEvent&)>;

  // `publisher` (a command client) outlives the bus; `subscriber_options` configures the bus's
  // own connection; `instance_id` matches [A-Za-z0-9._-]{1,64}.
  static StatusOr<std::unique_ptr<FleetBus>> Create(net::EventLoop* loop, RedisClient* publisher,
                                                    RedisClientOptions subscriber_options,
                                                    std::string channel, std::string instance_id,
                                                    Handler on_event);
  FleetBus(const FleetBus&) = delete;
  FleetBus& operator=(const FleetBus&) = delete;

  // Publishes `event` with this bus's instance id; false if it does not encode (a field out of
  // bounds) or the publisher refused it at once (not connected, overloaded).
  bool Publish(FleetEvent event);

  // Runs after each (re)subscription, so the owner can reload state it may have missed.
  void SetOnSubscribed(std::function<void()> hook) { on_subscribed_ = std::move(hook); }

  const std::string& instance_id() const { return instance_id_; }
  const std::string& channel() const { return channel_; }
  bool subscribed() const { return subscriber_->connected(); }
  uint64_t received() const { return received_; }  // events handed to the handler
  uint64_t malformed() const { return malformed_; }

 private:
  FleetBus(RedisClient* publisher, std::string channel, std::string instance_id, Handler on_event);
  void OnMessage(std::string_view payload);

  RedisClient* publisher_;
  std::unique_ptr<RedisClient> subscriber_;
  std::string channel_;
  std::string instance_id_;
  Handler on_event_;
  std::function<void()> on_subscribed_;
  uint64_t received_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace imapgate::ratelimit
