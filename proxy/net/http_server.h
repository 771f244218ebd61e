// HttpServer: a minimal, bounded HTTP/1.1 server (libevent evhttp) on one EventLoop.
//
// Serves GET and HEAD on exact paths registered with Handle(); any other method gets 405, an
// unregistered path 404. Requests are bounded: 8 KiB of request line plus headers (413 beyond),
// no request body (413), 10 s to read a request or write a reply. Meant for the admin endpoint on
// a trusted address, not for the Internet: it has no connection limit and no TLS. When accept()
// fails (EMFILE, ENFILE, ...) the listener pauses for 100 ms instead of retrying in a busy loop,
// and logs that at most once per 10 s.
//
// Thread: everything, including destruction, runs on the loop's thread; handlers run there too
// and must not block. The server borrows the loop, which must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"
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

// HttpResponse: what a handler returns; the server adds Content-Length and security headers.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer;
using HttpServerPtr = std::unique_ptr<HttpServer>;

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;

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
};

}  // namespace imapgate::net
