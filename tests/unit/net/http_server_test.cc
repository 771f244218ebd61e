// Tests for net::HttpServer itself: handler registration and failure containment. The blocking
// HTTP client and the loop thread are shared with the admin tests.

#include "net/http_server.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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

TEST(HttpServerCreateTest, UnresolvableHostFails) {
  ASSERT_TRUE(InitEventThreading().ok());
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto server = HttpServer::Create(loop->get(), "256.0.0.1", 0);
  EXPECT_FALSE(server.ok());
}

}  // namespace
}  // namespace imapgate::net
