// HttpServer on libevent's evhttp.

#include "net/http_server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "net/event_loop.h"

namespace imapgate::net {
namespace {

constexpr size_t kMaxHeadersBytes = 8 * 1024;  // request line and headers together
constexpr int kTimeoutSeconds = 10;            // to read a request, and to write a reply

// Methods evhttp parses and hands to us; we answer all but GET and HEAD with 405 (libevent
// itself would answer a disallowed method with 501, which is wrong for a known method).
constexpr int kParsedMethods = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                               EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                               EVHTTP_REQ_PATCH;

// Whether a reply with this status to this request carries a body (RFC 9110 6.4.1).
bool ReplyHasBody(evhttp_request* req, int status) {
  return evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && status != 204 && status != 304 &&
         status >= 200;
}

// Sends response on req. evhttp adds Content-Length for a body; libevent 2.1 would also send
// the body of a HEAD reply, so HEAD gets the length header and no body here.
void SendReply(evhttp_request* req, const HttpResponse& response) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", response.content_type.c_str());
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
  if (!ReplyHasBody(req, response.status)) {
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
      evhttp_add_header(headers, "Content-Length", std::to_string(response.body.size()).c_str());
    }
    evhttp_send_reply(req, response.status, nullptr, nullptr);
    return;
  }
  evbuffer* body = evhttp_request_get_output_buffer(req);
  if (evbuffer_add(body, response.body.data(), response.body.size()) != 0) {
    evbuffer_drain(body, evbuffer_get_length(body));
    evhttp_send_reply(req, 500, nullptr, nullptr);
    return;
  }
  evhttp_send_reply(req, response.status, nullptr, nullptr);
}

// The port a listening socket is bound to, or 0 if it cannot be read.
uint16_t LocalPort(evutil_socket_t fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  std::memset(&addr, 0, sizeof(addr));
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

}  // namespace

void EvHttpDeleter::operator()(evhttp* h) const { evhttp_free(h); }

StatusOr<HttpServerPtr> HttpServer::Create(EventLoop* loop, const std::string& host,
                                           uint16_t port) {
  EvHttpPtr http(evhttp_new(loop->base()));
  if (http == nullptr) return Internal("evhttp_new failed");
  evhttp_set_max_headers_size(http.get(), kMaxHeadersBytes);
  evhttp_set_max_body_size(http.get(), 0);
  evhttp_set_timeout(http.get(), kTimeoutSeconds);
  evhttp_set_allowed_methods(http.get(), kParsedMethods);

  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http.get(), host.c_str(), port);
  if (bound == nullptr) {
    return Unavailable("cannot listen for HTTP on " + host + ":" + std::to_string(port) + ": " +
                       std::strerror(errno));
  }
  const uint16_t bound_port = LocalPort(evhttp_bound_socket_get_fd(bound));
  if (bound_port == 0) return Internal("cannot read the HTTP listener's port");

  HttpServerPtr server(new HttpServer(std::move(http), bound_port));
  evhttp_set_gencb(server->http_.get(), &HttpServer::OnRequest, server.get());
  return server;
}

HttpServer::HttpServer(EvHttpPtr http, uint16_t bound_port)
    : http_(std::move(http)), bound_port_(bound_port) {}

HttpServer::~HttpServer() = default;

void HttpServer::Handle(std::string path, Handler fn) {
  handlers_.insert_or_assign(std::move(path), std::move(fn));
}

void HttpServer::OnRequest(evhttp_request* req, void* arg) {
  static_cast<HttpServer*>(arg)->Serve(req);
}

void HttpServer::Serve(evhttp_request* req) {
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
    SendReply(req, HttpResponse{405, "text/plain; charset=utf-8", "method not allowed\n"});
    return;
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  const auto it = handlers_.find(std::string_view(path != nullptr ? path : ""));
  if (it == handlers_.end()) {
    SendReply(req, HttpResponse{404, "text/plain; charset=utf-8", "not found\n"});
    return;
  }
  HttpResponse response;
  try {
    response = it->second();
  } catch (...) {
    response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
  }
  SendReply(req, response);
}

}  // namespace imapgate::net
