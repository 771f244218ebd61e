// Tests for issue B's config keys (config/auth_section.cc): auth: and a listener's auth_chain: /
// auth_mechanisms:.
#include "config/auth_section.h"

#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_util.h"

namespace imapgate::config {
namespace {

using std::chrono::milliseconds;
using Type = AuthSourceConfig::Type;

// True when one of the error lines contains `text`.
bool Has(const Lines& lines, const std::string& text) {
  for (const std::string& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(AuthConfigTest, WithoutAuthTheChainIsThePassThrough) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->auth.sources.size(), 1u);
  EXPECT_EQ(c->auth.sources[0].name, "backend");
  EXPECT_EQ(c->auth.sources[0].type, Type::kBackend);
  EXPECT_EQ(c->auth.chain, (std::vector<std::string>{"backend"}));
  EXPECT_EQ(c->listeners[0].auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));
  EXPECT_TRUE(c->auth.master_users.empty());
}

TEST(AuthConfigTest, SourcesChainAndDefaults) {
  ConfigPtr c = LoadOk(kMinimal + R"(auth:
  sources:
    users: { type: file, path: users.yaml, unknown_users: next }
    nginx: { type: http, url: "http://127.0.0.1:18080/auth", timeout: 2s, max_idle: 8 }
    pass: { type: backend }
  chain: [users, nginx, pass]
  mechanisms: [plain, xoauth2]
  hash_threads: 4
  hash_queue: 200
  cache_ttl: 0s
  second_factor:
    remember_devices: 1h
    push: { url: "http://127.0.0.1:18081/push", timeout: 30s, poll_interval: 500ms }
  master_users: [Admin@Demo.Test]
)");
  ASSERT_TRUE(c);
  const AuthConfig& a = c->auth;
  ASSERT_EQ(a.sources.size(), 3u);
  EXPECT_EQ(a.sources[0].type, Type::kFile);
  EXPECT_EQ(a.sources[0].users_file, kDir + "/users.yaml");
  EXPECT_TRUE(a.sources[0].unknown_users_next);
  EXPECT_EQ(a.sources[1].type, Type::kHttp);
  EXPECT_EQ(a.sources[1].url, "http://127.0.0.1:18080/auth");
  EXPECT_EQ(a.sources[1].timeout, milliseconds(2000));
  EXPECT_EQ(a.sources[1].max_idle, 8u);
  EXPECT_EQ(a.sources[2].type, Type::kBackend);
  EXPECT_EQ(a.chain, (std::vector<std::string>{"users", "nginx", "pass"}));
  EXPECT_EQ(a.mechanisms, (std::vector<std::string>{"PLAIN", "XOAUTH2"}));
  EXPECT_EQ(c->listeners[0].auth_mechanisms, a.mechanisms);  // the listener inherits them
  EXPECT_EQ(a.hash_threads, 4);
  EXPECT_EQ(a.hash_queue, 200u);
  EXPECT_EQ(a.cache_ttl, milliseconds(0));
  EXPECT_EQ(a.remember_devices, milliseconds(3600 * 1000));
  EXPECT_EQ(a.push.url, "http://127.0.0.1:18081/push");
  EXPECT_EQ(a.push.timeout, milliseconds(30000));
  EXPECT_EQ(a.push.poll_interval, milliseconds(500));
  EXPECT_EQ(a.master_users, (std::vector<std::string>{"admin@demo.test"}));
}

TEST(AuthConfigTest, ListenerChainAndMechanisms) {
  const std::string text = R"(listeners:
  - name: a
    address: 127.0.0.1:1993
    tls: {certificate: c.pem, key: k.pem}
    auth_chain: [pass]
    auth_mechanisms: [PLAIN]
backend:
  address: 127.0.0.1:143
auth:
  sources:
    users: { type: file, path: users.yaml }
    pass: { type: backend }
  chain: [users]
)";
  ConfigPtr c = LoadOk(text);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listeners[0].auth_chain, (std::vector<std::string>{"pass"}));
  EXPECT_EQ(c->listeners[0].auth_mechanisms, (std::vector<std::string>{"PLAIN"}));
}

TEST(AuthConfigTest, ErrorsPointAtTheValue) {
  auto with = [](const std::string& auth) { return kMinimal + "auth:\n" + auth; };
  // An unknown source in the chain.
  Lines e = Errors(with("  sources:\n    pass: { type: backend }\n  chain: [nope]\n"));
  EXPECT_TRUE(Has(e, "no auth source named 'nope'")) << ::testing::PrintToString(e);
  // The backend source must be last: it always decides.
  e = Errors(with("  sources:\n    pass: { type: backend }\n    u: { type: file, path: u.yaml }\n  chain: [pass, u]\n"));
  EXPECT_TRUE(Has(e, "must come last")) << ::testing::PrintToString(e);
  // Keys of another kind of source.
  e = Errors(with("  sources:\n    u: { type: file, path: u.yaml, url: \"http://x/\" }\n  chain: [u]\n"));
  EXPECT_TRUE(Has(e, "not a key of a file source")) << ::testing::PrintToString(e);
  // A URL that is not http(s) or unix.
  e = Errors(with("  sources:\n    h: { type: http, url: \"ftp://x/\" }\n  chain: [h]\n"));
  EXPECT_TRUE(Has(e, "expected an http://")) << ::testing::PrintToString(e);
  // Unknown mechanism, duplicate mechanism.
  e = Errors(with("  sources:\n    p: { type: backend }\n  chain: [p]\n  mechanisms: [CRAM-MD5]\n"));
  EXPECT_TRUE(Has(e, "unknown SASL mechanism")) << ::testing::PrintToString(e);
  e = Errors(with("  sources:\n    p: { type: backend }\n  chain: [p]\n  mechanisms: [PLAIN, plain]\n"));
  EXPECT_TRUE(Has(e, "duplicate mechanism")) << ::testing::PrintToString(e);
  // Bounds.
  e = Errors(with("  sources:\n    p: { type: backend }\n  chain: [p]\n  hash_threads: 65\n"));
  EXPECT_TRUE(Has(e, "hash_threads")) << ::testing::PrintToString(e);
  e = Errors(with("  sources:\n    p: { type: backend }\n  chain: [p]\n  hash_queue: 0\n"));
  EXPECT_TRUE(Has(e, "hash_queue")) << ::testing::PrintToString(e);
  e = Errors(with("  sources:\n    p: { type: backend }\n  chain: [p, p]\n"));
  EXPECT_TRUE(Has(e, "already in the chain")) << ::testing::PrintToString(e);
  // A source name that is not a label.
  e = Errors(with("  sources:\n    Bad Name: { type: backend }\n  chain: [p]\n"));
  EXPECT_TRUE(Has(e, "source names must match")) << ::testing::PrintToString(e);
}

TEST(AuthConfigTest, AtMostSixteenSources) {
  std::string sources;
  for (int i = 0; i < 17; ++i) sources += "    s" + std::to_string(i) + ": { type: backend }\n";
  Lines e = Errors(kMinimal + "auth:\n  sources:\n" + sources + "  chain: [s0]\n");
  EXPECT_TRUE(Has(e, "at most 16 sources")) << ::testing::PrintToString(e);
}

}  // namespace
}  // namespace imapgate::config
