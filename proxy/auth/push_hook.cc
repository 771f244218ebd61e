#include "auth/push_hook.h"

#include "admin/json_reader.h"
#include "admin/json_writer.h"

namespace imapgate::auth {

constexpr size_t kMaxAnswerBytes = 4096;
constexpr size_t kMaxTransactionBytes = 256;

std::string BuildPushRequestBody(const PushQuery& query) {
  admin::JsonWriter w;
  w.BeginObject();
  w.Key("user").String(query.user);
  w.Key("session_id").String(query.session_id);
  w.Key("client_ip").String(query.client_ip);
  w.Key("client_port").Uint(query.client_port);
  w.Key("tls_version").String(query.tls_version);
  w.Key("sni").String(query.sni);
  w.Key("mechanism").String(query.mechanism);
  w.Key("attempt").Int(query.attempt);
  w.Key("client_id").BeginObject();
  for (const auto& [key, value] : query.client_id) w.Key(key).String(value);
  w.EndObject();
  if (!query.transaction.empty()) w.Key("transaction").String(query.transaction);
  w.EndObject();
  return w.Take();
}

StatusOr<PushAnswer> ParsePushAnswer(int http_status, std::string_view body) {
  if (http_status != 200) return Status(StatusCode::kUnavailable, "push hook answered HTTP " + std::to_string(http_status));
  if (body.size() > kMaxAnswerBytes) return Status(StatusCode::kUnavailable, "push hook answer too large");
  admin::JsonLimits limits;
  limits.max_bytes = kMaxAnswerBytes;
  limits.max_depth = 2;
  limits.max_string_bytes = kMaxTransactionBytes;
  StatusOr<admin::JsonValue> json = admin::ParseJson(body, limits);
  if (!json.ok()) return Status(StatusCode::kUnavailable, "push hook answer: " + json.status().message());
  if (!json->is_object()) return Status(StatusCode::kUnavailable, "push hook answer is not a JSON object");
  const admin::JsonValue* result = json->Find("result");
  if (result == nullptr || result->type() != admin::JsonValue::Type::kString)
    return Status(StatusCode::kUnavailable, "push hook answer has no \"result\" string");
  PushAnswer answer;
  const std::string& r = result->string();
  if (r == "allow") {
    answer.result = PushAnswer::Result::kAllow;
  } else if (r == "deny") {
    answer.result = PushAnswer::Result::kDeny;
  } else if (r == "pending") {
    answer.result = PushAnswer::Result::kPending;
  } else {
    return Status(StatusCode::kUnavailable, "push hook answer has an unknown result");
  }
  if (const admin::JsonValue* t = json->Find("transaction")) {
    if (t->type() != admin::JsonValue::Type::kString)
      return Status(StatusCode::kUnavailable, "push hook answer's transaction is not a string");
    answer.transaction = t->string();
  }
  return answer;
}

}  // namespace imapgate::auth
