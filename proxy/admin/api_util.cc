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

}  // namespace imapgate::admin::internal
