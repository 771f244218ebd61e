// Tests for net::HttpRouter: segment matching, one name segment, 404/405/400, HEAD as GET.

#include "net/http_router.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::net {
namespace {

HttpRequest Req(HttpMethod method, std::string path) {
  HttpRequest r;
  r.method = method;
  r.method_name = method == HttpMethod::kPost ? "POST" : method == HttpMethod::kGet ? "GET" : "X";
  r.path = std::move(path);
  return r;
}

class HttpRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(HttpMethod::kGet, "/api/v1/backends", [](const HttpRequest&, std::string_view n) {
      return HttpResponse(200, "text/plain", "list:" + std::string(n));
    });
    router_.Add(HttpMethod::kPost, "/api/v1/backends/{}/drain",
                [](const HttpRequest&, std::string_view n) {
                  return HttpResponse(200, "text/plain", "drain:" + std::string(n));
                });
  }
  HttpRouter router_;
};

TEST_F(HttpRouterTest, ExactRoute) {
  HttpResponse r = router_.Route(Req(HttpMethod::kGet, "/api/v1/backends"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "list:");
}

TEST_F(HttpRouterTest, HeadServedByGetRoute) {
  EXPECT_EQ(router_.Route(Req(HttpMethod::kHead, "/api/v1/backends")).status, 200);
}

TEST_F(HttpRouterTest, NameSegmentIsDecodedAndPassed) {
  HttpResponse r = router_.Route(Req(HttpMethod::kPost, "/api/v1/backends/a1/drain"));
  EXPECT_EQ(r.body, "drain:a1");
  r = router_.Route(Req(HttpMethod::kPost, "/api/v1/backends/alice%40demo.test/drain"));
  EXPECT_EQ(r.body, "drain:alice@demo.test");
}

TEST_F(HttpRouterTest, UnknownPathsAre404) {
  for (const char* p : {"/", "", "api/v1/backends", "/api/v1/backends/", "/api/v1/backend",
                        "/api/v1/backends/a1", "/api/v1/backends/a1/drain/x", "/API/v1/backends",
                        "/api/v1//backends"}) {
    EXPECT_EQ(router_.Route(Req(HttpMethod::kGet, p)).status, 404) << p;
  }
}

TEST_F(HttpRouterTest, WrongMethodIs405WithAllow) {
  HttpResponse r = router_.Route(Req(HttpMethod::kPost, "/api/v1/backends"));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>("Allow", "GET, HEAD")));
  r = router_.Route(Req(HttpMethod::kGet, "/api/v1/backends/a1/drain"));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "POST");
  EXPECT_EQ(router_.Route(Req(HttpMethod::kOther, "/api/v1/backends")).status, 405);
}

TEST_F(HttpRouterTest, BadNamesAre400) {
  const std::string too_long(kMaxRouteNameBytes + 1, 'a');
  for (const std::string& name :
       {std::string(""), std::string("."), std::string(".."), std::string("%2e%2e"),
        std::string("a%2Fb"), std::string("a%00"), std::string("a%zz"), std::string("a b"),
        std::string("a%20b"), std::string("x;rm"), std::string("%c3%a9"), std::string("a\"b"),
        too_long}) {
    HttpResponse r = router_.Route(Req(HttpMethod::kPost, "/api/v1/backends/" + name + "/drain"));
    EXPECT_EQ(r.status, 400) << name;
  }
  const std::string longest(kMaxRouteNameBytes, 'a');
  EXPECT_EQ(router_.Route(Req(HttpMethod::kPost, "/api/v1/backends/" + longest + "/drain")).status,
            200);
}

TEST_F(HttpRouterTest, ErrorFormatterShapesErrors) {
  HttpRouter json([](int status, std::string_view message) {
    return HttpResponse(status, "application/json", "E" + std::string(message));
  });
  HttpResponse r = json.Route(Req(HttpMethod::kGet, "/nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "Enot found");
}

TEST_F(HttpRouterTest, MalformedPatternsAreIgnored) {
  HttpRouter router;
  auto fn = [](const HttpRequest&, std::string_view) { return HttpResponse(200, "t", "x"); };
  router.Add(HttpMethod::kGet, "/a/{}/{}", fn);
  router.Add(HttpMethod::kGet, "b", fn);
  EXPECT_EQ(router.Route(Req(HttpMethod::kGet, "/a/x/y")).status, 404);
  EXPECT_EQ(router.Route(Req(HttpMethod::kGet, "b")).status, 404);
}

TEST(IsValidRouteNameTest, Charset) {
  EXPECT_TRUE(IsValidRouteName("a1"));
  EXPECT_TRUE(IsValidRouteName("alice@demo.test"));
  EXPECT_TRUE(IsValidRouteName("shard-a_b+c"));
  EXPECT_FALSE(IsValidRouteName(".hidden"));
  EXPECT_FALSE(IsValidRouteName("a/b"));
  EXPECT_FALSE(IsValidRouteName("a\nb"));
}

}  // namespace
}  // namespace imapgate::net
