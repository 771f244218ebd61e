// HttpServer on libevent's evhttp.

#include "net/http_server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/log.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace imapgate::net {
namespace {

constexpr size_t kMaxHeadersBytes = 8 * 1024;  // request line and headers together
constexpr int kTimeoutSeconds = 10;            // to read a request, and to write a reply
constexpr int kBacklog = 128;                  // what evhttp_bind_socket used
constexpr std::chrono::milliseconds kAcceptPause{100};  // after EMFILE/ENFILE/ENOBUFS/ENOMEM

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
  for (const auto& [name, value] : response.headers) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
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

HttpMethod MethodOf(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return HttpMethod::kGet;
    case EVHTTP_REQ_HEAD:
      return HttpMethod::kHead;
    case EVHTTP_REQ_POST:
      return HttpMethod::kPost;
    default:
      return HttpMethod::kOther;
  }
}

const char* MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
    default:
      return "OTHER";
  }
}

// The numeric address of the request's peer, or "" when libevent does not know it.
std::string PeerAddress(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  const sockaddr* sa = conn != nullptr ? evhttp_connection_get_addr(conn) : nullptr;
  if (sa == nullptr) return "";
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)) == nullptr) return "";
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)) == nullptr) return "";
  } else {
    return "";
  }
  return buf;
}

// The request as a handler sees it. libevent bounded the body already (kMaxBodyBytes).
HttpRequest ReadRequest(evhttp_request* req, std::string_view path, const evhttp_uri* uri) {
  HttpRequest request;
  const evhttp_cmd_type cmd = evhttp_request_get_command(req);
  request.method = MethodOf(cmd);
  request.method_name = MethodName(cmd);
  request.path = std::string(path);
  const char* query = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
  if (query != nullptr) request.query = query;
  evbuffer* body = evhttp_request_get_input_buffer(req);
  const size_t body_len = body != nullptr ? evbuffer_get_length(body) : 0;
  if (body_len > 0 && body_len <= HttpServer::kMaxBodyBytes) {
    request.body.resize(body_len);
    if (evbuffer_copyout(body, request.body.data(), body_len) != static_cast<ev_ssize_t>(body_len)) {
      request.body.clear();
    }
  }
  const char* auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  if (auth != nullptr) {
    request.authorization = SecretString(auth);
    request.has_authorization = true;
  }
  request.peer_address = PeerAddress(req);
  request.peer_is_loopback = IsLoopbackAddress(request.peer_address);
  return request;
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

// Which HttpServer owns an evconnlistener: libevent hands the accept-error callback evhttp's user
// data, not ours. Touched only at create, destroy and on an accept error (never per request).
std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::map<const evconnlistener*, HttpServer*>& Registry() {
  static auto* const registry = new std::map<const evconnlistener*, HttpServer*>();
  return *registry;
}

}  // namespace

void EvHttpDeleter::operator()(evhttp* h) const { evhttp_free(h); }

StatusOr<HttpServerPtr> HttpServer::Create(EventLoop* loop, const std::string& host,
                                           uint16_t port) {
  EvHttpPtr http(evhttp_new(loop->base()));
  if (http == nullptr) return Internal("evhttp_new failed");
  evhttp_set_max_headers_size(http.get(), kMaxHeadersBytes);
  evhttp_set_max_body_size(http.get(), static_cast<ev_ssize_t>(kMaxBodyBytes));
  evhttp_set_timeout(http.get(), kTimeoutSeconds);
  evhttp_set_allowed_methods(http.get(), kParsedMethods);

  // Our own listening socket and evconnlistener instead of evhttp_bind_socket: evhttp sets no
  // error callback, so libevent retried a failing accept() (EMFILE) in a busy loop and logged
  // every failure. Here an accept error pauses the listener for kAcceptPause instead.
  auto address = ResolveAddress(host, port);
  if (!address.ok()) {
    return Unavailable("cannot listen for HTTP on " + host + ":" + std::to_string(port) + ": " +
                       address.status().message());
  }
  auto fd = ListenOn(*address, /*reuse_port=*/false, kBacklog);
  if (!fd.ok()) {
    return Unavailable("cannot listen for HTTP on " + host + ":" + std::to_string(port) + ": " +
                       fd.status().message());
  }
  const uint16_t bound_port = LocalPort(fd->get());
  if (bound_port == 0) return Internal("cannot read the HTTP listener's port");
  evconnlistener* listener = evconnlistener_new(loop->base(), nullptr, nullptr,
                                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                                /*backlog: already listening*/ 0, fd->get());
  if (listener == nullptr) return Internal("evconnlistener_new failed");
  fd->release();  // the evconnlistener closes it
  if (evhttp_bind_listener(http.get(), listener) == nullptr) {
    evconnlistener_free(listener);
    return Internal("evhttp_bind_listener failed");
  }

  HttpServerPtr server(new HttpServer(std::move(http), bound_port));
  server->listener_ = listener;
  HttpServer* raw = server.get();
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry()[listener] = raw;
  }
  auto timer = Timer::Create(loop, [raw] { evconnlistener_enable(raw->listener_); });
  if (!timer.ok()) return timer.status();
  server->accept_pause_ = std::move(*timer);
  evconnlistener_set_error_cb(listener, &HttpServer::OnAcceptError);
  evhttp_set_gencb(server->http_.get(), &HttpServer::OnRequest, server.get());
  return server;
}

HttpServer::HttpServer(EvHttpPtr http, uint16_t bound_port)
    : http_(std::move(http)), bound_port_(bound_port) {}

HttpServer::~HttpServer() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().erase(listener_);
}

void HttpServer::Handle(std::string path, Handler fn) {
  handlers_.insert_or_assign(std::move(path), std::move(fn));
}

void HttpServer::HandlePrefix(std::string prefix, RequestHandler fn) {
  prefix_handlers_.insert_or_assign(std::move(prefix), std::move(fn));
}

void HttpServer::OnAcceptError(evconnlistener* listener, void* /*arg*/) {
  // libevent passes evhttp's user data here, not ours: find this server in the registry.
  const int err = EVUTIL_SOCKET_ERROR();
  HttpServer* self = nullptr;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(listener);
    if (it != Registry().end()) self = it->second;
  }
  evconnlistener_disable(listener);
  if (self == nullptr) return;
  self->accept_pause_->Arm(kAcceptPause);
  uint64_t repeats = 0;
  if (self->pause_log_.Allow(std::chrono::steady_clock::now(), &repeats)) {
    LogEvent(LogLevel::kWarn, "accept_paused")
        .Add("listener", "admin")
        .Add("errno", std::strerror(err))
        .Add("pause_ms", static_cast<int64_t>(kAcceptPause.count()))
        .Add("repeats_since_last_line", repeats);
  }
}

void HttpServer::OnRequest(evhttp_request* req, void* arg) {
  static_cast<HttpServer*>(arg)->Serve(req);
}

void HttpServer::Serve(evhttp_request* req) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  const std::string_view path(raw_path != nullptr ? raw_path : "");
  const evhttp_cmd_type method = evhttp_request_get_command(req);

  if (const auto it = handlers_.find(path); it != handlers_.end()) {
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
      SendReply(req, HttpResponse{405, "text/plain; charset=utf-8", "method not allowed\n"});
      return;
    }
    HttpResponse response;
    try {
      response = it->second();
    } catch (...) {
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    SendReply(req, response);
    return;
  }
  for (const auto& [prefix, fn] : prefix_handlers_) {
    if (!path.starts_with(prefix)) continue;
    HttpResponse response;
    try {
      response = fn(ReadRequest(req, path, uri));
    } catch (...) {
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    SendReply(req, response);
    return;
  }
  SendReply(req, HttpResponse{404, "text/plain; charset=utf-8", "not found\n"});
}

}  // namespace imapgate::net
