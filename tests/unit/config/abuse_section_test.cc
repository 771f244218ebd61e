// Tests for issue C's `abuse:` section (config/abuse_section.cc): defaults, every key, each
// bound, the store's requirements, CIDR lists, and secrets only in private files.
#include "config/abuse_section.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config_test_util.h"

namespace imapgate::config {
namespace {

using std::chrono::milliseconds;

bool AbuseHas(const Lines& lines, const std::string& text) {
  for (const std::string& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string JoinLines(const Lines& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(AbuseConfigTest, OnByDefaultWithTheDocumentedValues) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  const AbuseConfig& a = c->abuse;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.store, AbuseConfig::StoreKind::kMemory);
  EXPECT_EQ(a.policy.window.length, milliseconds(600'000));
  EXPECT_EQ(a.policy.window.buckets, 6);
  EXPECT_EQ(a.policy.tarpit_after, 3u);
  EXPECT_EQ(a.policy.block_address_after, 20u);
  EXPECT_EQ(a.policy.block_spraying_after, 10u);
  EXPECT_EQ(a.policy.block_subnet_after, 100u);
  EXPECT_EQ(a.policy.user_under_attack_after, 10u);
  EXPECT_EQ(a.memory.max_keys, 1'000'000u);
  EXPECT_EQ(a.connections.max_per_address_preauth, 20u);
  EXPECT_FALSE(a.fail_closed);
  EXPECT_TRUE(a.trusted_networks.empty());
  EXPECT_EQ(a.fingerprint_key, nullptr);
  EXPECT_TRUE(a.policy_hook.url.empty());
}

TEST(AbuseConfigTest, EveryKey) {
  ConfigPtr c = LoadOk(kMinimal + R"(abuse:
  enabled: false
  window: 5m
  window_buckets: 10
  subnet_prefix_v4: 16
  subnet_prefix_v6: 48
  tarpit_after: 5
  tarpit_base: 500ms
  tarpit_max: 10s
  block_address_after: 0
  block_subnet_after: 200
  block_spraying_after: 7
  block_for: 1h
  user_under_attack_after: 12
  remember_for: 48h
  global_surge_after: 1000
  max_keys: 5000
  on_store_failure: closed
  trusted_networks: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7]
  blocklist: [198.51.100.0/24]
  connections: { per_address: 5, per_user_address: 3, per_user: 9, total: 1000, accepts_per_minute: 60 }
)");
  ASSERT_TRUE(c);
  const AbuseConfig& a = c->abuse;
  EXPECT_FALSE(a.enabled);
  EXPECT_EQ(a.policy.window.length, milliseconds(300'000));
  EXPECT_EQ(a.policy.window.buckets, 10);
  EXPECT_EQ(a.policy.subnet_prefix_v4, 16);
  EXPECT_EQ(a.policy.subnet_prefix_v6, 48);
  EXPECT_EQ(a.policy.tarpit_after, 5u);
  EXPECT_EQ(a.policy.tarpit_base, milliseconds(500));
  EXPECT_EQ(a.policy.tarpit_max, milliseconds(10'000));
  EXPECT_EQ(a.policy.block_address_after, 0u);
  EXPECT_EQ(a.policy.block_subnet_after, 200u);
  EXPECT_EQ(a.policy.block_spraying_after, 7u);
  EXPECT_EQ(a.policy.block_for, milliseconds(3'600'000));
  EXPECT_EQ(a.policy.user_under_attack_after, 12u);
  EXPECT_EQ(a.policy.remember_for, milliseconds(48LL * 3600 * 1000));
  EXPECT_EQ(a.policy.global_surge_after, 1000u);
  EXPECT_EQ(a.memory.max_keys, 5000u);
  EXPECT_TRUE(a.fail_closed);
  ASSERT_EQ(a.trusted_networks.size(), 3u);
  EXPECT_EQ(a.trusted_networks[2].ToString(), "192.0.2.7/32");
  ASSERT_EQ(a.blocklist.size(), 1u);
  EXPECT_EQ(a.connections.max_per_address_preauth, 5u);
  EXPECT_EQ(a.connections.max_per_user_address, 3u);
  EXPECT_EQ(a.connections.max_per_user, 9u);
  EXPECT_EQ(a.connections.max_total, 1000u);
  EXPECT_EQ(a.connections.accepts_per_minute, 60u);
}

TEST(AbuseConfigTest, EachBoundIsEnforcedAtItsPosition) {
  struct Case {
    const char* line;
    const char* message;
  } cases[] = {
      {"  window: 5s", "abuse.window"},
      {"  window: 25h", "abuse.window"},
      {"  window_buckets: 0", "abuse.window_buckets"},
      {"  window_buckets: 13", "abuse.window_buckets"},
      {"  subnet_prefix_v4: 33", "abuse.subnet_prefix_v4"},
      {"  subnet_prefix_v6: 129", "abuse.subnet_prefix_v6"},
      {"  tarpit_after: -1", "abuse.tarpit_after"},
      {"  tarpit_after: 1000001", "abuse.tarpit_after"},
      {"  tarpit_max: 6m", "abuse.tarpit_max"},
      {"  block_for: 0s", "abuse.block_for"},
      {"  max_keys: 999", "abuse.max_keys"},
      {"  max_keys: 100000001", "abuse.max_keys"},
      {"  on_store_failure: maybe", "abuse.on_store_failure"},
      {"  store: disk", "abuse.store"},
      {"  connections: { per_user: 1000001 }", "abuse.connections.per_user"},
      {"  connections: { nope: 1 }", "abuse.connections"},
      {"  trusted_networks: [10.0.0.1/8]", "abuse.trusted_networks[0]"},
      {"  blocklist: [not-an-address]", "abuse.blocklist[0]"},
      {"  blocklist: 10.0.0.0/8", "abuse.blocklist: expected a list"},
      {"  unknown_key: 1", "unknown_key"},
  };
  for (const Case& k : cases) {
    Lines errors = Errors(kMinimal + "abuse:\n" + k.line + "\n");
    ASSERT_FALSE(errors.empty()) << k.line;
    EXPECT_EQ(errors[0].rfind("8:", 0), 0u) << k.line << "\n" << JoinLines(errors);
    EXPECT_TRUE(AbuseHas(errors, k.message)) << k.line << "\n" << JoinLines(errors);
  }
}

TEST(AbuseConfigTest, TarpitMaxBelowBaseIsRefused) {
  Lines errors = Errors(kMinimal + "abuse:\n  tarpit_base: 2s\n  tarpit_max: 1s\n");
  EXPECT_TRUE(AbuseHas(errors, "tarpit_max: must be at least tarpit_base")) << JoinLines(errors);
}

TEST(AbuseConfigTest, ListsAreBounded) {
  std::string list = "[";
  for (size_t i = 0; i <= internal::kMaxAbuseNetworks; ++i) {
    list += (i ? ", 10.0." : "10.0.") + std::to_string(i / 256) + "." + std::to_string(i % 256);
  }
  list += "]";
  Lines errors = Errors(kMinimal + "abuse:\n  blocklist: " + list + "\n");
  EXPECT_TRUE(AbuseHas(errors, "at most 1024 ranges")) << JoinLines(errors);
}

class AbuseSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/imapgate-abuse-config-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    Write("abuse.key", "0123456789abcdef0123456789abcdef\n", 0600);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::trunc) << content;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }
  StatusOr<ConfigPtr> Load(const std::string& abuse) {
    return LoadConfigText(kMinimal + "abuse:\n" + abuse, dir_ + "/imapgate.yaml");
  }
  std::string dir_;
};

TEST_F(AbuseSecretsTest, RedisNeedsItsSectionAndASharedKey) {
  auto ok = Load("  store: redis\n  key_file: abuse.key\n  redis: { address: \"127.0.0.1:16379\", key_prefix: \"fleet:\" }\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  const AbuseConfig& a = (*ok)->abuse;
  EXPECT_EQ(a.store, AbuseConfig::StoreKind::kRedis);
  EXPECT_EQ(a.redis.port, 16379);
  EXPECT_EQ(a.redis.key_prefix, "fleet:");
  ASSERT_NE(a.fingerprint_key, nullptr);
  EXPECT_EQ(a.fingerprint_key->view(), "0123456789abcdef0123456789abcdef");

  auto no_key = Load("  store: redis\n  redis: { address: \"127.0.0.1:16379\" }\n");
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.status().message().find("redis needs abuse.key_file"), std::string::npos);
  auto no_section = Load("  store: redis\n  key_file: abuse.key\n");
  ASSERT_FALSE(no_section.ok());
  EXPECT_NE(no_section.status().message().find("redis needs an abuse.redis section"), std::string::npos);
  auto stray = Load("  redis: { address: \"127.0.0.1:16379\" }\n");
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.status().message().find("only used with store: redis"), std::string::npos);
  auto prefix = Load("  store: redis\n  key_file: abuse.key\n  redis: { address: \"127.0.0.1:1\", key_prefix: \"a b\" }\n");
  ASSERT_FALSE(prefix.ok());
  EXPECT_NE(prefix.status().message().find("key_prefix"), std::string::npos);
}

TEST_F(AbuseSecretsTest, SecretsOnlyFromPrivateFilesAndNeverQuoted) {
  auto inline_key = Load("  key: some-inline-secret-value\n");
  ASSERT_FALSE(inline_key.ok());
  EXPECT_NE(inline_key.status().message().find("secrets are not accepted inline"), std::string::npos);
  EXPECT_EQ(inline_key.status().message().find("some-inline-secret-value"), std::string::npos);
  Write("open.key", "0123456789abcdef0123456789abcdef\n", 0644);
  auto open = Load("  key_file: open.key\n");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(open.status().message().find("0123456789abcdef"), std::string::npos);
}

TEST_F(AbuseSecretsTest, PolicyHook) {
  Write("nonce", "a-policy-nonce-of-some-length\n", 0600);
  auto ok = Load("  policy_hook: { url: \"http://127.0.0.1:8084/\", nonce_file: nonce, hash_truncate: 12, "
                 "timeout: 1s, reject_on_fail: true }\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  const PolicyHookConfig& h = (*ok)->abuse.policy_hook;
  EXPECT_EQ(h.url, "http://127.0.0.1:8084/");
  EXPECT_EQ(h.timeout, milliseconds(1000));
  EXPECT_TRUE(h.reject_on_fail);
  ASSERT_NE(h.nonce, nullptr);
  auto no_nonce = Load("  policy_hook: { url: \"http://127.0.0.1:1/\" }\n");
  ASSERT_FALSE(no_nonce.ok());
  EXPECT_NE(no_nonce.status().message().find("nonce_file"), std::string::npos);
  auto bad = Load("  policy_hook: { url: \"ftp://x/\", nonce_file: nonce }\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("policy_hook.url"), std::string::npos);
  auto truncate = Load("  policy_hook: { url: \"http://127.0.0.1:1/\", nonce_file: nonce, hash_truncate: 257 }\n");
  ASSERT_FALSE(truncate.ok());
  EXPECT_NE(truncate.status().message().find("hash_truncate"), std::string::npos);
}

}  // namespace
}  // namespace imapgate::config
