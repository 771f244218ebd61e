// Tests for admin::AdminApi without sockets: every endpoint over a FakeAdminControl, the token
// rule (missing, wrong, same-length wrong, right), the loopback read rule with an injected peer
// address, and that bad paths, names, queries, bodies and methods are all 4xx JSON errors.

#include "admin/admin_api.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "admin/json_reader.h"
#include "fake_admin_control.h"

namespace imapgate::admin {
namespace {

using net::HttpMethod;
using net::HttpRequest;
using net::HttpResponse;

constexpr std::string_view kToken = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kSameLengthWrong = "0123456789abcdef0123456789abcdeX";

struct Options {
  bool loopback = true;
  std::optional<std::string> auth;  // the Authorization header's value
  std::string body;
};

HttpRequest MakeRequest(HttpMethod method, std::string target, Options o) {
  HttpRequest r;
  r.method = method;
  r.method_name = method == HttpMethod::kGet    ? "GET"
                  : method == HttpMethod::kHead ? "HEAD"
                  : method == HttpMethod::kPost ? "POST"
                                                : "PUT";
  const size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.body = std::move(o.body);
  r.peer_is_loopback = o.loopback;
  r.peer_address = o.loopback ? "127.0.0.1" : "192.0.2.7";
  if (o.auth.has_value()) {
    r.authorization = SecretString(*o.auth);
    r.has_authorization = true;
  }
  return r;
}

// Responses can be far larger than the request bodies the default limits are made for.
JsonLimits ResponseLimits() {
  JsonLimits limits;
  limits.max_bytes = 1 << 24;
  limits.max_items = 1 << 20;
  return limits;
}

std::string Bearer(std::string_view token) { return "Bearer " + std::string(token); }

class AdminApiTest : public ::testing::Test {
 protected:
  AdminApiTest() : api_(&control_, Token()) {}
  static AdminToken Token() {
    auto t = AdminToken::FromString(kToken);
    EXPECT_TRUE(t.ok());
    return std::move(*t);
  }

  HttpResponse Get(std::string target, Options o = {}) {
    return Check(api_.Serve(MakeRequest(HttpMethod::kGet, std::move(target), std::move(o))));
  }
  HttpResponse Post(std::string target, std::string body = "",
                    std::optional<std::string> auth = Bearer(kToken)) {
    Options o;
    o.auth = std::move(auth);
    o.body = std::move(body);
    return Check(api_.Serve(MakeRequest(HttpMethod::kPost, std::move(target), std::move(o))));
  }
  // Every answer is JSON; every error is {"error": "<text>"}; 401 names the Bearer scheme.
  static HttpResponse Check(HttpResponse r) {
    EXPECT_EQ(r.content_type, "application/json");
    auto json = ParseJson(r.body, ResponseLimits());
    EXPECT_TRUE(json.ok()) << r.body.substr(0, 500);
    if (json.ok() && r.status >= 400) {
      const JsonValue* e = json->Find("error");
      EXPECT_TRUE(e != nullptr && e->type() == JsonValue::Type::kString && !e->string().empty())
          << r.body;
    }
    bool www = false;
    for (const auto& [k, v] : r.headers) www |= k == "WWW-Authenticate" && v == "Bearer";
    EXPECT_EQ(www, r.status == 401) << r.status;
    return r;
  }
  static JsonValue Json(const HttpResponse& r) {
    auto json = ParseJson(r.body, ResponseLimits());
    return json.ok() ? std::move(*json) : JsonValue();
  }

  testing::FakeAdminControl control_;
  AdminApi api_;
};

// --- endpoints ---

TEST_F(AdminApiTest, ListsBackends) {
  HttpResponse r = Get("/api/v1/backends");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"backends":[{"name":"a1","shard":"shard-a","address":"127.0.0.1:11143",)"
            R"("security":"plaintext","state":"up","active_sessions":2,)"
            R"("last_check":{"ok":true,"detail":"ok","at":1700}},)"
            R"({"name":"b1","shard":"shard-b","address":"127.0.0.1:11145",)"
            R"("security":"starttls","state":"down","active_sessions":0,"last_check":null}]})"
            "\n");
}

TEST_F(AdminApiTest, HeadIsServedLikeGet) {
  HttpResponse r = api_.Serve(MakeRequest(HttpMethod::kHead, "/api/v1/backends", {}));
  EXPECT_EQ(r.status, 200);
}

TEST_F(AdminApiTest, ListsSessions) {
  HttpResponse r = Get("/api/v1/sessions");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonValue v = Json(r);
  ASSERT_EQ(v.Find("sessions")->items().size(), 3u);
  const JsonValue& s = v.Find("sessions")->items()[1];
  EXPECT_EQ(s.Find("id")->string(), "s2");
  EXPECT_EQ(s.Find("user")->string(), "bob@demo.test");
  EXPECT_EQ(s.Find("client_address")->string(), "127.0.0.1:5001");
  EXPECT_EQ(s.Find("backend")->string(), "b1");
  EXPECT_EQ(s.Find("started_at")->integer(), 1700000001);
  EXPECT_EQ(s.Find("bytes_from_client")->integer(), 30);
  EXPECT_EQ(s.Find("bytes_to_client")->integer(), 40);
  EXPECT_FALSE(v.Find("truncated")->bool_value());
  EXPECT_EQ(control_.last_max_sessions, AdminApi::kMaxSessions);
}

TEST_F(AdminApiTest, ListsSessionsOfOneUser) {
  HttpResponse r = Get("/api/v1/sessions?user=alice%40demo.test");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonValue v = Json(r);
  ASSERT_EQ(v.Find("sessions")->items().size(), 2u);
  EXPECT_EQ(v.Find("sessions")->items()[1].Find("id")->string(), "s3");
}

TEST_F(AdminApiTest, SessionsAreCappedEvenIfTheControlReturnsMore) {
  control_.sessions.assign(AdminApi::kMaxSessions + 5, control_.sessions[0]);
  JsonValue v = Json(Get("/api/v1/sessions"));
  EXPECT_EQ(v.Find("sessions")->items().size(), AdminApi::kMaxSessions);
  EXPECT_TRUE(v.Find("truncated")->bool_value());
}

TEST_F(AdminApiTest, ShowsRoute) {
  HttpResponse r = Get("/api/v1/route?user=alice@demo.test");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"user":"alice@demo.test","shard":"shard-a","backend":"a1","source":"hash",)"
            R"("reason":"primary a1 up"})"
            "\n");
}

TEST_F(AdminApiTest, RouteNeedsAValidUser) {
  EXPECT_EQ(Get("/api/v1/route").status, 400);
  EXPECT_EQ(Get("/api/v1/route?user=").status, 400);
  EXPECT_EQ(Get("/api/v1/route?user=a%2Fb").status, 400);
  EXPECT_EQ(Get("/api/v1/route?user=" + std::string(200, 'a')).status, 400);
  EXPECT_EQ(Get("/api/v1/route?user=a&user=b").status, 400);
  EXPECT_EQ(Get("/api/v1/route?usr=a").status, 400);
  EXPECT_EQ(Get("/api/v1/route?user=%zz").status, 400);
  EXPECT_EQ(Get("/api/v1/sessions?user=a%00").status, 400);
  EXPECT_EQ(Get("/api/v1/backends?x=1").status, 400);
}

TEST_F(AdminApiTest, ErrorsEchoAtMost64BytesOfClientText) {
  const std::string name(5000, 'q');
  HttpResponse r = Get("/api/v1/route?" + name + "=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(std::string(64, 'q') + "..."), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(std::string(65, 'q')), std::string::npos);
  r = Post("/api/v1/reload", "{\"" + std::string(1000, 'k') + "\":1}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.find(std::string(65, 'k')), std::string::npos) << r.body;
}

TEST_F(AdminApiTest, RouteErrorsFromTheControlMapToStatuses) {
  control_.route_status = Status(StatusCode::kNotFound, "no such domain");
  HttpResponse r = Get("/api/v1/route?user=x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json(r).Find("error")->string(), "no such domain");
  control_.route_status = Unavailable("router not ready");
  EXPECT_EQ(Get("/api/v1/route?user=x").status, 503);
  control_.route_status = Internal("bug");
  EXPECT_EQ(Get("/api/v1/route?user=x").status, 500);
}

TEST_F(AdminApiTest, DrainAndUndrain) {
  HttpResponse r = Post("/api/v1/backends/a1/drain");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).Find("backend")->Find("state")->string(), "draining");
  EXPECT_EQ(control_.drained, std::vector<std::string>{"a1"});
  EXPECT_FALSE(control_.last_grace.has_value());

  r = Post("/api/v1/backends/a1/undrain", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).Find("backend")->Find("state")->string(), "up");
  EXPECT_EQ(control_.undrained, std::vector<std::string>{"a1"});
}

TEST_F(AdminApiTest, DrainTakesGraceSeconds) {
  ASSERT_EQ(Post("/api/v1/backends/b1/drain", R"({"grace_seconds": 30})").status, 200);
  EXPECT_EQ(control_.last_grace, std::chrono::seconds(30));
  ASSERT_EQ(Post("/api/v1/backends/b1/drain", " {\"grace_seconds\":0}\n").status, 200);
  EXPECT_EQ(control_.last_grace, std::chrono::seconds(0));
  ASSERT_EQ(Post("/api/v1/backends/b1/drain", R"({"grace_seconds":86400})").status, 200);
}

TEST_F(AdminApiTest, DrainRefusesBadGrace) {
  for (const char* body : {R"({"grace_seconds":-1})", R"({"grace_seconds":86401})",
                           R"({"grace_seconds":1.5})", R"({"grace_seconds":"10"})",
                           R"({"grace_seconds":null})", R"({"grace_seconds":1e3})",
                           R"({"grace":10})", R"({"grace_seconds":1,"x":2})"}) {
    EXPECT_EQ(Post("/api/v1/backends/a1/drain", body).status, 400) << body;
  }
  EXPECT_TRUE(control_.drained.empty());
}

TEST_F(AdminApiTest, UnknownBackendIs404) {
  EXPECT_EQ(Post("/api/v1/backends/zz/drain").status, 404);
  EXPECT_EQ(Post("/api/v1/backends/zz/undrain").status, 404);
}

TEST_F(AdminApiTest, Kick) {
  HttpResponse r = Post("/api/v1/users/alice%40demo.test/kick");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"user\":\"alice@demo.test\",\"kicked\":2}\n");
  EXPECT_EQ(control_.kicked, std::vector<std::string>{"alice@demo.test"});
  EXPECT_EQ(Json(Post("/api/v1/users/nobody/kick")).Find("kicked")->integer(), 0);
}

TEST_F(AdminApiTest, MoveUser) {
  HttpResponse r = Post("/api/v1/users/alice%40demo.test/move", R"({"shard":"shard-b"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"user\":\"alice@demo.test\",\"shard\":\"shard-b\",\"kicked\":1}\n");
  EXPECT_EQ(control_.moved, std::vector<std::string>{"alice@demo.test->shard-b"});
  EXPECT_EQ(Post("/api/v1/users/alice/move", R"({"shard":"shard-z"})").status, 404);
  EXPECT_EQ(Post("/api/v1/users/alice/move", "{}").status, 400);
  EXPECT_EQ(Post("/api/v1/users/alice/move", R"({"shard":"a b"})").status, 400);
  EXPECT_EQ(Post("/api/v1/users/alice/move", R"({"shard":"shard-a"})", std::nullopt).status, 401);
  EXPECT_EQ(control_.moved.size(), 1u);
}

TEST_F(AdminApiTest, AbuseBlocksAndCounters) {
  HttpResponse r = Get("/api/v1/abuse/blocks");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "{\"blocks\":[{\"scope\":\"address\",\"key\":\"192.0.2.7\",\"cause\":\"address_failures\","
            "\"remaining_seconds\":600}],\"truncated\":false}\n");
  EXPECT_EQ(control_.last_max_blocks, 10000u);
  r = Get("/api/v1/abuse/address?address=2001:db8::1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).Find("users_tried")->integer(), 2);
  EXPECT_EQ(Get("/api/v1/abuse/address?address=192.0.2.0/24").status, 400);
  EXPECT_EQ(Get("/api/v1/abuse/address?address=evil<script>").status, 400);
  EXPECT_EQ(Get("/api/v1/abuse/address").status, 400);
  EXPECT_EQ(Get("/api/v1/abuse/address?address=1.2.3.4&address=1.2.3.5").status, 400);
  EXPECT_EQ(Get("/api/v1/abuse/address?" + std::string(200, 'a') + "=1").status, 400);
  r = Get("/api/v1/abuse/user?user=carol%40demo.test");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).Find("failures")->integer(), 9);
  EXPECT_EQ(Json(r).Find("users_tried"), nullptr);
  EXPECT_EQ(Get("/api/v1/abuse/user?user=a%20b").status, 400);
}

TEST_F(AdminApiTest, AbuseUnblockNeedsTheTokenAndAValidKey) {
  HttpResponse r = Post("/api/v1/abuse/unblock", R"({"key":"192.0.2.7"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"key\":\"192.0.2.7\",\"lifted\":true}\n");
  EXPECT_FALSE(Json(Post("/api/v1/abuse/unblock", R"({"key":"198.51.100.0/24"})")).Find("lifted")->bool_value());
  EXPECT_EQ(Post("/api/v1/abuse/unblock", R"({"key":"not a key"})").status, 400);
  EXPECT_EQ(Post("/api/v1/abuse/unblock", R"({"key":")" + std::string(129, '1') + R"("})").status, 400);
  EXPECT_EQ(Post("/api/v1/abuse/unblock", "{}").status, 400);
  EXPECT_EQ(Post("/api/v1/abuse/unblock", R"({"key":"192.0.2.7"})", std::nullopt).status, 401);
  EXPECT_EQ(control_.unblocked.size(), 2u);
}

TEST_F(AdminApiTest, RevokeAppPassword) {
  HttpResponse r = Post("/api/v1/users/carol%40demo.test/revoke-app-password", R"({"name":"phone"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"user\":\"carol@demo.test\",\"app_password\":\"phone\",\"revoked\":true,\"sessions_ended\":1}\n");
  EXPECT_EQ(control_.revoked, std::vector<std::string>{"carol@demo.test/phone"});
  EXPECT_EQ(Post("/api/v1/users/carol/revoke-app-password", R"({"name":"tablet"})").status, 404);
  EXPECT_EQ(Post("/api/v1/users/carol/revoke-app-password", "{}").status, 400);
  EXPECT_EQ(Post("/api/v1/users/carol/revoke-app-password", R"({"name":7})").status, 400);
  EXPECT_EQ(Post("/api/v1/users/carol/revoke-app-password", R"({"name":"phone","x":1})").status, 400);
}

TEST_F(AdminApiTest, Reload) {
  HttpResponse r = Post("/api/v1/reload", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"ok\":true}\n");
  EXPECT_EQ(control_.reloads, 1);
}

TEST_F(AdminApiTest, RefusedReloadIs422WithTheError) {
  control_.reload_status = InvalidArgument("/etc/imapgate.yaml:3:7: unknown shard \"c\"");
  HttpResponse r = Post("/api/v1/reload");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r).Find("error")->string(), "/etc/imapgate.yaml:3:7: unknown shard \"c\"");
}

// --- the token rule ---

TEST_F(AdminApiTest, ChangeWithoutTokenIs401AndChangesNothing) {
  HttpResponse r = Post("/api/v1/reload", "", std::nullopt);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Post("/api/v1/backends/a1/drain", "", std::nullopt).status, 401);
  EXPECT_EQ(Post("/api/v1/users/x/kick", "", std::nullopt).status, 401);
  EXPECT_EQ(control_.reloads, 0);
  EXPECT_TRUE(control_.drained.empty());
  EXPECT_TRUE(control_.kicked.empty());
}

TEST_F(AdminApiTest, WrongTokensAre401) {
  const std::string token(kToken);
  for (const std::string& auth :
       {Bearer(kSameLengthWrong), Bearer("wrong"), Bearer(token.substr(0, token.size() - 1)),
        Bearer(token + "0"), Bearer(""), std::string("Bearer"), "Basic " + token, token,
        "Bearer  " + std::string(kSameLengthWrong), std::string(""),
        "Bearer " + token + " extra"}) {
    EXPECT_EQ(Post("/api/v1/reload", "", auth).status, 401) << auth;
  }
  EXPECT_EQ(control_.reloads, 0);
}

TEST_F(AdminApiTest, RightTokenIsAccepted) {
  EXPECT_EQ(Post("/api/v1/reload", "", Bearer(kToken)).status, 200);
  EXPECT_EQ(Post("/api/v1/reload", "", "bearer " + std::string(kToken)).status, 200);
  EXPECT_EQ(Post("/api/v1/reload", "", "BEARER   " + std::string(kToken)).status, 200);
  EXPECT_EQ(control_.reloads, 3);
}

TEST_F(AdminApiTest, ErrorsNeverEchoTheToken) {
  HttpResponse r = Post("/api/v1/reload", "", Bearer(kSameLengthWrong));
  EXPECT_EQ(r.body.find(kSameLengthWrong), std::string::npos);
  EXPECT_EQ(r.body.find("0123456789abcdef"), std::string::npos);
}

// --- GET /api/v1/status (issue E) ---

TEST_F(AdminApiTest, StatusHasTheWholeShape) {
  HttpResponse r = Get("/api/v1/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"version":"9.8.7","started_at":1700000000,"config_loaded_at":1700000100,)"
            R"("now":1700000200,"ready":true,"ready_reason":"ready","draining":false,)"
            R"("listeners":[{"name":"imaps","address":"127.0.0.1:993","mode":"implicit","tls":true,)"
            R"("proxy_protocol":false},{"name":"imap","address":"127.0.0.1:143","mode":"starttls",)"
            R"("tls":true,"proxy_protocol":true}],)"
            R"("shards":[{"name":"shard-a","backends_up":1,"backends":[{"name":"a1","shard":"shard-a",)"
            R"("address":"127.0.0.1:11143","security":"plaintext","state":"up","active_sessions":2,)"
            R"("last_check":{"ok":true,"detail":"ok","at":1700}}]},)"
            R"({"name":"shard-b","backends_up":1,"backends":[{"name":"b1","shard":"shard-b",)"
            R"("address":"127.0.0.1:11145","security":"starttls","state":"up","active_sessions":0,)"
            R"("last_check":null}]}],)"
            R"("counters":{"logins":{"ok":5,"failed":2},"tls_handshakes":{"ok":7,"failed":1}},)"
            R"("refusals":[{"at":1700000150,"listener":"imap","reason":"cleartext_login",)"
            R"("client_address":"192.0.2.7:5000"}],"refusals_total":3,"refusals_capacity":50})"
            "\n");
}

TEST_F(AdminApiTest, StatusSaysWhyItIsNotReady) {
  control_.status.shards[1].backends[0].state = BackendState::kDown;
  JsonValue j = Json(Get("/api/v1/status"));
  ASSERT_TRUE(j.is_object());
  EXPECT_FALSE(j.Find("ready")->bool_value());
  EXPECT_EQ(j.Find("ready_reason")->string(), "shard shard-b: no backend up (b1 down)");
  EXPECT_EQ(*j.Find("shards")->items()[1].Find("backends_up")->integer(), 0);
}

TEST_F(AdminApiTest, StatusEscapesWhatClientsAndConfigsSend) {
  control_.status.refusals = {{1, "imap", "x", "<script>\"\\\n"}};
  HttpResponse r = Get("/api/v1/status");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("client_address":"<script>\"\\\n")"), std::string::npos) << r.body;
  EXPECT_EQ(Json(r).Find("refusals")->items()[0].Find("client_address")->string(), "<script>\"\\\n");
}

TEST_F(AdminApiTest, StatusListsAtMostTheRingsBoundOfRefusals) {
  control_.status.refusals.assign(RefusalRing::kMaxCapacity + 5, Refusal{1, "imap", "r", "a"});
  JsonValue j = Json(Get("/api/v1/status"));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.Find("refusals")->items().size(), RefusalRing::kMaxCapacity);
}

TEST_F(AdminApiTest, StatusErrorsAndQueries) {
  EXPECT_EQ(Get("/api/v1/status?x=1").status, 400);
  control_.status_error = Status(StatusCode::kUnavailable, "not yet");
  EXPECT_EQ(Get("/api/v1/status").status, 503);
  EXPECT_EQ(Post("/api/v1/status", "").status, 405);
}

TEST_F(AdminApiTest, StatusFollowsTheReadRule) {
  Options remote;
  remote.loopback = false;
  EXPECT_EQ(Get("/api/v1/status", remote).status, 401);
  remote.auth = Bearer(kToken);
  EXPECT_EQ(Get("/api/v1/status", remote).status, 200);
  Options wrong;
  wrong.auth = Bearer(kSameLengthWrong);
  EXPECT_EQ(Get("/api/v1/status", wrong).status, 401);
}

TEST(AdminApiDefaultControlTest, StatusOfAControlWithoutOneIs503) {
  struct Minimal : testing::FakeAdminControl {
    StatusOr<StatusInfo> StatusReport() override { return AdminControl::StatusReport(); }
  } control;
  AdminApi api(&control, AdminToken());
  EXPECT_EQ(api.Serve(MakeRequest(HttpMethod::kGet, "/api/v1/status", {})).status, 503);
}

TEST_F(AdminApiTest, LoopbackReadsNeedNoToken) {
  EXPECT_EQ(Get("/api/v1/backends").status, 200);
  EXPECT_EQ(Get("/api/v1/sessions").status, 200);
  EXPECT_EQ(Get("/api/v1/route?user=a").status, 200);
}

TEST_F(AdminApiTest, NonLoopbackReadsNeedTheToken) {
  Options remote;
  remote.loopback = false;
  EXPECT_EQ(Get("/api/v1/backends", remote).status, 401);
  EXPECT_EQ(Get("/api/v1/sessions", remote).status, 401);
  EXPECT_EQ(Get("/api/v1/route?user=a", remote).status, 401);
  EXPECT_EQ(Get("/api/v1/nonexistent", remote).status, 401);  // no probing of paths either
  remote.auth = Bearer(kSameLengthWrong);
  EXPECT_EQ(Get("/api/v1/backends", remote).status, 401);
  remote.auth = Bearer(kToken);
  EXPECT_EQ(Get("/api/v1/backends", remote).status, 200);
}

TEST_F(AdminApiTest, WrongTokenIsRefusedEvenOnLoopbackReads) {
  Options o;
  o.auth = Bearer(kSameLengthWrong);
  EXPECT_EQ(Get("/api/v1/backends", o).status, 401);
}

TEST_F(AdminApiTest, UnauthenticatedChangesLearnNothingAboutPaths) {
  EXPECT_EQ(Post("/api/v1/nonexistent", "", std::nullopt).status, 401);
  EXPECT_EQ(Post("/api/v1/backends/..%2f/drain", "", std::nullopt).status, 401);
}

TEST(AdminApiNoTokenTest, WithoutAConfiguredTokenEveryChangeIsRefused) {
  testing::FakeAdminControl control;
  AdminApi api(&control, AdminToken());
  Options o;
  o.auth = Bearer(kToken);
  HttpResponse r = api.Serve(MakeRequest(HttpMethod::kPost, "/api/v1/reload", o));
  EXPECT_EQ(r.status, 401);
  r = api.Serve(MakeRequest(HttpMethod::kPost, "/api/v1/reload", {}));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(control.reloads, 0);
  EXPECT_EQ(api.Serve(MakeRequest(HttpMethod::kGet, "/api/v1/backends", {})).status, 200);
  Options remote;
  remote.loopback = false;
  EXPECT_EQ(api.Serve(MakeRequest(HttpMethod::kGet, "/api/v1/backends", remote)).status, 401);
}

// --- bad requests: all 4xx ---

TEST_F(AdminApiTest, BadPathsAre404) {
  for (const char* p : {"/api/", "/api/v1", "/api/v1/", "/api/v2/backends", "/api/v1/backends/",
                        "/api/v1/backends/a1", "/api/v1/backends/a1/drain/now",
                        "/api/v1/users/a/kick/x", "/api/v1/Backends", "/api/v1/reload/"}) {
    EXPECT_EQ(Get(p).status, 404) << p;
    EXPECT_EQ(Post(p).status, 404) << p;
  }
}

TEST_F(AdminApiTest, BadNamesAre400) {
  for (const std::string& name : {std::string("a%2Fb"), std::string(".."), std::string("%2e%2e"),
                                  std::string("a%00"), std::string("a%20b"), std::string("%zz"),
                                  std::string("a;b"), std::string(200, 'n'), std::string("")}) {
    EXPECT_EQ(Post("/api/v1/backends/" + name + "/drain").status, 400) << name;
    EXPECT_EQ(Post("/api/v1/users/" + name + "/kick").status, 400) << name;
  }
  EXPECT_TRUE(control_.drained.empty());
  EXPECT_TRUE(control_.kicked.empty());
}

TEST_F(AdminApiTest, BadJsonIs400) {
  for (const char* body : {"{", "[]", "null", "1", "\"x\"", "{\"a\":}", "{} x", "\xff",
                           "{\"x\":1}", "{\"a\":1,\"a\":1}"}) {
    EXPECT_EQ(Post("/api/v1/reload", body).status, 400) << body;
    EXPECT_EQ(Post("/api/v1/users/u/kick", body).status, 400) << body;
    EXPECT_EQ(Post("/api/v1/backends/a1/undrain", body).status, 400) << body;
  }
  EXPECT_EQ(Post("/api/v1/reload", std::string(40, '[') + std::string(40, ']')).status, 400);
  EXPECT_EQ(control_.reloads, 0);
}

TEST_F(AdminApiTest, BodyOverTheJsonBoundIs400) {
  // The HTTP server refuses bodies over 4 KiB; the JSON reader keeps its own bound regardless.
  EXPECT_EQ(Post("/api/v1/reload", "{}" + std::string(5000, ' ')).status, 400);
}

TEST_F(AdminApiTest, WrongMethodIs405WithAllow) {
  HttpResponse r = Get("/api/v1/reload");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>("Allow", "POST")));
  EXPECT_EQ(Get("/api/v1/backends/a1/drain").status, 405);
  r = Post("/api/v1/backends");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers[0].second, "GET, HEAD");
  Options o;
  o.auth = Bearer(kToken);
  EXPECT_EQ(Check(api_.Serve(MakeRequest(HttpMethod::kOther, "/api/v1/reload", o))).status, 405);
  EXPECT_EQ(control_.reloads, 0);
}

TEST(AdminApiNullControlTest, Is503) {
  auto token = AdminToken::FromString(kToken);
  ASSERT_TRUE(token.ok());
  AdminApi api(nullptr, std::move(*token));
  EXPECT_EQ(api.Serve(MakeRequest(HttpMethod::kGet, "/api/v1/backends", {})).status, 503);
}

}  // namespace
}  // namespace imapgate::admin
