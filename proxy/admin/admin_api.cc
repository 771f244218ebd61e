// AdminApi: access rule, routes and JSON bodies of the admin API.

#include "admin/admin_api.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "admin/api_util.h"
#include "admin/json_reader.h"
#include "admin/json_writer.h"

namespace imapgate::admin {
namespace {

using internal::BodyObject;
using internal::HttpStatusOf;
using internal::JsonOk;
using internal::Shortened;
using internal::WriteBackend;
using net::HttpMethod;
using net::HttpRequest;
using net::HttpResponse;

HttpResponse Unauthorized(std::string_view message) {
  HttpResponse r = JsonError(401, message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// The query's only allowed parameter "user" when present; 400 on anything else.
StatusOr<std::optional<std::string>> UserParam(const HttpRequest& request) {
  auto params = net::ParseQuery(request.query);
  if (!params.ok()) return InvalidArgument("bad query string: " + params.status().message());
  std::optional<std::string> user;
  for (auto& [name, value] : *params) {
    if (name != "user") {
      return InvalidArgument("unknown query parameter \"" + Shortened(name) + "\"");
    }
    if (user.has_value()) return InvalidArgument("query parameter \"user\" given twice");
    if (!net::IsValidRouteName(value)) {
      return InvalidArgument("invalid user (1-" + std::to_string(net::kMaxRouteNameBytes) +
                             " characters of A-Z a-z 0-9 . _ @ + -)");
    }
    user = std::move(value);
  }
  return user;
}

HttpResponse BackendReply(const StatusOr<BackendInfo>& info) {
  if (!info.ok()) return JsonError(HttpStatusOf(info.status()), info.status().message());
  JsonWriter w;
  w.BeginObject().Key("backend");
  WriteBackend(w, info.value());
  w.EndObject();
  return JsonOk(w);
}

}  // namespace

std::string_view BackendStateName(BackendState state) {
  switch (state) {
    case BackendState::kUp:
      return "up";
    case BackendState::kDown:
      return "down";
    case BackendState::kDraining:
      return "draining";
  }
  return "unknown";
}

HttpResponse JsonError(int status, std::string_view message) {
  JsonWriter w;
  w.BeginObject().Key("error").String(message).EndObject();
  return HttpResponse(status, AdminApi::kJsonContentType, w.Take() + "\n");
}

AdminApi::AdminApi(AdminControl* control, AdminToken token)
    : control_(control), token_(std::move(token)), router_(&JsonError) {
  auto get = [this](HttpResponse (AdminApi::*fn)(const HttpRequest&) const) {
    return [this, fn](const HttpRequest& r, std::string_view) { return (this->*fn)(r); };
  };
  auto named = [this](HttpResponse (AdminApi::*fn)(const HttpRequest&, std::string_view) const) {
    return [this, fn](const HttpRequest& r, std::string_view name) {
      return (this->*fn)(r, name);
    };
  };
  router_.Add(HttpMethod::kGet, "/api/v1/backends", get(&AdminApi::ListBackends));
  router_.Add(HttpMethod::kGet, "/api/v1/sessions", get(&AdminApi::ListSessions));
  router_.Add(HttpMethod::kGet, "/api/v1/route", get(&AdminApi::ShowRoute));
  router_.Add(HttpMethod::kPost, "/api/v1/backends/{}/drain", named(&AdminApi::Drain));
  router_.Add(HttpMethod::kPost, "/api/v1/backends/{}/undrain", named(&AdminApi::Undrain));
  router_.Add(HttpMethod::kPost, "/api/v1/users/{}/kick", named(&AdminApi::Kick));
  router_.Add(HttpMethod::kPost, "/api/v1/users/{}/move", named(&AdminApi::MoveUser));
  router_.Add(HttpMethod::kPost, "/api/v1/users/{}/revoke-app-password", named(&AdminApi::RevokeAppPassword));
  router_.Add(HttpMethod::kPost, "/api/v1/reload", get(&AdminApi::Reload));
  router_.Add(HttpMethod::kGet, "/api/v1/status", get(&AdminApi::ShowStatus));
  router_.Add(HttpMethod::kGet, "/api/v1/abuse/blocks", get(&AdminApi::ListAbuseBlocks));
  router_.Add(HttpMethod::kPost, "/api/v1/abuse/unblock", get(&AdminApi::AbuseUnblock));
  router_.Add(HttpMethod::kGet, "/api/v1/abuse/address", get(&AdminApi::ShowAbuseAddress));
  router_.Add(HttpMethod::kGet, "/api/v1/abuse/user", get(&AdminApi::ShowAbuseUser));
}

HttpResponse AdminApi::Serve(const HttpRequest& request) const {
  const bool read = request.method == HttpMethod::kGet || request.method == HttpMethod::kHead;
  if (request.has_authorization) {
    // A token sent is always checked, even where none is needed.
    if (!token_.configured()) return Unauthorized("no admin token is configured");
    const std::string_view presented = BearerToken(request.authorization.view());
    if (presented.empty()) return Unauthorized("Authorization must be \"Bearer <token>\"");
    if (!token_.Matches(presented)) return Unauthorized("invalid token");
  } else if (!read) {
    return Unauthorized(token_.configured() ? "changes need Authorization: Bearer <token>"
                                            : "no admin token is configured");
  } else if (!request.peer_is_loopback) {
    return Unauthorized("reads from a non-loopback address need Authorization: Bearer <token>");
  }
  if (control_ == nullptr) return JsonError(503, "admin control is not available");
  return router_.Route(request);
}

HttpResponse AdminApi::ListBackends(const HttpRequest& request) const {
  if (!request.query.empty()) return JsonError(400, "this endpoint takes no query parameters");
  JsonWriter w;
  w.BeginObject().Key("backends").BeginArray();
  for (const BackendInfo& b : control_->Backends()) WriteBackend(w, b);
  w.EndArray().EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::ListSessions(const HttpRequest& request) const {
  auto user = UserParam(request);
  if (!user.ok()) return JsonError(400, user.status().message());
  bool truncated = false;
  std::optional<std::string_view> filter;
  if (user->has_value()) filter = **user;
  std::vector<SessionInfo> sessions = control_->Sessions(filter, kMaxSessions, &truncated);
  if (sessions.size() > kMaxSessions) {
    sessions.resize(kMaxSessions);
    truncated = true;
  }
  JsonWriter w;
  w.BeginObject().Key("sessions").BeginArray();
  for (const SessionInfo& s : sessions) {
    w.BeginObject();
    w.Key("id").String(s.id);
    w.Key("user").String(s.user);
    w.Key("client_address").String(s.client_address);
    w.Key("backend").String(s.backend);
    w.Key("started_at").Int(s.started_unix_seconds);
    w.Key("bytes_from_client").Uint(s.bytes_from_client);
    w.Key("bytes_to_client").Uint(s.bytes_to_client);
    w.EndObject();
  }
  w.EndArray().Key("truncated").Bool(truncated).EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::ShowRoute(const HttpRequest& request) const {
  auto user = UserParam(request);
  if (!user.ok()) return JsonError(400, user.status().message());
  if (!user->has_value()) return JsonError(400, "missing query parameter \"user\"");
  auto route = control_->Route(**user);
  if (!route.ok()) return JsonError(HttpStatusOf(route.status()), route.status().message());
  JsonWriter w;
  w.BeginObject();
  w.Key("user").String(route->user);
  w.Key("shard").String(route->shard);
  w.Key("backend").String(route->backend);
  w.Key("source").String(route->source);
  w.Key("reason").String(route->reason);
  w.EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::Drain(const HttpRequest& request, std::string_view backend) const {
  auto body = BodyObject(request, {"grace_seconds"});
  if (!body.ok()) return JsonError(400, body.status().message());
  std::optional<std::chrono::seconds> grace;
  if (const JsonValue* g = body->Find("grace_seconds"); g != nullptr) {
    const std::optional<int64_t> n = g->integer();
    if (g->type() != JsonValue::Type::kNumber || !n.has_value() || *n < 0 ||
        *n > kMaxGraceSeconds) {
      return JsonError(400, "grace_seconds must be an integer from 0 to " +
                                std::to_string(kMaxGraceSeconds));
    }
    grace = std::chrono::seconds(*n);
  }
  return BackendReply(control_->Drain(backend, grace));
}

HttpResponse AdminApi::Undrain(const HttpRequest& request, std::string_view backend) const {
  auto body = BodyObject(request, {});
  if (!body.ok()) return JsonError(400, body.status().message());
  return BackendReply(control_->Undrain(backend));
}

HttpResponse AdminApi::Kick(const HttpRequest& request, std::string_view user) const {
  auto body = BodyObject(request, {});
  if (!body.ok()) return JsonError(400, body.status().message());
  auto kicked = control_->Kick(user);
  if (!kicked.ok()) return JsonError(HttpStatusOf(kicked.status()), kicked.status().message());
  JsonWriter w;
  w.BeginObject().Key("user").String(user).Key("kicked").Uint(*kicked).EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::MoveUser(const HttpRequest& request, std::string_view user) const {
  auto body = BodyObject(request, {"shard"});
  if (!body.ok()) return JsonError(400, body.status().message());
  const JsonValue* shard = body->Find("shard");
  if (shard == nullptr || shard->type() != JsonValue::Type::kString || !net::IsValidRouteName(shard->string())) {
    return JsonError(400, "shard must be a configured shard's name");
  }
  auto kicked = control_->MoveUser(user, shard->string());
  if (!kicked.ok()) return JsonError(HttpStatusOf(kicked.status()), kicked.status().message());
  JsonWriter w;
  w.BeginObject().Key("user").String(user).Key("shard").String(shard->string()).Key("kicked").Uint(*kicked).EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::RevokeAppPassword(const HttpRequest& request, std::string_view user) const {
  auto body = BodyObject(request, {"name"});
  if (!body.ok()) return JsonError(400, body.status().message());
  const JsonValue* name = body->Find("name");
  if (name == nullptr || name->type() != JsonValue::Type::kString || name->string().empty() ||
      name->string().size() > 64) {
    return JsonError(400, "name must be the app password's name (1 to 64 characters)");
  }
  auto ended = control_->RevokeAppPassword(user, name->string());
  if (!ended.ok()) return JsonError(HttpStatusOf(ended.status()), ended.status().message());
  JsonWriter w;
  w.BeginObject().Key("user").String(user).Key("app_password").String(name->string());
  w.Key("revoked").Bool(true).Key("sessions_ended").Uint(*ended).EndObject();
  return JsonOk(w);
}

HttpResponse AdminApi::Reload(const HttpRequest& request) const {
  auto body = BodyObject(request, {});
  if (!body.ok()) return JsonError(400, body.status().message());
  const Status status = control_->Reload();
  if (!status.ok()) return JsonError(422, status.message());
  JsonWriter w;
  w.BeginObject().Key("ok").Bool(true).EndObject();
  return JsonOk(w);
}

}  // namespace imapgate::admin
