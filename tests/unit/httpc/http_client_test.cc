// HttpClient against a real scripted HTTP server (TestHttpServer) on 127.0.0.1 or a UNIX socket,
// driving the client's event loop in the test thread.
#include "httpc/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "common/time_source.h"
#include "net/event_loop.h"
#include "net/timer.h"
#include "test_certs.h"
#include "test_http_server.h"
#include "tls/tls_context.h"

namespace imapgate::httpc {
namespace {

using std::chrono::milliseconds;
using testing::TestHttpServer;
using Reply = TestHttpServer::Reply;

std::string Ok(std::string body, std::string extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
  }

  std::unique_ptr<HttpClient> MakeClient(const std::string& url, HttpClientOptions options = {}) {
    auto u = ParseUrl(url);
    EXPECT_TRUE(u.ok()) << u.status().message();
    auto c = HttpClient::Create(loop_.get(), &RealTimeSource::Get(), std::move(*u), std::move(options));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(*c);
  }

  std::string Url(const TestHttpServer& s, const std::string& path = "/") {
    return "http://127.0.0.1:" + std::to_string(s.port()) + path;
  }

  // Runs the loop for `d` (or until something calls Stop()).
  void RunFor(milliseconds d) {
    auto t = net::Timer::Create(loop_.get(), [this] { loop_->Stop(); });
    ASSERT_TRUE(t.ok());
    (*t)->Arm(d);
    loop_->Run();
  }

  // Sends and runs the loop until done (at most 5 s).
  StatusOr<HttpResponse> Fetch(HttpClient& client, HttpRequest request) {
    std::optional<StatusOr<HttpResponse>> out;
    auto call = client.Send(std::move(request), [&](StatusOr<HttpResponse> r) {
      out.emplace(std::move(r));
      loop_->Stop();
    });
    RunFor(milliseconds(5000));
    if (!out) return Internal("test: no answer within 5 s");
    return std::move(*out);
  }

  std::unique_ptr<net::EventLoop> loop_;
};

TEST_F(HttpClientTest, GetReturnsStatusHeadersAndBody) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("hello", "Auth-Status: OK\r\n")}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server, "/auth?x=1"));
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.view(), "hello");
  ASSERT_NE(r->Header("auth-status"), nullptr);
  EXPECT_EQ(r->Header("auth-status")->view(), "OK");
  ASSERT_EQ(server.requests().size(), 1u);
  std::string req = server.requests()[0];
  EXPECT_EQ(req.rfind("GET /auth?x=1 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n", 0), 0u)
      << req;
}

TEST_F(HttpClientTest, PostSendsHeadersAndBody) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("done")}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  HttpRequest req;
  req.method = "POST";
  req.path = "/check";
  req.headers.emplace_back("Auth-Pass", SecretString("p%20w"));
  req.body = SecretString("{\"a\":1}");
  auto r = Fetch(*client, std::move(req));
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::string sent = server.requests().at(0);
  EXPECT_EQ(sent.rfind("POST /check HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(sent.find("\r\nAuth-Pass: p%20w\r\nContent-Length: 7\r\n\r\n{\"a\":1}"), std::string::npos) << sent;
}

TEST_F(HttpClientTest, KeepAliveReusesTheConnection) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  for (int i = 0; i < 3; ++i) {
    auto r = Fetch(*client, HttpRequest{});
    ASSERT_TRUE(r.ok()) << r.status().message();
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client->idle_connections(), 1u);
}

TEST_F(HttpClientTest, ConnectionCloseIsNotReused) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x", "Connection: close\r\n")}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  ASSERT_TRUE(Fetch(*client, HttpRequest{}).ok());
  EXPECT_EQ(client->idle_connections(), 0u);
  ASSERT_TRUE(Fetch(*client, HttpRequest{}).ok());
  EXPECT_EQ(server.connections(), 2);
  EXPECT_TRUE(server.ClientClosed(0));
}

TEST_F(HttpClientTest, IdleConnectionIsClosedAfterIdleTimeout) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  ASSERT_TRUE(server.StartTcp());
  HttpClientOptions o;
  o.idle_timeout = milliseconds(100);
  auto client = MakeClient(Url(server), o);
  ASSERT_TRUE(Fetch(*client, HttpRequest{}).ok());
  EXPECT_EQ(client->idle_connections(), 1u);
  RunFor(milliseconds(300));
  EXPECT_EQ(client->idle_connections(), 0u);
  EXPECT_TRUE(server.ClientClosed(0));
}

TEST_F(HttpClientTest, IdleConnectionClosedByTheServerIsDropped) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x"), /*close_after=*/true}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  ASSERT_TRUE(Fetch(*client, HttpRequest{}).ok());
  RunFor(milliseconds(200));
  EXPECT_EQ(client->idle_connections(), 0u);
}

TEST_F(HttpClientTest, MaxIdleConnectionsBound) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  ASSERT_TRUE(server.StartTcp());
  HttpClientOptions o;
  o.max_idle_connections = 1;
  auto client = MakeClient(Url(server), o);
  int done = 0;
  auto a = client->Send(HttpRequest{}, [&](StatusOr<HttpResponse> r) { EXPECT_TRUE(r.ok()); if (++done == 2) loop_->Stop(); });
  auto b = client->Send(HttpRequest{}, [&](StatusOr<HttpResponse> r) { EXPECT_TRUE(r.ok()); if (++done == 2) loop_->Stop(); });
  RunFor(milliseconds(5000));
  EXPECT_EQ(done, 2);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(client->idle_connections(), 1u);
  EXPECT_TRUE(server.ClientClosed(0, milliseconds(300)) || server.ClientClosed(1, milliseconds(300)));
}

TEST_F(HttpClientTest, StaleReusedConnectionIsRetriedOnceOnAFreshOne) {
  // The first connection answers once, then takes the second request and closes without a byte.
  TestHttpServer server([](const std::string&, int conn, int nth) {
    if (conn == 0 && nth == 1) return Reply{"", /*close_after=*/true};
    return Reply{Ok("fresh")};
  });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  ASSERT_TRUE(Fetch(*client, HttpRequest{}).ok());
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.view(), "fresh");
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(HttpClientTest, FreshConnectionClosedWithoutAnswerIsNotRetried) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{"", /*close_after=*/true}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("closed the connection"), std::string::npos) << r.status().message();
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(HttpClientTest, RequestTimeout) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{"", false, /*hang=*/true}; });
  ASSERT_TRUE(server.StartTcp());
  HttpClientOptions o;
  o.request_timeout = milliseconds(200);
  auto client = MakeClient(Url(server), o);
  auto start = std::chrono::steady_clock::now();
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  RunFor(milliseconds(20));  // the deferred close
  EXPECT_TRUE(server.ClientClosed(0));
}

TEST_F(HttpClientTest, ConnectTimeout) {
  // A listener that never accepts, its queue filled: the kernel drops further SYNs, so the
  // client's connect stays pending.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(f);
  }
  HttpClientOptions o;
  o.connect_timeout = milliseconds(200);
  auto client = MakeClient("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/", o);
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("connect to"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  for (int f : fillers) ::close(f);
  ::close(lfd);
}

TEST_F(HttpClientTest, CancelClosesTheConnectionAndNeverCallsDone) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{"", false, /*hang=*/true}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  bool called = false;
  HttpCallPtr call = client->Send(HttpRequest{}, [&](StatusOr<HttpResponse>) { called = true; });
  for (int i = 0; i < 100 && server.requests().empty(); ++i) RunFor(milliseconds(10));
  ASSERT_EQ(server.requests().size(), 1u);
  call.reset();
  EXPECT_TRUE(server.ClientClosed(0));
  RunFor(milliseconds(50));
  EXPECT_FALSE(called);
  EXPECT_EQ(client->idle_connections(), 0u);
}

TEST_F(HttpClientTest, CancelAfterTheAnswerArrivedStillSuppressesDone) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  bool called = false;
  HttpCallPtr call = client->Send(HttpRequest{}, [&](StatusOr<HttpResponse>) { called = true; });
  EXPECT_FALSE(called);  // never inside Send()
  call.reset();
  RunFor(milliseconds(100));
  EXPECT_FALSE(called);
}

TEST_F(HttpClientTest, DoneNeverRunsInsideSendEvenOnImmediateErrors) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  bool called = false;
  HttpRequest bad;
  bad.headers.emplace_back("X-Token", SecretString("sec\r\nret"));
  std::optional<Status> status;
  auto call = client->Send(std::move(bad), [&](StatusOr<HttpResponse> r) {
    called = true;
    status = r.status();
    loop_->Stop();
  });
  EXPECT_FALSE(called);
  RunFor(milliseconds(1000));
  ASSERT_TRUE(called);
  EXPECT_EQ(status->code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status->message().find("sec"), std::string::npos);
  EXPECT_EQ(server.connections(), 0);
}

TEST_F(HttpClientTest, DestroyingTheCallInsideDoneIsSafe) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  HttpCallPtr call;
  bool called = false;
  call = client->Send(HttpRequest{}, [&](StatusOr<HttpResponse> r) {
    EXPECT_TRUE(r.ok());
    call.reset();
    called = true;
    loop_->Stop();
  });
  RunFor(milliseconds(2000));
  EXPECT_TRUE(called);
  EXPECT_EQ(call, nullptr);
}

TEST_F(HttpClientTest, ConnectRefused) {
  // A port that was just free: bind, read the port, close.
  TestHttpServer probe([](const std::string&, int, int) { return Reply{}; });
  ASSERT_TRUE(probe.StartTcp());
  std::string url = Url(probe);
  probe.Stop();
  auto client = MakeClient(url);
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("connect"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("refused"), std::string::npos) << r.status().message();
}

TEST_F(HttpClientTest, OversizedResponseIsRefused) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok(std::string(2000, 'b'))}; });
  ASSERT_TRUE(server.StartTcp());
  HttpClientOptions o;
  o.max_response_body_bytes = 1000;
  auto client = MakeClient(Url(server), o);
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("too large"), std::string::npos) << r.status().message();
  EXPECT_EQ(client->idle_connections(), 0u);
}

TEST_F(HttpClientTest, OversizedHeadersAreRefused) {
  TestHttpServer server([](const std::string&, int, int) {
    return Reply{Ok("x", "X-Big: " + std::string(3000, 'h') + "\r\n")};
  });
  ASSERT_TRUE(server.StartTcp());
  HttpClientOptions o;
  o.max_response_header_bytes = 1024;
  auto client = MakeClient(Url(server), o);
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST_F(HttpClientTest, MalformedResponseNamesNoHeaderValue) {
  TestHttpServer server([](const std::string&, int, int) {
    return Reply{"HTTP/1.1 200 OK\r\nAuth-Pass: topsecret\r\n folded\r\n\r\n"};
  });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("malformed"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find("topsecret"), std::string::npos);
}

TEST_F(HttpClientTest, ChunkedResponse) {
  TestHttpServer server([](const std::string&, int, int) {
    return Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"};
  });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.view(), "Wikipedia");
  EXPECT_EQ(client->idle_connections(), 1u);
}

TEST_F(HttpClientTest, Http10BodyUntilClose) {
  TestHttpServer server([](const std::string&, int, int) {
    return Reply{"HTTP/1.0 200 OK\r\nAuth-Status: OK\r\n\r\nuntil close", /*close_after=*/true};
  });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.view(), "until close");
  EXPECT_EQ(client->idle_connections(), 0u);
}

TEST_F(HttpClientTest, UnixSocket) {
  std::string path = "/tmp/imapgate_httpc_test_" + std::to_string(getpid()) + ".sock";
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("unix")}; });
  ASSERT_TRUE(server.StartUnix(path));
  auto client = MakeClient("unix:" + path + ":/auth");
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.view(), "unix");
  EXPECT_EQ(server.requests().at(0).rfind("GET /auth HTTP/1.1\r\nHost: localhost\r\n", 0), 0u);
  ASSERT_TRUE(Fetch(*client, HttpRequest{}).ok());
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(HttpClientTest, DestroyingTheClientCancelsPendingCalls) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{"", false, /*hang=*/true}; });
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(Url(server));
  bool called = false;
  HttpCallPtr call = client->Send(HttpRequest{}, [&](StatusOr<HttpResponse>) { called = true; });
  for (int i = 0; i < 100 && server.requests().empty(); ++i) RunFor(milliseconds(10));
  client.reset();
  RunFor(milliseconds(50));
  EXPECT_TRUE(server.ClientClosed(0));
  EXPECT_FALSE(called);
  call.reset();  // after the client: harmless
}

class HttpsClientTest : public HttpClientTest {
 protected:
  void SetUp() override {
    HttpClientTest::SetUp();
    const auto& certs = testing::GetTestCerts();
    ASSERT_TRUE(certs.ok) << certs.error;
    auto server = tls::TlsServerContext::Create(certs.server_cert, certs.server_key);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ctx_ = std::move(*server);
  }
  std::string HttpsUrl(const TestHttpServer& s) { return "https://localhost:" + std::to_string(s.port()) + "/auth"; }
  std::shared_ptr<tls::TlsServerContext> server_ctx_;
};

TEST_F(HttpsClientTest, VerifiedCertificateAndKeepAlive) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("over tls")}; });
  server.set_tls(server_ctx_->get());
  ASSERT_TRUE(server.StartTcp());
  HttpClientOptions o;
  o.ca_file = testing::GetTestCerts().ca_cert;
  auto client = MakeClient(HttpsUrl(server), o);
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.view(), "over tls");
  ASSERT_TRUE(Fetch(*client, HttpRequest{}).ok());
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests().at(0).rfind("GET /auth HTTP/1.1\r\nHost: localhost:", 0), 0u);
}

TEST_F(HttpsClientTest, UnknownCaFailsVerification) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  server.set_tls(server_ctx_->get());
  ASSERT_TRUE(server.StartTcp());
  auto client = MakeClient(HttpsUrl(server));  // system trust store: the test CA is not in it
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate verification failed"), std::string::npos) << r.status().message();
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HttpsClientTest, WrongHostNameFailsVerification) {
  TestHttpServer server([](const std::string&, int, int) { return Reply{Ok("x")}; });
  server.set_tls(server_ctx_->get());
  ASSERT_TRUE(server.StartTcp());
  HttpClientOptions o;
  o.ca_file = testing::GetTestCerts().ca_cert;
  o.server_name = "auth.example.org";
  auto client = MakeClient(HttpsUrl(server), o);
  auto r = Fetch(*client, HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate verification failed"), std::string::npos) << r.status().message();
  EXPECT_TRUE(server.requests().empty());
}

TEST(HttpClientCreateTest, RefusesAnUnresolvedName) {
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto u = ParseUrl("http://auth.invalid/");
  ASSERT_TRUE(u.ok());
  auto c = HttpClient::Create(loop->get(), &RealTimeSource::Get(), std::move(*u), {});
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace imapgate::httpc
