// Tests for net::HttpServer itself: handler registration and failure containment. The blocking
// HTTP client and the loop thread are shared with the admin tests.

#include "net/http_server.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../admin/test_http_client.h"
#include "loop_test_util.h"
#include "net/event_loop.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::LoopThread;
using ::imapgate::testing::RawHttpReply;
using ::imapgate::testing::Request;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitEventThreading().ok());
    auto loop = EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop.value());
    auto server = HttpServer::Create(loop_.get(), "127.0.0.1", 0);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server.value());
  }
  void TearDown() override {
    loop_thread_.reset();
    server_.reset();
  }
  void Start() { loop_thread_ = std::make_unique<LoopThread>(loop_.get()); }
  // Runs fn on the loop thread and waits: what handlers wrote there is then safe to read here.
  void Synced(std::function<void()> fn) { loop_thread_->RunOnLoop(std::move(fn)); }

  std::unique_ptr<EventLoop> loop_;
  HttpServerPtr server_;
  std::unique_ptr<LoopThread> loop_thread_;
};

TEST_F(HttpServerTest, ServesStatusTypeAndBody) {
  server_->Handle("/x", [] { return HttpResponse{418, "application/json", "{}"}; });
  Start();
  RawHttpReply r = Request(server_->bound_port(), "GET", "/x");
  EXPECT_EQ(r.status, 418);
  EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Content-Length: 2"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("X-Content-Type-Options: nosniff"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Cache-Control: no-store"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, "{}");
}

TEST_F(HttpServerTest, LaterHandleReplacesEarlier) {
  server_->Handle("/x", [] { return HttpResponse{200, "text/plain", "one"}; });
  server_->Handle("/x", [] { return HttpResponse{200, "text/plain", "two"}; });
  Start();
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/x").body, "two");
}

TEST_F(HttpServerTest, HandlerCanBeAddedOnTheLoopThread) {
  Start();
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/late").status, 404);
  loop_thread_->RunOnLoop([this] {
    server_->Handle("/late", [] { return HttpResponse{200, "text/plain", "hi"}; });
  });
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/late").body, "hi");
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndServerSurvives) {
  server_->Handle("/boom", []() -> HttpResponse { throw std::runtime_error("boom"); });
  server_->Handle("/ok", [] { return HttpResponse{200, "text/plain", "fine"}; });
  Start();
  RawHttpReply r = Request(server_->bound_port(), "GET", "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("boom"), std::string::npos);  // no internals leak to the client
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/ok").body, "fine");
}

TEST_F(HttpServerTest, NoContentHasNoBody) {
  server_->Handle("/empty", [] { return HttpResponse{204, "text/plain", "dropped"}; });
  Start();
  RawHttpReply r = Request(server_->bound_port(), "GET", "/empty");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
}

// Out of descriptors, accept() fails with EMFILE: the listener must pause (one accept_paused
// line) instead of retrying in a busy loop (libevent's evhttp logged "Error from accept() call"
// on every loop round), and serve the waiting client once descriptors are free again.
TEST_F(HttpServerTest, AcceptOutOfDescriptorsPausesAndRecovers) {
  server_->Handle("/x", [] { return HttpResponse{200, "text/plain", "ok"}; });
  auto addr = ResolveAddress("127.0.0.1", server_->bound_port());
  ASSERT_TRUE(addr.ok());
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(client.valid());
  ASSERT_EQ(::connect(client.get(), addr->get(), addr->length), 0);
  const std::string request = "GET /x HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::send(client.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));

  ::testing::internal::CaptureStderr();
  std::vector<UniqueFd> hog;
  for (;;) {
    int fd = ::dup(client.get());
    if (fd < 0) break;
    hog.emplace_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);
  ::imapgate::testing::RunLoopFor(loop_.get(), 50);  // ~50 ms of loop rounds
  hog.clear();
  const std::string err = ::testing::internal::GetCapturedStderr();
  size_t paused = 0;
  for (size_t p = err.find("event=accept_paused"); p != std::string::npos;
       p = err.find("event=accept_paused", p + 1)) {
    ++paused;
  }
  EXPECT_EQ(paused, 1u) << err;
  EXPECT_EQ(err.find("Error from accept"), std::string::npos) << err;

  // After the 100 ms pause the listener accepts again and the request is answered.
  std::string reply;
  ASSERT_TRUE(::imapgate::testing::RunLoopUntil(loop_.get(), [&] {
    pollfd p{client.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) {
      char buf[512];
      ssize_t n = ::recv(client.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) reply.append(buf, static_cast<size_t>(n));
    }
    return reply.find("\r\n\r\n") != std::string::npos;
  }));
  EXPECT_NE(reply.find(" 200 "), std::string::npos) << reply;
}

// A prefix handler gets the whole request: method, path, query, body, Authorization, peer.
TEST_F(HttpServerTest, PrefixHandlerSeesTheRequest) {
  struct Seen {
    HttpMethod method = HttpMethod::kOther;
    std::string method_name, path, query, body, auth, peer;
    bool has_auth = false, loopback = false;
  };
  auto seen = std::make_shared<Seen>();
  server_->HandlePrefix("/api/", [seen](const HttpRequest& r) {
    seen->method = r.method;
    seen->method_name = r.method_name;
    seen->path = r.path;
    seen->query = r.query;
    seen->body = r.body;
    seen->auth = std::string(r.authorization.view());
    seen->has_auth = r.has_authorization;
    seen->peer = r.peer_address;
    seen->loopback = r.peer_is_loopback;
    HttpResponse response(201, "application/json", "{}");
    response.headers.emplace_back("X-Extra", "yes");
    return response;
  });
  Start();
  RawHttpReply r = ::imapgate::testing::SendRaw(
      server_->bound_port(),
      "POST /api/v1/users/a%40b/kick?x=1&y=2 HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer s3cret\r\nContent-Length: 7\r\nConnection: close\r\n\r\n"
      "{\"a\":1}");
  EXPECT_EQ(r.status, 201) << r.head;
  EXPECT_NE(r.head.find("X-Extra: yes"), std::string::npos) << r.head;
  Synced([] {});  // the handler ran on the loop thread: read what it wrote after a sync
  EXPECT_EQ(seen->method, HttpMethod::kPost);
  EXPECT_EQ(seen->method_name, "POST");
  EXPECT_EQ(seen->path, "/api/v1/users/a%40b/kick");
  EXPECT_EQ(seen->query, "x=1&y=2");
  EXPECT_EQ(seen->body, "{\"a\":1}");
  EXPECT_TRUE(seen->has_auth);
  EXPECT_EQ(seen->auth, "Bearer s3cret");
  EXPECT_EQ(seen->peer, "127.0.0.1");
  EXPECT_TRUE(seen->loopback);
}

TEST_F(HttpServerTest, PrefixHandlerGetsEveryMethod) {
  auto last = std::make_shared<std::string>();
  server_->HandlePrefix("/api/", [last](const HttpRequest& r) {
    *last = r.method_name;
    return HttpResponse(200, "text/plain", "ok");
  });
  Start();
  for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
    EXPECT_EQ(Request(server_->bound_port(), method, "/api/x").status, 200) << method;
    std::string seen;
    Synced([&] { seen = *last; });
    EXPECT_EQ(seen, method);
  }
}

TEST_F(HttpServerTest, ExactPathWinsOverPrefixAndLongestPrefixWins) {
  server_->Handle("/api/exact", [] { return HttpResponse(200, "text/plain", "exact"); });
  server_->HandlePrefix("/api/", [](const HttpRequest&) {
    return HttpResponse(200, "text/plain", "short");
  });
  server_->HandlePrefix("/api/v1/", [](const HttpRequest&) {
    return HttpResponse(200, "text/plain", "long");
  });
  Start();
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/api/exact").body, "exact");
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/api/v1/x").body, "long");
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/api/v2").body, "short");
  EXPECT_EQ(Request(server_->bound_port(), "GET", "/ap").status, 404);
}

TEST_F(HttpServerTest, ThrowingPrefixHandlerIs500) {
  server_->HandlePrefix("/api/", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("boom");
  });
  Start();
  RawHttpReply r = Request(server_->bound_port(), "POST", "/api/x");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("boom"), std::string::npos);
}

std::string PostWithBody(size_t n) {
  return "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(n) +
         "\r\nConnection: close\r\n\r\n" + std::string(n, 'b');
}

// The body bound: kMaxBodyBytes is served whole, one byte more is 413 before any handler runs.
TEST_F(HttpServerTest, BodyBoundIsKMaxBodyBytes) {
  auto calls = std::make_shared<int>(0);
  auto size = std::make_shared<size_t>(0);
  server_->HandlePrefix("/api/", [calls, size](const HttpRequest& r) {
    ++*calls;
    *size = r.body.size();
    return HttpResponse(200, "text/plain", "ok");
  });
  Start();
  RawHttpReply ok = ::imapgate::testing::SendRaw(server_->bound_port(),
                                                 PostWithBody(HttpServer::kMaxBodyBytes));
  EXPECT_EQ(ok.status, 200) << ok.head;
  Synced([] {});
  EXPECT_EQ(*size, HttpServer::kMaxBodyBytes);
  EXPECT_EQ(*calls, 1);
  RawHttpReply big = ::imapgate::testing::SendRaw(server_->bound_port(),
                                                  PostWithBody(HttpServer::kMaxBodyBytes + 1));
  EXPECT_EQ(big.status, 413) << big.head;
  RawHttpReply huge = ::imapgate::testing::SendRaw(
      server_->bound_port(),
      "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n"
      "Connection: close\r\n\r\nabc");
  EXPECT_EQ(huge.status, 413) << huge.head;
  RawHttpReply chunked = ::imapgate::testing::SendRaw(
      server_->bound_port(),
      "POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n2000\r\n" + std::string(0x2000, 'c') + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 413) << chunked.head;
  Synced([] {});
  EXPECT_EQ(*calls, 1);
}

TEST(HttpServerCreateTest, UnresolvableHostFails) {
  ASSERT_TRUE(InitEventThreading().ok());
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto server = HttpServer::Create(loop->get(), "256.0.0.1", 0);
  EXPECT_FALSE(server.ok());
}

}  // namespace
}  // namespace imapgate::net
