// AdminApi's handlers for issue C's abuse defence: list and lift blocks, show an address's or a
// user's counters. Keys come in the query or the body (an IPv6 address or a CIDR subnet is not a
// path segment); each is bounded and checked before it reaches AdminControl.

#include <optional>
#include <string>
#include <utility>

#include "admin/admin_api.h"
#include "admin/api_util.h"

namespace imapgate::admin {
namespace {

using internal::BodyObject;
using internal::HttpStatusOf;
using internal::JsonOk;
using internal::Shortened;
using net::HttpRequest;
using net::HttpResponse;

constexpr size_t kMaxBlocksListed = 10000;
constexpr size_t kMaxKeyBytes = 128;

// An address or CIDR text: 1..128 bytes of hex digits, '.', ':' and '/' (what the defence lists).
bool ValidAbuseKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  for (char c : key) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
                    c == ':' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// The one query parameter `name` (required); 400 on anything else.
StatusOr<std::string> OneParam(const HttpRequest& request, std::string_view name) {
  auto params = net::ParseQuery(request.query);
  if (!params.ok()) return InvalidArgument("bad query string: " + params.status().message());
  std::optional<std::string> value;
  for (auto& [key, v] : *params) {
    if (key != name) return InvalidArgument("unknown query parameter \"" + Shortened(key) + "\"");
    if (value.has_value()) return InvalidArgument("query parameter \"" + std::string(name) + "\" given twice");
    value = std::move(v);
  }
  if (!value) return InvalidArgument("missing query parameter \"" + std::string(name) + "\"");
  return std::move(*value);
}

void WriteBlock(JsonWriter& w, const AbuseBlockInfo& b) {
  w.BeginObject();
  w.Key("scope").String(b.scope);
  w.Key("key").String(b.key);
  w.Key("cause").String(b.cause);
  w.Key("remaining_seconds").Int(b.remaining_seconds);
  w.EndObject();
}

HttpResponse CountersReply(const StatusOr<AbuseCountersInfo>& info, bool address) {
  if (!info.ok()) return JsonError(HttpStatusOf(info.status()), info.status().message());
  JsonWriter w;
  w.BeginObject();
  w.Key(address ? "address" : "user").String(info->key);
  w.Key("failures").Uint(info->failures);
  if (address) w.Key("users_tried").Uint(info->users_tried);
  w.Key("block");
  if (info->block) {
    WriteBlock(w, *info->block);
  } else {
    w.Null();
  }
  w.EndObject();
  return JsonOk(w);
}

}  // namespace

HttpResponse AdminApi::ListAbuseBlocks(const HttpRequest& request) const {
  if (!request.query.empty()) return JsonError(400, "this endpoint takes no query parameters");
  bool truncated = false;
  auto blocks = control_->AbuseBlocks(kMaxBlocksListed, &truncated);
  if (!blocks.ok()) return JsonError(HttpStatusOf(blocks.status()), blocks.status().message());
  if (blocks->size() > kMaxBlocksListed) {
    blocks->resize(kMaxBlocksListed);
    truncated = true;
  }
  JsonWriter w;
  w.BeginObject().Key("blocks").BeginArray();
  for (const AbuseBlockInfo& b : *blocks) WriteBlock(w, b);
  w.EndArray().Key("truncated").Bool(truncated).EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::AbuseUnblock(const HttpRequest& request) const {
  auto body = BodyObject(request, {"key"});
  if (!body.ok()) return JsonError(400, body.status().message());
  const JsonValue* key = body->Find("key");
  if (key == nullptr || key->type() != JsonValue::Type::kString || !ValidAbuseKey(key->string())) {
    return JsonError(400, "key must be a blocked address or subnet as listed (e.g. \"192.0.2.7\" or \"192.0.2.0/24\")");
  }
  auto lifted = control_->AbuseUnblock(key->string());
  if (!lifted.ok()) return JsonError(HttpStatusOf(lifted.status()), lifted.status().message());
  JsonWriter w;
  w.BeginObject().Key("key").String(key->string()).Key("lifted").Bool(*lifted).EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::ShowAbuseAddress(const HttpRequest& request) const {
  auto address = OneParam(request, "address");
  if (!address.ok()) return JsonError(400, address.status().message());
  if (!ValidAbuseKey(*address) || address->find('/') != std::string::npos) {
    return JsonError(400, "address must be an IPv4 or IPv6 address");
  }
  return CountersReply(control_->AbuseAddress(*address), true);
}

HttpResponse AdminApi::ShowAbuseUser(const HttpRequest& request) const {
  auto user = OneParam(request, "user");
  if (!user.ok()) return JsonError(400, user.status().message());
  if (!net::IsValidRouteName(*user)) {
    return JsonError(400, "invalid user (1-" + std::to_string(net::kMaxRouteNameBytes) +
                              " characters of A-Z a-z 0-9 . _ @ + -)");
  }
  return CountersReply(control_->AbuseUser(*user), false);
}

}  // namespace imapgate::admin
