// ParseUrl: pure tests (no DNS).
#include "httpc/url.h"

#include <gtest/gtest.h>
#include <sys/un.h>

namespace imapgate::httpc {
namespace {

TEST(UrlTest, HttpWithPortPathAndQuery) {
  auto u = ParseUrl("http://127.0.0.1:8080/auth?x=1");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->scheme, Url::Scheme::kHttp);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/auth?x=1");
  EXPECT_FALSE(u->needs_resolution);
  EXPECT_EQ(u->address.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(u->HostHeader(), "127.0.0.1:8080");
}

TEST(UrlTest, DefaultsAndIpv6) {
  auto u = ParseUrl("https://[::1]");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->HostHeader(), "[::1]");
  EXPECT_EQ(u->address.ToString(), "[::1]:443");
  auto q = ParseUrl("http://localhost?a=b");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->target, "/?a=b");
  EXPECT_EQ(q->address.ToString(), "127.0.0.1:80");
  EXPECT_EQ(q->HostHeader(), "localhost");
}

TEST(UrlTest, NameIsLeftForResolution) {
  auto u = ParseUrl("https://auth.example.org:8443/check");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->needs_resolution);
  EXPECT_EQ(u->HostHeader(), "auth.example.org:8443");
}

TEST(UrlTest, UnixSocketNginxStyle) {
  auto u = ParseUrl("unix:/run/auth.sock:/auth?x");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->scheme, Url::Scheme::kUnix);
  EXPECT_EQ(u->unix_path, "/run/auth.sock");
  EXPECT_EQ(u->target, "/auth?x");
  EXPECT_EQ(u->HostHeader(), "localhost");
  EXPECT_EQ(u->address.storage.ss_family, AF_UNIX);
  auto bare = ParseUrl("unix:/run/auth.sock");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->target, "/");
}

TEST(UrlTest, BadUrlsAreRefused) {
  for (const char* bad : {"ftp://h/", "http://", "http://:80/", "http://h:0/", "http://h:65536/", "http://h:8x/",
                          "http://user@h/", "http://h/a b", "http://h/#frag", "http://h/a\x01", "http://[::1/",
                          "http://[zz]/", "http://h:/", "unix:relative.sock", "unix:", "http://h/%00\x7f",
                          "http://h\x80/"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

// Bounds: the whole URL, the host, the UNIX socket path.
TEST(UrlTest, Bounds) {
  std::string path(kMaxUrlBytes - std::string("http://h").size(), 'a');
  path[0] = '/';
  EXPECT_TRUE(ParseUrl("http://h" + path).ok());
  EXPECT_FALSE(ParseUrl("http://h" + path + "a").ok());
  EXPECT_TRUE(ParseUrl("http://" + std::string(kMaxHostBytes, 'a') + "/").ok());
  EXPECT_FALSE(ParseUrl("http://" + std::string(kMaxHostBytes + 1, 'a') + "/").ok());
  std::string sock = "/" + std::string(kMaxUnixPathBytes - 1, 's');
  EXPECT_TRUE(ParseUrl("unix:" + sock).ok());
  EXPECT_FALSE(ParseUrl("unix:" + sock + "s").ok());
  static_assert(kMaxUnixPathBytes + 1 == sizeof(sockaddr_un::sun_path));
}

}  // namespace
}  // namespace imapgate::httpc
