// PolicyHook against a real scripted HTTP server (TestHttpServer from tests/unit/httpc, the same
// pattern as http_client_test) on 127.0.0.1 or a UNIX socket, driving the hook's event loop in
// the test thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "admin/json_reader.h"
#include "common/time_source.h"
#include "net/event_loop.h"
#include "net/timer.h"
#include "ratelimit/policy_hook.h"
#include "test_http_server.h"

namespace imapgate::ratelimit {
namespace {

using std::chrono::milliseconds;
using testing::TestHttpServer;
using Reply = TestHttpServer::Reply;

constexpr const char* kPassword = "Sup3r-Secret-Pw";
constexpr const char* kNonce = "cluster-nonce";

std::string Ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

Reply Answer(const std::string& body) { return Reply{Ok(body)}; }
Reply Hang() { return Reply{"", false, /*hang=*/true}; }

std::string BodyOf(const std::string& raw) {
  size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? "" : raw.substr(end + 4);
}

PolicyRequest Sample() {
  PolicyRequest r;
  r.login = "carol@demo.test";
  r.remote = "192.0.2.7";
  r.session_id = "sess-42";
  r.tls = true;
  return r;
}

class PolicyHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
  }

  PolicyHookConfig Config(const std::string& url) {
    PolicyHookConfig c;
    auto u = httpc::ParseUrl(url);
    EXPECT_TRUE(u.ok()) << u.status().message();
    if (u.ok()) c.url = std::move(*u);
    c.nonce = SecretString(kNonce);
    return c;
  }

  std::string Url(const TestHttpServer& s, const std::string& path = "/policy") {
    return "http://127.0.0.1:" + std::to_string(s.port()) + path;
  }

  std::unique_ptr<PolicyHook> MakeHook(const PolicyHookConfig& c) {
    auto h = PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c);
    EXPECT_TRUE(h.ok()) << h.status().message();
    return h.ok() ? std::move(*h) : nullptr;
  }

  void RunFor(milliseconds d) {
    auto t = net::Timer::Create(loop_.get(), [this] { loop_->Stop(); });
    ASSERT_TRUE(t.ok());
    (*t)->Arm(d);
    loop_->Run();
  }

  // Asks and runs the loop until the verdict (at most 5 s).
  std::optional<PolicyVerdict> Ask(PolicyHook& hook, const PolicyRequest& request = Sample()) {
    std::optional<PolicyVerdict> out;
    SecretString password(kPassword);
    auto call = hook.Allow(request, password, [&](PolicyVerdict v) {
      out.emplace(std::move(v));
      loop_->Stop();
    });
    RunFor(milliseconds(5000));
    return out;
  }

  // Runs the loop until `server` saw `n` requests (at most 3 s).
  void WaitForRequests(TestHttpServer& server, size_t n) {
    for (int i = 0; i < 300 && server.requests().size() < n; ++i) RunFor(milliseconds(10));
  }

  std::unique_ptr<net::EventLoop> loop_;
};

TEST_F(PolicyHookTest, AllowAnswerAllowsAndTheRequestIsDovecots) {
  TestHttpServer server(
      [](const std::string&, int, int) { return Answer(R"({"status":0,"msg":""})"); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  ASSERT_NE(hook, nullptr);
  auto v = Ask(*hook);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, PolicyVerdict::Kind::kAllow);
  EXPECT_EQ(hook->allow_sent(), 1u);
  EXPECT_EQ(hook->allow_failed(), 0u);

  ASSERT_EQ(server.requests().size(), 1u);
  const std::string raw = server.requests()[0];
  EXPECT_EQ(raw.rfind("POST /policy?command=allow HTTP/1.1\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  auto json = admin::ParseJson(BodyOf(raw));
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(json->Find("login")->string(), "carol@demo.test");
  EXPECT_EQ(json->Find("remote")->string(), "192.0.2.7");
  EXPECT_EQ(json->Find("protocol")->string(), "imap");
  EXPECT_EQ(json->Find("session_id")->string(), "sess-42");
  EXPECT_TRUE(json->Find("tls")->bool_value());
  SecretString password(kPassword);
  EXPECT_EQ(json->Find("pwhash")->string(),
            PolicyPasswordHash(kNonce, "carol@demo.test", password, 12));
  EXPECT_EQ(json->Find("pwhash")->string().size(), 4u);
  EXPECT_EQ(json->Find("success"), nullptr);  // reports only
  EXPECT_EQ(json->Find("policy_reject"), nullptr);
}

TEST_F(PolicyHookTest, RejectCarriesTheServersMessage) {
  TestHttpServer server(
      [](const std::string&, int, int) { return Answer(R"({"status":-1,"msg":"go away"})"); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  auto v = Ask(*hook);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, PolicyVerdict::Kind::kReject);
  EXPECT_EQ(v->message, "go away");
}

TEST_F(PolicyHookTest, DelayIsCappedByMaxDelay) {
  TestHttpServer server([](const std::string&, int, int nth) {
    return Answer(nth == 0 ? R"({"status":3})" : R"({"status":3600,"msg":"tarpit"})");
  });
  ASSERT_TRUE(server.StartTcp());
  PolicyHookConfig c = Config(Url(server));
  c.max_delay = std::chrono::seconds(30);
  auto hook = MakeHook(c);
  auto v = Ask(*hook);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, PolicyVerdict::Kind::kDelay);
  EXPECT_EQ(v->delay, std::chrono::seconds(3));
  v = Ask(*hook);  // the kept-alive connection's second request
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, PolicyVerdict::Kind::kDelay);
  EXPECT_EQ(v->delay, std::chrono::seconds(30));
}

TEST_F(PolicyHookTest, TimeoutFailsAndTheCallerSeesRejectOnFail) {
  TestHttpServer server([](const std::string&, int, int) { return Hang(); });
  ASSERT_TRUE(server.StartTcp());
  PolicyHookConfig c = Config(Url(server));
  c.timeout = milliseconds(200);
  auto hook = MakeHook(c);
  EXPECT_FALSE(hook->reject_on_fail());  // fail-open by default, as Dovecot
  auto start = std::chrono::steady_clock::now();
  auto v = Ask(*hook);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, PolicyVerdict::Kind::kFailed);
  EXPECT_NE(v->error.find("timed out"), std::string::npos) << v->error;
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(hook->allow_failed(), 1u);

  c.reject_on_fail = true;
  auto strict = MakeHook(c);
  EXPECT_TRUE(strict->reject_on_fail());
}

TEST_F(PolicyHookTest, GarbageAnswersFail) {
  const std::string oversized = R"({"status":0,"msg":")" + std::string(5000, 'x') + "\"}";
  TestHttpServer server([&](const std::string&, int, int nth) {
    switch (nth) {
      case 0:
        return Answer("this is not json");
      case 1:
        return Reply{"HTTP/1.1 500 Oops\r\nContent-Length: 12\r\n\r\n{\"status\":0}"};
      case 2:
        return Answer(R"({"status":"0"})");
      case 3:
        return Answer(R"({"status":-1,"msg":"bad\r\nline"})");
      default:
        return Answer(oversized);
    }
  });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  for (int i = 0; i < 5; ++i) {
    auto v = Ask(*hook);
    ASSERT_TRUE(v.has_value()) << i;
    EXPECT_EQ(v->kind, PolicyVerdict::Kind::kFailed) << i;
    EXPECT_EQ(v->error.find("xxxx"), std::string::npos);  // never quotes the body
  }
  EXPECT_EQ(hook->allow_failed(), 5u);
}

TEST_F(PolicyHookTest, ConnectRefusedFails) {
  uint16_t port;
  {
    TestHttpServer probe([](const std::string&, int, int) { return Hang(); });
    ASSERT_TRUE(probe.StartTcp());
    port = probe.port();
  }
  auto hook = MakeHook(Config("http://127.0.0.1:" + std::to_string(port) + "/"));
  auto v = Ask(*hook);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, PolicyVerdict::Kind::kFailed);
}

TEST_F(PolicyHookTest, ReportIsSentWithTheResultAndItsAnswerIgnored) {
  TestHttpServer server(
      [](const std::string&, int, int) { return Answer("ignored, not even json"); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server, "/p?key=1&")));
  PolicyRequest r = Sample();
  r.success = false;
  r.policy_reject = true;
  r.fail_type = "policy";
  SecretString password(kPassword);
  hook->Report(r, password);
  EXPECT_EQ(hook->reports_in_flight(), 1u);
  WaitForRequests(server, 1);
  for (int i = 0; i < 100 && hook->reports_in_flight() > 0; ++i) RunFor(milliseconds(10));
  EXPECT_EQ(hook->reports_in_flight(), 0u);
  EXPECT_EQ(hook->reports_sent(), 1u);
  EXPECT_EQ(hook->reports_failed(), 0u);

  ASSERT_EQ(server.requests().size(), 1u);
  const std::string raw = server.requests()[0];
  EXPECT_EQ(raw.rfind("POST /p?key=1&command=report HTTP/1.1\r\n", 0), 0u) << raw;
  auto json = admin::ParseJson(BodyOf(raw));
  ASSERT_TRUE(json.ok()) << json.status().message();
  ASSERT_NE(json->Find("success"), nullptr);
  EXPECT_FALSE(json->Find("success")->bool_value());
  EXPECT_TRUE(json->Find("policy_reject")->bool_value());
  EXPECT_EQ(json->Find("fail_type")->string(), "policy");
  EXPECT_EQ(json->Find("pwhash")->string(),
            PolicyPasswordHash(kNonce, "carol@demo.test", password, 12));

  r.success = true;
  r.policy_reject = false;
  r.fail_type.clear();
  hook->Report(r, password);
  WaitForRequests(server, 2);
  ASSERT_EQ(server.requests().size(), 2u);
  json = admin::ParseJson(BodyOf(server.requests()[1]));
  ASSERT_TRUE(json.ok());
  EXPECT_TRUE(json->Find("success")->bool_value());
  EXPECT_FALSE(json->Find("policy_reject")->bool_value());
}

TEST_F(PolicyHookTest, ReportsInFlightAreBoundedAndTheExcessDroppedAndCounted) {
  TestHttpServer server([](const std::string&, int, int) { return Hang(); });
  ASSERT_TRUE(server.StartTcp());
  PolicyHookConfig c = Config(Url(server));
  c.max_reports_in_flight = 2;
  auto hook = MakeHook(c);
  SecretString password(kPassword);
  for (int i = 0; i < 5; ++i) hook->Report(Sample(), password);
  EXPECT_EQ(hook->reports_in_flight(), 2u);
  EXPECT_EQ(hook->reports_sent(), 2u);
  EXPECT_EQ(hook->reports_dropped(), 3u);
  WaitForRequests(server, 2);
  RunFor(milliseconds(100));
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(PolicyHookTest, DestroyingTheCallCancelsItAndNoCallbackRuns) {
  TestHttpServer server([](const std::string&, int, int) { return Hang(); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  bool called = false;
  SecretString password(kPassword);
  auto call = hook->Allow(Sample(), password, [&](PolicyVerdict) { called = true; });
  WaitForRequests(server, 1);
  ASSERT_EQ(server.requests().size(), 1u);
  call.reset();
  EXPECT_TRUE(server.ClientClosed(0));  // the request's connection is closed, not reused
  RunFor(milliseconds(100));
  EXPECT_FALSE(called);
}

TEST_F(PolicyHookTest, DestroyingTheCallBeforeTheAnswerIsDeliveredSuppressesTheCallback) {
  TestHttpServer server([](const std::string&, int, int) { return Answer(R"({"status":0})"); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  bool called = false;
  SecretString password(kPassword);
  auto call = hook->Allow(Sample(), password, [&](PolicyVerdict) { called = true; });
  EXPECT_FALSE(called);  // never inside Allow()
  call.reset();
  RunFor(milliseconds(200));
  EXPECT_FALSE(called);
}

TEST_F(PolicyHookTest, DestroyingTheCallInsideItsCallbackIsSafe) {
  TestHttpServer server([](const std::string&, int, int) { return Answer(R"({"status":0})"); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  int calls = 0;
  SecretString password(kPassword);
  PolicyCallPtr call;
  call = hook->Allow(Sample(), password, [&](PolicyVerdict v) {
    ++calls;
    EXPECT_EQ(v.kind, PolicyVerdict::Kind::kAllow);
    call.reset();
    loop_->Stop();
  });
  RunFor(milliseconds(5000));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(call == nullptr);
}

TEST_F(PolicyHookTest, DestroyingTheHookCancelsEveryPendingCall) {
  TestHttpServer server([](const std::string&, int, int) { return Hang(); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  bool called = false;
  SecretString password(kPassword);
  auto call = hook->Allow(Sample(), password, [&](PolicyVerdict) { called = true; });
  hook->Report(Sample(), password);
  WaitForRequests(server, 2);
  hook.reset();
  RunFor(milliseconds(100));
  EXPECT_FALSE(called);
  call.reset();  // outliving the hook is allowed
}

TEST_F(PolicyHookTest, ThePasswordNeverLeavesExceptAsPwhash) {
  TestHttpServer server([](const std::string&, int, int) { return Answer(R"({"status":0})"); });
  ASSERT_TRUE(server.StartTcp());
  for (int bits : {12, 0}) {
    PolicyHookConfig c = Config(Url(server));
    c.hash_truncate = bits;
    auto hook = MakeHook(c);
    ASSERT_TRUE(Ask(*hook).has_value());
    SecretString password(kPassword);
    hook->Report(Sample(), password);
    for (int i = 0; i < 100 && hook->reports_in_flight() > 0; ++i) RunFor(milliseconds(10));
  }
  ASSERT_EQ(server.requests().size(), 4u);
  for (const std::string& raw : server.requests()) {
    EXPECT_EQ(raw.find(kPassword), std::string::npos);  // prints positions, never the request
    EXPECT_EQ(raw.find(kNonce), std::string::npos);
    auto json = admin::ParseJson(BodyOf(raw));
    ASSERT_TRUE(json.ok());
    const std::string& h = json->Find("pwhash")->string();
    EXPECT_TRUE(h.size() == 4u || h.size() == 64u) << h;
  }
}

TEST_F(PolicyHookTest, ApiHeaderIsSentAsDovecotDoes) {
  TestHttpServer server([](const std::string&, int, int) { return Answer(R"({"status":0})"); });
  ASSERT_TRUE(server.StartTcp());
  PolicyHookConfig c = Config(Url(server));
  c.api_header = SecretString("Authorization: Basic d2Y6c2VjcmV0");
  auto hook = MakeHook(c);
  ASSERT_TRUE(Ask(*hook).has_value());
  c.api_header = SecretString("bare-key");
  hook = MakeHook(c);
  ASSERT_TRUE(Ask(*hook).has_value());
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_NE(server.requests()[0].find("\r\nAuthorization: Basic d2Y6c2VjcmV0\r\n"),
            std::string::npos);
  EXPECT_NE(server.requests()[1].find("\r\nX-API-Key: bare-key\r\n"), std::string::npos);
}

TEST_F(PolicyHookTest, AnOversizedFieldFailsLaterWithoutARequest) {
  TestHttpServer server([](const std::string&, int, int) { return Answer(R"({"status":0})"); });
  ASSERT_TRUE(server.StartTcp());
  auto hook = MakeHook(Config(Url(server)));
  PolicyRequest r = Sample();
  r.device_id.assign(kMaxPolicyFieldBytes + 1, 'd');
  std::optional<PolicyVerdict> out;
  SecretString password(kPassword);
  auto call = hook->Allow(r, password, [&](PolicyVerdict v) {
    out.emplace(std::move(v));
    loop_->Stop();
  });
  EXPECT_FALSE(out.has_value());  // never inside Allow()
  RunFor(milliseconds(2000));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->kind, PolicyVerdict::Kind::kFailed);
  EXPECT_NE(out->error.find("device_id"), std::string::npos);
  hook->Report(r, password);
  EXPECT_EQ(hook->reports_failed(), 1u);
  RunFor(milliseconds(50));
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(PolicyHookTest, UnixSocket) {
  std::string path = "/tmp/imapgate-policy-" + std::to_string(::getpid()) + ".sock";
  TestHttpServer server([](const std::string&, int, int) { return Answer(R"({"status":-1})"); });
  ASSERT_TRUE(server.StartUnix(path));
  auto hook = MakeHook(Config("unix:" + path + ":/wf"));
  auto v = Ask(*hook);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, PolicyVerdict::Kind::kReject);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].rfind("POST /wf?command=allow HTTP/1.1\r\n", 0), 0u);
}

TEST_F(PolicyHookTest, CreateRefusesBadConfig) {
  PolicyHookConfig c = Config("http://127.0.0.1:9/");
  c.nonce = SecretString();
  EXPECT_FALSE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
  c = Config("http://127.0.0.1:9/");
  c.hash_truncate = 257;
  EXPECT_FALSE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
  c.hash_truncate = -1;
  EXPECT_FALSE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
  c = Config("http://127.0.0.1:9/");
  c.timeout = milliseconds(0);
  EXPECT_FALSE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
  c = Config("http://127.0.0.1:9/");
  c.api_header = SecretString(": value");
  EXPECT_FALSE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
  c.api_header = SecretString("X-Key: a\r\nInjected: 1");
  EXPECT_FALSE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
  c = Config("http://policy.example:8084/");  // needs DNS: ResolveUrl first
  EXPECT_FALSE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
  c = Config("http://127.0.0.1:9/");
  c.hash_truncate = 0;
  EXPECT_TRUE(PolicyHook::Create(loop_.get(), &RealTimeSource::Get(), c).ok());
}

}  // namespace
}  // namespace imapgate::ratelimit
