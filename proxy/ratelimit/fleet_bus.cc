#include "ratelimit/fleet_bus.h"

#include <utility>

#include "common/log.h"

namespace imapgate::ratelimit {

StatusOr<std::unique_ptr<FleetBus>> FleetBus::Create(net::EventLoop* loop, RedisClient* publisher,
                                                     RedisClientOptions subscriber_options,
                                                     std::string channel, std::string instance_id,
                                                     Handler on_event) {
  if (publisher == nullptr) return InvalidArgument("fleet bus: no publisher");
  if (!ValidFleetInstanceId(instance_id)) return InvalidArgument("fleet bus: bad instance id");
  if (channel.empty()) return InvalidArgument("fleet bus: empty channel");
  std::unique_ptr<FleetBus> bus(new FleetBus(publisher, std::move(channel), std::move(instance_id), std::move(on_event)));
  subscriber_options.log_name += "-bus";
  auto sub = RedisClient::Create(loop, std::move(subscriber_options));
  if (!sub.ok()) return sub.status();
  bus->subscriber_ = std::move(*sub);
  FleetBus* self = bus.get();
  Status s = bus->subscriber_->Subscribe(bus->channel_, [self](std::string_view, std::string_view payload) {
    self->OnMessage(payload);
  });
  if (!s.ok()) return s;
  bus->subscriber_->SetOnConnect([self] {
    if (self->on_subscribed_) self->on_subscribed_();
  });
  return bus;
}

FleetBus::FleetBus(RedisClient* publisher, std::string channel, std::string instance_id, Handler on_event)
    : publisher_(publisher),
      channel_(std::move(channel)),
      instance_id_(std::move(instance_id)),
      on_event_(std::move(on_event)) {}

bool FleetBus::Publish(FleetEvent event) {
  event.instance = instance_id_;
  std::optional<std::string> line = EncodeFleetEvent(event);
  if (!line.has_value()) return false;
  // 0: inside Command(); 1: Command() returned; 2: refused inside Command().
  auto state = std::make_shared<int>(0);
  publisher_->Command({"PUBLISH", channel_, std::move(*line)}, [state](StatusOr<RedisReply> r) {
    if (*state == 0 && !r.ok()) *state = 2;
  });
  const bool refused = *state == 2;
  *state = 1;
  return !refused;
}

void FleetBus::OnMessage(std::string_view payload) {
  FleetEvent event;
  switch (DecodeFleetEvent(payload, &event)) {
    case FleetDecode::kOk:
      break;
    case FleetDecode::kIgnored:
      return;
    case FleetDecode::kInvalid:
      ++malformed_;
      LogEvent(LogLevel::kDebug, "fleet_event_malformed").Add("bytes", static_cast<uint64_t>(payload.size()));
      return;
  }
  if (event.instance == instance_id_) return;  // our own: applied when sent
  ++received_;
  if (on_event_) on_event_(event);
}

}  // namespace imapgate::ratelimit
