// Tests for admin::AdminServer over real sockets: routes, status codes and the request bounds of
// the underlying net::HttpServer.

#include "admin/admin_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "admin/status_page.h"
#include "fake_admin_control.h"
#include "net/event_loop.h"
#include "stats/metrics.h"
#include "test_http_client.h"

namespace imapgate::admin {
namespace {

using ::imapgate::testing::LoopThread;
using ::imapgate::testing::RawHttpReply;
using ::imapgate::testing::Request;
using ::imapgate::testing::SendRaw;

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(net::InitEventThreading().ok());
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop.value());
    auto metrics = stats::Metrics::Create({"imap"}, "dovecot", "9.8.7");
    ASSERT_TRUE(metrics.ok()) << metrics.status().message();
    metrics_ = std::move(*metrics);
    auto admin = AdminServer::Create(loop_.get(), "127.0.0.1", 0, metrics_.get(),
                                     [this] { return healthy_.load(); });
    ASSERT_TRUE(admin.ok()) << admin.status().message();
    admin_ = std::move(admin.value());
    ASSERT_NE(admin_->bound_port(), 0);
    loop_thread_ = std::make_unique<LoopThread>(loop_.get());
  }
  void TearDown() override {
    loop_thread_.reset();  // stops and joins the loop before the server goes away
    admin_.reset();
  }

  uint16_t port() const { return admin_->bound_port(); }

  std::atomic<bool> healthy_{true};
  std::unique_ptr<net::EventLoop> loop_;
  stats::MetricsPtr metrics_;
  AdminServerPtr admin_;
  std::unique_ptr<LoopThread> loop_thread_;
};

TEST_F(AdminServerTest, MetricsServesTheExposition) {
  metrics_->ConnectionAccepted(0);
  RawHttpReply r = Request(port(), "GET", "/metrics");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            std::string::npos)
      << r.head;
  EXPECT_NE(r.body.find("imapgate_build_info{version=\"9.8.7\"} 1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("imapgate_connections_accepted_total{listener=\"imap\"} 1"),
            std::string::npos);
  EXPECT_EQ(r.body, metrics_->Serialize());
}

TEST_F(AdminServerTest, MetricsIgnoresQueryString) {
  RawHttpReply r = Request(port(), "GET", "/metrics?name[]=imapgate_up");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.body.find("imapgate_up 1"), std::string::npos);
}

TEST_F(AdminServerTest, HeadHasNoBody) {
  RawHttpReply r = Request(port(), "HEAD", "/metrics");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.head.find("Content-Length: " + std::to_string(metrics_->Serialize().size())),
            std::string::npos)
      << r.head;
  EXPECT_TRUE(r.body.empty()) << r.body;
}

TEST_F(AdminServerTest, HealthzFollowsIsHealthy) {
  RawHttpReply ok = Request(port(), "GET", "/healthz");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "ok\n");
  healthy_ = false;
  RawHttpReply draining = Request(port(), "GET", "/healthz");
  EXPECT_EQ(draining.status, 503);
  EXPECT_EQ(draining.body, "draining\n");
}

TEST_F(AdminServerTest, UnknownPathIs404) {
  EXPECT_EQ(Request(port(), "GET", "/").status, 404);
  EXPECT_EQ(Request(port(), "GET", "/metrics/").status, 404);
  EXPECT_EQ(Request(port(), "GET", "/Metrics").status, 404);
}

TEST_F(AdminServerTest, OtherMethodsAre405WithAllow) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"}) {
    RawHttpReply r = Request(port(), method, "/metrics");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_NE(r.head.find("Allow: GET, HEAD"), std::string::npos) << method << r.head;
  }
  healthy_ = false;
  EXPECT_EQ(Request(port(), "POST", "/healthz").status, 405);
}

// /metrics takes no POST, body or not (bodies are for the admin API only).
TEST_F(AdminServerTest, PostWithBodyToMetricsIs405) {
  RawHttpReply r = SendRaw(port(),
                           "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           "Connection: close\r\n\r\nhello");
  EXPECT_EQ(r.status, 405) << r.head;
}

// Without an AdminControl there is no API: /api/ is an unknown path.
TEST_F(AdminServerTest, NoApiWithoutAControl) {
  EXPECT_EQ(Request(port(), "GET", "/api/v1/backends").status, 404);
}

TEST_F(AdminServerTest, OversizedHeadersAre4xx) {
  const std::string big(10 * 1024, 'a');
  RawHttpReply r = SendRaw(port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + big +
                                       "\r\nConnection: close\r\n\r\n");
  EXPECT_GE(r.status, 400) << r.head;
  EXPECT_LT(r.status, 500) << r.head;
  EXPECT_EQ(r.body.find("imapgate_"), std::string::npos);
}

TEST_F(AdminServerTest, OversizedRequestLineIs4xx) {
  RawHttpReply r = Request(port(), "GET", "/metrics?" + std::string(10 * 1024, 'q'));
  EXPECT_GE(r.status, 400) << r.head;
  EXPECT_LT(r.status, 500) << r.head;
}

TEST_F(AdminServerTest, GarbageRequestIs400OrClosed) {
  RawHttpReply r = SendRaw(port(), "\x16\x03\x01\x02\x00 hello\r\n\r\n");
  EXPECT_TRUE(r.status == 0 || r.status == 400) << r.head;
}

TEST_F(AdminServerTest, KeepAliveServesSeveralRequests) {
  RawHttpReply r = SendRaw(port(),
                           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                           /*half_close=*/false);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("ok\nHTTP/1.1 200"), std::string::npos) << r.body;
}

// The admin API over a real socket, with a fake control behind it: the request fields reach
// AdminApi (method, path, query, body, Authorization, loopback peer) and its answers reach the
// client; /metrics and /healthz stay as they were.
class AdminApiServerTest : public ::testing::Test {
 protected:
  static constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

  void SetUp() override {
    ASSERT_TRUE(net::InitEventThreading().ok());
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop.value());
    auto metrics = stats::Metrics::Create({"imap"}, "dovecot", "9.8.7");
    ASSERT_TRUE(metrics.ok());
    metrics_ = std::move(*metrics);
    auto token = AdminToken::FromString(kToken);
    ASSERT_TRUE(token.ok());
    auto admin = AdminServer::Create(loop_.get(), "127.0.0.1", 0, metrics_.get(),
                                     [this] { return healthy_.load(); }, &control_, std::move(*token));
    ASSERT_TRUE(admin.ok()) << admin.status().message();
    admin_ = std::move(admin.value());
    loop_thread_ = std::make_unique<LoopThread>(loop_.get());
  }
  void TearDown() override {
    loop_thread_.reset();
    admin_.reset();
  }
  RawHttpReply Post(const std::string& path, const std::string& body, const std::string& auth) {
    std::string req = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n";
    if (!auth.empty()) req += "Authorization: " + auth + "\r\n";
    return SendRaw(admin_->bound_port(), req + "\r\n" + body);
  }
  // Reads the fake's state on the loop thread, where the api changed it.
  template <typename Fn>
  auto OnLoop(Fn fn) {
    decltype(fn()) out{};
    loop_thread_->RunOnLoop([&] { out = fn(); });
    return out;
  }

  ::imapgate::testing::FakeAdminControl control_;
  std::atomic<bool> healthy_{true};
  std::unique_ptr<net::EventLoop> loop_;
  stats::MetricsPtr metrics_;
  AdminServerPtr admin_;
  std::unique_ptr<LoopThread> loop_thread_;
};

TEST_F(AdminApiServerTest, LoopbackReadWithQuery) {
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/api/v1/sessions?user=bob%40demo.test");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
  EXPECT_NE(r.body.find("\"id\":\"s2\""), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("\"id\":\"s1\""), std::string::npos) << r.body;
}

TEST_F(AdminApiServerTest, DrainWithTokenAndBody) {
  RawHttpReply r = Post("/api/v1/backends/a1/drain", R"({"grace_seconds": 10})",
                        std::string("Bearer ") + kToken);
  EXPECT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_NE(r.body.find("\"state\":\"draining\""), std::string::npos) << r.body;
  EXPECT_EQ(OnLoop([this] { return control_.last_grace; }), std::chrono::seconds(10));
}

TEST_F(AdminApiServerTest, ChangeWithoutOrWithWrongTokenIs401) {
  RawHttpReply r = Post("/api/v1/reload", "", "");
  EXPECT_EQ(r.status, 401) << r.head;
  EXPECT_NE(r.head.find("WWW-Authenticate: Bearer"), std::string::npos) << r.head;
  EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  r = Post("/api/v1/reload", "", "Bearer 0123456789abcdef0123456789abcdeX");
  EXPECT_EQ(r.status, 401) << r.head;
  EXPECT_EQ(OnLoop([this] { return control_.reloads; }), 0);
  r = Post("/api/v1/reload", "", std::string("Bearer ") + kToken);
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(OnLoop([this] { return control_.reloads; }), 1);
}

TEST_F(AdminApiServerTest, HugeBodyIs413AndChangesNothing) {
  RawHttpReply r = Post("/api/v1/reload", "{}" + std::string(8000, ' '),
                        std::string("Bearer ") + kToken);
  EXPECT_EQ(r.status, 413) << r.head;
  EXPECT_EQ(OnLoop([this] { return control_.reloads; }), 0);
}

TEST_F(AdminApiServerTest, BadRequestsAre4xx) {
  const std::string auth = std::string("Bearer ") + kToken;
  EXPECT_EQ(Post("/api/v1/backends/a%2Fb/drain", "", auth).status, 400);
  EXPECT_EQ(Post("/api/v1/reload", "{", auth).status, 400);
  EXPECT_EQ(Post("/api/v1/nothing", "", auth).status, 404);
  EXPECT_EQ(Post("/api/v1/backends/zz/drain", "", auth).status, 404);
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/api/v1/reload");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.head.find("Allow: POST"), std::string::npos) << r.head;
}

TEST_F(AdminApiServerTest, MetricsAndHealthzUnchanged) {
  EXPECT_EQ(Request(admin_->bound_port(), "GET", "/healthz").body, "ok\n");
  RawHttpReply m = Request(admin_->bound_port(), "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("imapgate_up 1"), std::string::npos);
  EXPECT_EQ(Request(admin_->bound_port(), "POST", "/metrics").status, 405);
}

// --- /readyz and the status page (issue E) ---

TEST_F(AdminApiServerTest, ReadyzIs200WhenReady) {
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, "ready\n");
  EXPECT_NE(r.head.find("Content-Type: text/plain; charset=utf-8"), std::string::npos) << r.head;
}

TEST_F(AdminApiServerTest, ReadyzIs503NamingTheShard) {
  loop_thread_->RunOnLoop([this] {
    control_.status.shards[1].backends[0].state = BackendState::kDown;
  });
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 503) << r.head;
  EXPECT_EQ(r.body, "shard shard-b: no backend up (b1 down)\n");
  // /healthz is liveness: still 200.
  EXPECT_EQ(Request(admin_->bound_port(), "GET", "/healthz").status, 200);
}

TEST_F(AdminApiServerTest, ReadyzIs503DrainingDuringAGracefulDrain) {
  healthy_ = false;
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 503) << r.head;
  EXPECT_EQ(r.body, "draining\n");
}

TEST_F(AdminApiServerTest, ReadyzWithoutAReportIs503) {
  loop_thread_->RunOnLoop([this] { control_.status_error = Status(StatusCode::kUnavailable, "none"); });
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 503) << r.head;
  EXPECT_EQ(r.body, "no status: none\n");
  EXPECT_EQ(Request(admin_->bound_port(), "POST", "/readyz").status, 405);
}

TEST_F(AdminApiServerTest, StatusPageIsServedWithItsHeaders) {
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.head.find("Content-Type: text/html; charset=utf-8"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find(std::string("Content-Security-Policy: ") + std::string(kStatusPageCsp)),
            std::string::npos)
      << r.head;
  EXPECT_NE(r.head.find("X-Content-Type-Options: nosniff"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("X-Frame-Options: DENY"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, StatusPageHtml());
  EXPECT_EQ(Request(admin_->bound_port(), "GET", "/?refresh=1").status, 200);
  EXPECT_EQ(Request(admin_->bound_port(), "GET", "/index.html").status, 404);
  EXPECT_EQ(Request(admin_->bound_port(), "POST", "/").status, 405);
}

TEST_F(AdminApiServerTest, StatusApiOverTheSocket) {
  RawHttpReply r = Request(admin_->bound_port(), "GET", "/api/v1/status");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.body.find("\"refusals\":[{\"at\":1700000150"), std::string::npos) << r.body;
}

TEST(AdminServerNoControlTest, NoReadyzOrPageWithoutAControl) {
  ASSERT_TRUE(net::InitEventThreading().ok());
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto metrics = stats::Metrics::Create({}, "b", "0");
  ASSERT_TRUE(metrics.ok());
  auto admin = AdminServer::Create(loop->get(), "127.0.0.1", 0, metrics->get(), [] { return true; });
  ASSERT_TRUE(admin.ok());
  {
    LoopThread thread(loop->get());
    EXPECT_EQ(Request((*admin)->bound_port(), "GET", "/readyz").status, 404);
    EXPECT_EQ(Request((*admin)->bound_port(), "GET", "/").status, 404);
  }
}

TEST(StatusPageTest, PageIsSelfContainedAndNeverUsesInnerHtml) {
  const std::string_view page = StatusPageHtml();
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  for (std::string_view banned : {"http://", "https://", "<link", " src=", "innerHTML", "outerHTML",
                                  "insertAdjacentHTML", "document.write", "eval("}) {
    EXPECT_EQ(page.find(banned), std::string_view::npos) << banned;
  }
  EXPECT_NE(page.find("fetch(\"/api/v1/status\""), std::string_view::npos);
  EXPECT_NE(page.find("textContent"), std::string_view::npos);
  EXPECT_NE(page.find("setInterval(refresh, REFRESH_MS)"), std::string_view::npos);
}

TEST(StatusPageTest, CspAllowsOnlyInlineScriptAndSameOriginFetches) {
  EXPECT_NE(kStatusPageCsp.find("default-src 'none'"), std::string_view::npos);
  EXPECT_NE(kStatusPageCsp.find("connect-src 'self'"), std::string_view::npos);
  EXPECT_NE(kStatusPageCsp.find("frame-ancestors 'none'"), std::string_view::npos);
  net::HttpResponse r = StatusPageResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
}

TEST(AdminServerCreateTest, ApiNeedsAControl) {
  ASSERT_TRUE(net::InitEventThreading().ok());
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto created = stats::Metrics::Create({}, "b", "0");
  ASSERT_TRUE(created.ok());
  auto admin = AdminServer::Create(loop->get(), "127.0.0.1", 0, created->get(), nullptr, nullptr,
                                   AdminToken());
  ASSERT_FALSE(admin.ok());
  EXPECT_EQ(admin.status().code(), StatusCode::kInvalidArgument);
}

TEST(AdminServerCreateTest, NullMetricsIsInvalid) {
  ASSERT_TRUE(net::InitEventThreading().ok());
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto admin = AdminServer::Create(loop->get(), "127.0.0.1", 0, nullptr, [] { return true; });
  ASSERT_FALSE(admin.ok());
  EXPECT_EQ(admin.status().code(), StatusCode::kInvalidArgument);
}

TEST(AdminServerCreateTest, PortInUseIsUnavailable) {
  ASSERT_TRUE(net::InitEventThreading().ok());
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto created = stats::Metrics::Create({}, "b", "0");
  ASSERT_TRUE(created.ok());
  stats::MetricsPtr metrics = std::move(*created);
  auto first = AdminServer::Create(loop->get(), "127.0.0.1", 0, metrics.get(), nullptr);
  ASSERT_TRUE(first.ok());
  auto second = AdminServer::Create(loop->get(), "127.0.0.1", first.value()->bound_port(),
                                    metrics.get(), nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("127.0.0.1"), std::string::npos);
}

}  // namespace
}  // namespace imapgate::admin
