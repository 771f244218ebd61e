// AdminServer: the HTTP admin endpoint, serving GET /metrics, GET /healthz and, when given an
// AdminControl, GET /readyz, the status page at GET / (admin/status_page.h) and the JSON admin
// API under /api/ (admin::AdminApi).
//
// /metrics returns Metrics::Serialize() in the Prometheus text format (version 0.0.4). /healthz
// returns 200 "ok" while is_healthy() is true and 503 "draining" otherwise, so a load balancer
// stops sending new clients during a drain. /readyz returns 200 "ready" when the control's
// StatusReport() is ready (admin/readiness.h: listeners bound, config loaded, a backend of every
// shard up) and 503 with the reason otherwise ("draining" while is_healthy() is false). /metrics,
// /healthz, /readyz and the page at / stay open to any peer (Prometheus, load balancers; /readyz
// names only shards and backends, as /metrics does, and the page itself holds no data); the api,
// which the page reads, has its own token rule. Other paths are 404, other methods 405.
//
// Ownership: borrows loop, metrics and control, which must outlive the server. Thread: created,
// used and destroyed on the loop's thread; is_healthy, Metrics::Serialize and the control run
// there per request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "admin/admin_api.h"
#include "admin/admin_control.h"
#include "admin/admin_token.h"
#include "common/status.h"
#include "net/http_server.h"

namespace imapgate::net {
class EventLoop;
}
namespace imapgate::stats {
class Metrics;
}

namespace imapgate::admin {

class AdminServer;
using AdminServerPtr = std::unique_ptr<AdminServer>;

class AdminServer {
 public:
  // Content-Type of /metrics: the Prometheus text exposition format.
  static constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Binds host:port (port 0 picks a free one, see bound_port()) and serves on loop. metrics must
  // not be null (kInvalidArgument); a null is_healthy reads as unhealthy. Otherwise fails as
  // net::HttpServer::Create() does.
  static StatusOr<AdminServerPtr> Create(net::EventLoop* loop, const std::string& host,
                                         uint16_t port, const stats::Metrics* metrics,
                                         std::function<bool()> is_healthy);
  // The same, plus the admin API over control (not null) checked against token (an empty token
  // refuses every change and every read from a non-loopback peer).
  static StatusOr<AdminServerPtr> Create(net::EventLoop* loop, const std::string& host,
                                         uint16_t port, const stats::Metrics* metrics,
                                         std::function<bool()> is_healthy, AdminControl* control,
                                         AdminToken token);

  uint16_t bound_port() const { return http_->bound_port(); }

  // The /readyz answer: 503 "draining" unless is_healthy(), else EvaluateReadiness of the
  // control's report (503 when there is none). Pure apart from the two calls; for tests too.
  static net::HttpResponse ReadyzResponse(const std::function<bool()>& is_healthy, AdminControl* control);

 private:
  explicit AdminServer(net::HttpServerPtr http);

  std::unique_ptr<AdminApi> api_;  // null without a control; outlives no request (loop thread)
  net::HttpServerPtr http_;
};

}  // namespace imapgate::admin
