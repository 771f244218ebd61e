// Fuzz target for the admin API's input: the JSON reader, and AdminApi on arbitrary bodies and
// request targets.
//
// 1. ParseJson on the input must return a value or a "JSON: ..." error, never crash. A value is
//    written back with JsonWriter; the output must be valid UTF-8, parse again, and be the same
//    value (numbers compared as doubles).
// 2. The input as the body of an authorized POST .../drain and as the request target
//    (path?query) of a GET and an authorized POST must get a JSON answer with a status below 500.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "admin/admin_api.h"
#include "admin/json_reader.h"
#include "admin/json_writer.h"
#include "common/utf8.h"

namespace {

using imapgate::StatusOr;
using imapgate::admin::JsonValue;
using imapgate::admin::JsonWriter;

constexpr std::string_view kToken = "0123456789abcdef0123456789abcdef";

void Write(const JsonValue& v, JsonWriter& w) {
  switch (v.type()) {
    case JsonValue::Type::kNull:
      w.Null();
      break;
    case JsonValue::Type::kBool:
      w.Bool(v.bool_value());
      break;
    case JsonValue::Type::kNumber:
      if (v.integer().has_value()) {
        w.Int(*v.integer());
      } else {
        w.Double(v.number());
      }
      break;
    case JsonValue::Type::kString:
      w.String(v.string());
      break;
    case JsonValue::Type::kArray:
      w.BeginArray();
      for (const JsonValue& item : v.items()) Write(item, w);
      w.EndArray();
      break;
    case JsonValue::Type::kObject:
      w.BeginObject();
      for (const auto& m : v.members()) {
        w.Key(m.key);
        Write(m.value, w);
      }
      w.EndObject();
      break;
  }
}

bool Same(const JsonValue& a, const JsonValue& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case JsonValue::Type::kNull:
      return true;
    case JsonValue::Type::kBool:
      return a.bool_value() == b.bool_value();
    case JsonValue::Type::kNumber:
      return a.number() == b.number();
    case JsonValue::Type::kString:
      return a.string() == b.string();
    case JsonValue::Type::kArray:
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!Same(a.items()[i], b.items()[i])) return false;
      }
      return true;
    case JsonValue::Type::kObject:
      if (a.members().size() != b.members().size()) return false;
      for (size_t i = 0; i < a.members().size(); ++i) {
        if (a.members()[i].key != b.members()[i].key ||
            !Same(a.members()[i].value, b.members()[i].value)) {
          return false;
        }
      }
      return true;
  }
  return false;
}

// A control that knows one backend "a1" and answers everything else plainly.
class Control : public imapgate::admin::AdminControl {
 public:
  std::vector<imapgate::admin::BackendInfo> Backends() override { return {Backend()}; }
  std::vector<imapgate::admin::SessionInfo> Sessions(std::optional<std::string_view> user, size_t,
                                                     bool* truncated) override {
    *truncated = false;
    imapgate::admin::SessionInfo s;
    s.user = user.has_value() ? std::string(*user) : "u";
    return {s};
  }
  StatusOr<imapgate::admin::RouteInfo> Route(std::string_view user) override {
    return imapgate::admin::RouteInfo{std::string(user), "s", "a1", "hash", ""};
  }
  StatusOr<imapgate::admin::BackendInfo> Drain(std::string_view name,
                                               std::optional<std::chrono::seconds>) override {
    if (name != "a1") return imapgate::Status(imapgate::StatusCode::kNotFound, "unknown");
    return Backend();
  }
  StatusOr<imapgate::admin::BackendInfo> Undrain(std::string_view name) override {
    return Drain(name, std::nullopt);
  }
  StatusOr<uint64_t> Kick(std::string_view) override { return uint64_t{1}; }
  StatusOr<uint64_t> RevokeAppPassword(std::string_view, std::string_view name) override {
    if (name.empty()) return imapgate::Status(imapgate::StatusCode::kNotFound, "none");
    return uint64_t{1};
  }
  imapgate::Status Reload() override { return imapgate::Status::Ok(); }

 private:
  static imapgate::admin::BackendInfo Backend() {
    imapgate::admin::BackendInfo b;
    b.name = "a1";
    return b;
  }
};

void CheckAnswer(const imapgate::net::HttpResponse& r) {
  if (r.status >= 500 || r.status < 200) abort();
  if (r.content_type != imapgate::admin::AdminApi::kJsonContentType) abort();
  imapgate::admin::JsonLimits big;
  big.max_bytes = 1 << 20;
  big.max_depth = 4;
  big.max_string_bytes = 1024;  // error messages echo at most 64 bytes of client text
  big.max_items = 1024;
  if (!imapgate::admin::ParseJson(r.body, big).ok()) abort();
}

imapgate::net::HttpRequest Request(imapgate::net::HttpMethod method, std::string_view target,
                                   bool authorized) {
  imapgate::net::HttpRequest r;
  r.method = method;
  r.method_name = method == imapgate::net::HttpMethod::kPost ? "POST" : "GET";
  const size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  r.peer_is_loopback = true;
  if (authorized) {
    r.authorization = imapgate::SecretString("Bearer " + std::string(kToken));
    r.has_authorization = true;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto parsed = imapgate::admin::ParseJson(input);
  if (!parsed.ok()) {
    if (parsed.status().message().rfind("JSON: ", 0) != 0) abort();
  } else {
    JsonWriter w;
    Write(*parsed, w);
    if (!imapgate::IsValidUtf8(w.str())) abort();
    imapgate::admin::JsonLimits roomy;
    roomy.max_bytes = 1 << 20;  // escapes may lengthen the text, nothing else may change
    auto again = imapgate::admin::ParseJson(w.str(), roomy);
    if (!again.ok() || !Same(*parsed, *again)) abort();
  }

  static Control control;
  static const imapgate::admin::AdminApi* api = [] {
    auto token = imapgate::admin::AdminToken::FromString(kToken);
    if (!token.ok()) abort();
    return new imapgate::admin::AdminApi(&control, std::move(*token));
  }();
  imapgate::net::HttpRequest drain =
      Request(imapgate::net::HttpMethod::kPost, "/api/v1/backends/a1/drain", true);
  drain.body = std::string(input);
  CheckAnswer(api->Serve(drain));
  imapgate::net::HttpRequest revoke =
      Request(imapgate::net::HttpMethod::kPost, "/api/v1/users/carol/revoke-app-password", true);
  revoke.body = std::string(input);
  CheckAnswer(api->Serve(revoke));
  CheckAnswer(api->Serve(Request(imapgate::net::HttpMethod::kGet, input, false)));
  CheckAnswer(api->Serve(Request(imapgate::net::HttpMethod::kPost, input, true)));
  return 0;
}
