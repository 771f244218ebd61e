// Helpers shared by the admin API's handlers (admin_api.cc, abuse_api.cc, status_api.cc): JSON replies, the
// HTTP status of a Status, echoing client text, and the bounded request body. Pure.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "admin/admin_control.h"
#include "admin/json_reader.h"
#include "admin/json_writer.h"
#include "common/status.h"
#include "net/http_message.h"

namespace imapgate::admin::internal {

// 200 with the writer's JSON and a newline.
net::HttpResponse JsonOk(JsonWriter& w);
// kNotFound 404, kInvalidArgument 400, kUnavailable 503, anything else 500.
int HttpStatusOf(const Status& status);
// Client text as echoed in an error message: at most 64 bytes (the JSON writer escapes it).
std::string Shortened(std::string_view text);
// One backend as the API shows it: {name, shard, address, security, state, active_sessions,
// last_check:{ok,detail,at}|null}.
void WriteBackend(JsonWriter& w, const BackendInfo& b);
// The body as a JSON object (empty or blank body: {}), refusing members not in allowed.
StatusOr<JsonValue> BodyObject(const net::HttpRequest& request, std::initializer_list<std::string_view> allowed);

}  // namespace imapgate::admin::internal
