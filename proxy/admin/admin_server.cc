// AdminServer: routes of the admin endpoint on a net::HttpServer.

#include "admin/admin_server.h"

#include <utility>

#include "admin/readiness.h"
#include "admin/status_page.h"
#include "stats/metrics.h"

namespace imapgate::admin {

StatusOr<AdminServerPtr> AdminServer::Create(net::EventLoop* loop, const std::string& host,
                                             uint16_t port, const stats::Metrics* metrics,
                                             std::function<bool()> is_healthy) {
  if (metrics == nullptr) return InvalidArgument("admin endpoint needs metrics");
  StatusOr<net::HttpServerPtr> http = net::HttpServer::Create(loop, host, port);
  if (!http.ok()) return http.status();
  net::HttpServerPtr server = std::move(http.value());

  server->Handle("/metrics", [metrics] {
    return net::HttpResponse{200, kMetricsContentType, metrics->Serialize()};
  });
  server->Handle("/healthz", [is_healthy = std::move(is_healthy)] {
    if (is_healthy && is_healthy()) {
      return net::HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
    }
    return net::HttpResponse{503, "text/plain; charset=utf-8", "draining\n"};
  });
  return AdminServerPtr(new AdminServer(std::move(server)));
}

StatusOr<AdminServerPtr> AdminServer::Create(net::EventLoop* loop, const std::string& host,
                                             uint16_t port, const stats::Metrics* metrics,
                                             std::function<bool()> is_healthy,
                                             AdminControl* control, AdminToken token) {
  if (control == nullptr) return InvalidArgument("admin API needs a control");
  std::function<bool()> healthy = is_healthy;
  auto created = Create(loop, host, port, metrics, std::move(is_healthy));
  if (!created.ok()) return created.status();
  AdminServerPtr server = std::move(*created);
  server->api_ = std::make_unique<AdminApi>(control, std::move(token));
  const AdminApi* api = server->api_.get();
  server->http_->HandlePrefix(std::string(AdminApi::kPrefix),
                              [api](const net::HttpRequest& request) { return api->Serve(request); });
  server->http_->Handle("/readyz", [control, healthy = std::move(healthy)] { return ReadyzResponse(healthy, control); });
  server->http_->Handle("/", [] { return StatusPageResponse(); });
  return server;
}

net::HttpResponse AdminServer::ReadyzResponse(const std::function<bool()>& is_healthy, AdminControl* control) {
  constexpr const char* kText = "text/plain; charset=utf-8";
  if (!is_healthy || !is_healthy()) return net::HttpResponse{503, kText, "draining\n"};
  StatusOr<StatusInfo> status = control->StatusReport();
  if (!status.ok()) return net::HttpResponse{503, kText, "no status: " + status.status().message() + "\n"};
  Readiness r = EvaluateReadiness(*status);
  return net::HttpResponse{r.ready ? 200 : 503, kText, r.reason + "\n"};
}

AdminServer::AdminServer(net::HttpServerPtr http) : http_(std::move(http)) {}

}  // namespace imapgate::admin
