#include "admin/api_util.h"

#include <utility>

#include "admin/admin_api.h"

namespace imapgate::admin::internal {

net::HttpResponse JsonOk(JsonWriter& w) {
  return net::HttpResponse(200, AdminApi::kJsonContentType, w.Take() + "\n");
}

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string Shortened(std::string_view text) {
  constexpr size_t kMaxEcho = 64;
  if (text.size() <= kMaxEcho) return std::string(text);
  return std::string(text.substr(0, kMaxEcho)) + "...";
}

StatusOr<JsonValue> BodyObject(const net::HttpRequest& request,
                               std::initializer_list<std::string_view> allowed) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return JsonValue::Object({});
  }
  auto json = ParseJson(request.body);
  if (!json.ok()) return json.status();
  if (!json->is_object()) return InvalidArgument("the request body must be a JSON object");
  for (const JsonMember& m : json->members()) {
    bool known = false;
    for (std::string_view a : allowed) known |= m.key == a;
    if (!known) {
      return InvalidArgument("unknown member \"" + Shortened(m.key) + "\" in the request body");
    }
  }
  return std::move(*json);
}

void WriteBackend(JsonWriter& w, const BackendInfo& b) {
  w.BeginObject();
  w.Key("name").String(b.name);
  w.Key("shard").String(b.shard);
  w.Key("address").String(b.address);
  w.Key("security").String(b.security);
  w.Key("state").String(BackendStateName(b.state));
  w.Key("active_sessions").Uint(b.active_sessions);
  w.Key("last_check");
  if (b.last_check.has_value()) {
    w.BeginObject();
    w.Key("ok").Bool(b.last_check->ok);
    w.Key("detail").String(b.last_check->detail);
    w.Key("at").Int(b.last_check->at_unix_seconds);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
}


}  // namespace imapgate::admin::internal
