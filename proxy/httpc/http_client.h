// HttpClient: an asynchronous HTTP/1.1 client for one origin (http, https or a UNIX socket) on
// one worker's net::EventLoop, with keep-alive, per-request timeouts and cancellation.
//
// Send() returns an HttpCall; `done` runs exactly once, on the loop, never inside Send(), with
// the response or a Status whose message names what failed (connect refused, timeout, TLS
// verification, response too large, malformed response) and never a header value or body.
// Destroying the HttpCall before `done` ran cancels the request: its connection is closed (never
// reused) and `done` never runs. Destroying the HttpClient cancels every call still pending the
// same way. Idle connections (at most max_idle_connections) are reused, and closed after
// idle_timeout or when the server closes them; a request on a reused connection that fails
// before any response byte is retried once on a fresh connection.
//
// Thread: create, use and destroy the client and its calls on the loop's thread. The loop and
// the TimeSource must outlive the client. Request and response header values and bodies are
// SecretStrings (they may carry Auth-Pass): wiped when freed.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"
#include "common/status.h"
#include "common/time_source.h"
#include "httpc/url.h"
#include "net/buffered_connection.h"
#include "net/event_loop.h"
#include "net/timer.h"

namespace imapgate::tls {
class TlsClientContext;
}

namespace imapgate::httpc {

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};  // from Send() to the whole response
  size_t max_response_header_bytes = 16384;
  size_t max_response_body_bytes = 65536;
  size_t max_idle_connections = 4;
  std::chrono::milliseconds idle_timeout{30000};
  std::string ca_file;       // https: PEM CA bundle; empty: the system trust store
  bool verify_peer = true;   // https: false only for tests
  std::string server_name;   // https: SNI and name to verify; empty: the URL's host
};

// HttpRequest: one request. An empty path sends the URL's own path and query. The client adds
// Host (from the URL) and Content-Length (when there is a body or the method is POST or PUT).
struct HttpRequest {
  std::string method = "GET";
  std::string path;
  std::vector<std::pair<std::string, SecretString>> headers;
  SecretString body;
};

// HttpResponse: a final response (status 200..599), its headers in order and its body.
struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, SecretString>> headers;
  SecretString body;
  // The first header named `name` (case-insensitive), or null.
  const SecretString* Header(std::string_view name) const;
};

class HttpClient;
class HttpCallImpl;

// HttpCall: one request in flight. Owned by the caller; destroying it cancels the request.
class HttpCall {
 public:
  virtual ~HttpCall() = default;
};
using HttpCallPtr = std::unique_ptr<HttpCall>;

class HttpClient {
 public:
  using Done = std::function<void(StatusOr<HttpResponse>)>;

  // Fails (kInvalidArgument) when the origin still needs DNS resolution (ResolveUrl first), or
  // when the https context cannot be built (a CA file that cannot be loaded is named).
  static StatusOr<std::unique_ptr<HttpClient>> Create(net::EventLoop* loop, const TimeSource* time, Url origin,
                                                      HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts `request`; see the file comment for how `done` is called.
  HttpCallPtr Send(HttpRequest request, Done done);

  const Url& origin() const { return origin_; }
  size_t idle_connections() const { return idle_.size(); }

 private:
  friend class HttpCallImpl;
  class IdleHandler;
  struct IdleConnection {
    net::BufferedConnection connection;
    std::chrono::steady_clock::time_point deadline;
  };

  HttpClient(net::EventLoop* loop, const TimeSource* time, Url origin, HttpClientOptions options);
  // Hands over an idle connection (most recent first); false when there is none.
  bool TakeIdle(net::BufferedConnection* out);
  // Keeps a connection for reuse (or closes it when the pool is full). Loop thread, may be
  // called from inside the connection's own callback.
  void ReturnIdle(net::BufferedConnection connection);
  void OnIdleIo(net::IoWatcher* watcher);
  void SweepIdle();
  void ArmSweep();

  net::EventLoop* loop_;
  const TimeSource* time_;
  Url origin_;
  HttpClientOptions options_;
  std::shared_ptr<tls::TlsClientContext> tls_;
  std::unique_ptr<IdleHandler> idle_handler_;
  std::list<IdleConnection> idle_;
  net::TimerPtr sweep_timer_;
  std::vector<HttpCallImpl*> calls_;  // live calls, detached when the client goes
};

}  // namespace imapgate::httpc
