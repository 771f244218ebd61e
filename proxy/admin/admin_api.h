// AdminApi: the JSON admin API under /api/v1/, over an AdminControl. Pure: it turns an
// net::HttpRequest into an net::HttpResponse, so every rule is unit-tested without sockets.
//
//   GET  /api/v1/backends                   {"backends":[{name, shard, address, security, state,
//                                            active_sessions, last_check:{ok,detail,at}|null}]}
//   GET  /api/v1/sessions[?user=NAME]       {"sessions":[{id, user, client_address, backend,
//                                            started_at, bytes_from_client, bytes_to_client}],
//                                            "truncated":bool}
//   GET  /api/v1/route?user=NAME            {user, shard, backend, source, reason}
//   POST /api/v1/backends/NAME/drain        body {} or {"grace_seconds":N} -> {"backend":{...}}
//   POST /api/v1/backends/NAME/undrain      body {} -> {"backend":{...}}
//   POST /api/v1/users/NAME/kick            body {} -> {"user":NAME,"kicked":N}
//   POST /api/v1/reload                     body {} -> {"ok":true}; refused: 422 {"error":...}
//   GET  /api/v1/status                     {version, started_at, config_loaded_at, now, ready,
//                                            ready_reason, draining, listeners:[{name, address,
//                                            mode, tls, proxy_protocol}], shards:[{name,
//                                            backends_up, backends:[backend as above]}],
//                                            counters:{logins:{ok,failed},
//                                            tls_handshakes:{ok,failed}}, refusals:[{at,
//                                            listener, reason, client_address}] (newest first),
//                                            refusals_total, refusals_capacity}
//
// Access: a change (any method but GET and HEAD) needs "Authorization: Bearer <token>"; a read
// needs it too unless the peer is a loopback address. A wrong token is refused even where none
// is needed. Refusals are 401 with "WWW-Authenticate: Bearer". The check runs before routing,
// so a client without the token learns nothing about paths or names.
//
// Errors are {"error":"..."}: 400 bad name, query or body; 401; 404 unknown path or backend; 405
// with Allow; 422 refused reload; 500/503 from the control. Bodies are empty, whitespace or a
// JSON object (JsonLimits defaults; unknown members are refused). Bodies over
// HttpServer::kMaxBodyBytes never get here (413).
//
// Thread: Serve() runs on the admin loop's thread; the control must outlive the api.
#pragma once

#include <cstddef>
#include <string_view>

#include "admin/admin_control.h"
#include "admin/admin_token.h"
#include "net/http_message.h"
#include "net/http_router.h"

namespace imapgate::admin {

class AdminApi {
 public:
  // Path prefix the api serves (register it with HttpServer::HandlePrefix).
  static constexpr std::string_view kPrefix = "/api/";
  // Most sessions one GET /api/v1/sessions lists ("truncated": true beyond).
  static constexpr size_t kMaxSessions = 10000;
  // Largest grace_seconds a drain accepts (one day).
  static constexpr int64_t kMaxGraceSeconds = 86400;
  static constexpr const char* kJsonContentType = "application/json";

  AdminApi(AdminControl* control, AdminToken token);

  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // Answers one request under kPrefix.
  net::HttpResponse Serve(const net::HttpRequest& request) const;

 private:
  net::HttpResponse ListBackends(const net::HttpRequest& request) const;
  net::HttpResponse ListSessions(const net::HttpRequest& request) const;
  net::HttpResponse ShowRoute(const net::HttpRequest& request) const;
  net::HttpResponse Drain(const net::HttpRequest& request, std::string_view backend) const;
  net::HttpResponse Undrain(const net::HttpRequest& request, std::string_view backend) const;
  net::HttpResponse Kick(const net::HttpRequest& request, std::string_view user) const;
  net::HttpResponse MoveUser(const net::HttpRequest& request, std::string_view user) const;
  // POST /api/v1/users/{user}/revoke-app-password {"name": "phone"}
  net::HttpResponse RevokeAppPassword(const net::HttpRequest& request, std::string_view user) const;
  net::HttpResponse Reload(const net::HttpRequest& request) const;
  // Issue E (admin/status_api.cc): GET /api/v1/status.
  net::HttpResponse ShowStatus(const net::HttpRequest& request) const;
  // Issue C (admin/abuse_api.cc).
  net::HttpResponse ListAbuseBlocks(const net::HttpRequest& request) const;
  net::HttpResponse AbuseUnblock(const net::HttpRequest& request) const;
  net::HttpResponse ShowAbuseAddress(const net::HttpRequest& request) const;
  net::HttpResponse ShowAbuseUser(const net::HttpRequest& request) const;

  AdminControl* control_;
  AdminToken token_;
  net::HttpRouter router_;
};

// A JSON error response: {"error": message}.
net::HttpResponse JsonError(int status, std::string_view message);

}  // namespace imapgate::admin
