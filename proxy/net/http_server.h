// HttpServer: a minimal, bounded HTTP/1.1 server (libevent evhttp) on one EventLoop.
//
// Serves GET and HEAD on exact paths registered with Handle() (any other method there gets 405),
// and every method on the paths under a prefix registered with HandlePrefix(), whose handler
// gets the whole request (HttpRequest: method, path, query, body, Authorization, peer address)
// and does its own routing (net::HttpRouter). Any other path gets 404. Requests are bounded:
// 8 KiB of request line plus headers (413 beyond), kMaxBodyBytes of body (413 beyond, answered by
// libevent itself, so that 413 has libevent's short HTML body), 10 s to read a request or write
// a reply. Meant for the admin endpoint on a trusted address, not for the Internet: it has no
// connection limit and no TLS. A client that half-closes its socket after the request may get a
// long reply cut short (libevent 2.1's evhttp drops the connection on the read side's EOF);
// HTTP clients (Prometheus, curl, browsers) do not half-close. When accept() fails (EMFILE, ENFILE, ...) the listener pauses for
// 100 ms instead of retrying in a busy loop, and logs that at most once per 10 s.
//
// Thread: everything, including destruction, runs on the loop's thread; handlers run there too
// and must not block. The server borrows the loop, which must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/http_message.h"
#include "net/log_limiter.h"
#include "net/timer.h"

struct evhttp;
struct evhttp_request;
struct evconnlistener;

namespace imapgate::net {

class EventLoop;

struct EvHttpDeleter {
  void operator()(evhttp* h) const;
};
using EvHttpPtr = std::unique_ptr<evhttp, EvHttpDeleter>;

class HttpServer;
using HttpServerPtr = std::unique_ptr<HttpServer>;

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;
  using RequestHandler = std::function<HttpResponse(const HttpRequest& request)>;

  // Largest request body accepted (POST); a longer one gets 413 before any handler runs.
  static constexpr size_t kMaxBodyBytes = 4096;

  // Binds host:port (port 0 picks a free one) and starts serving on loop. Fails with
  // kUnavailable when the address cannot be bound, kInternal when libevent fails.
  static StatusOr<HttpServerPtr> Create(EventLoop* loop, const std::string& host, uint16_t port);
  ~HttpServer();  // Closes the listener and every open connection.

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves GET and HEAD on path (exact match, query string ignored) with fn, replacing any earlier
  // handler for path. fn runs on the loop thread for every request; an exception from fn becomes
  // a 500 and never reaches libevent.
  void Handle(std::string path, Handler fn);

  // Serves every method on the paths that start with prefix (e.g. "/api/"), unless an exact path
  // of Handle() matches first; the longest matching prefix wins. fn gets the request and answers
  // 404/405 itself; exceptions become a 500 as for Handle().
  void HandlePrefix(std::string prefix, RequestHandler fn);

  // The port actually bound (the chosen one when Create() got port 0).
  uint16_t bound_port() const { return bound_port_; }

 private:
  HttpServer(EvHttpPtr http, uint16_t bound_port);
  static void OnRequest(evhttp_request* req, void* arg);
  static void OnAcceptError(evconnlistener* listener, void* arg);
  void Serve(evhttp_request* req);

  EvHttpPtr http_;
  uint16_t bound_port_;
  evconnlistener* listener_ = nullptr;  // owned by http_
  TimerPtr accept_pause_;               // re-enables listener_ after an accept error
  LogRateLimiter pause_log_{1, std::chrono::seconds(10)};
  std::map<std::string, Handler, std::less<>> handlers_;
  std::map<std::string, RequestHandler, std::greater<>> prefix_handlers_;  // longest first
};

}  // namespace imapgate::net
