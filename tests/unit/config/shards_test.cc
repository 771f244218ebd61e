// Tests for the `shards:` and `routing:` config sections (config/shards.cc), and the
// compatibility of A's single `backend:`.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config_test_util.h"

namespace imapgate::config {
namespace {

const std::string kListener = R"(listeners:
  - name: a
    address: 127.0.0.1:1993
    tls: {certificate: c.pem, key: k.pem}
)";

// Two shards in 18 lines; line 5 is "shards:", shard-b ends the text so tests can append keys.
const std::string kTwoShards = kListener + R"(shards:
  - name: shard-a
    backends:
      - name: a1
        address: 127.0.0.1:11143
      - name: a2
        address: 127.0.0.1:11144
        security: starttls
        tls_ca: ca.pem
        proxy_protocol: true
  - name: shard-b
    weight: 3
    backends:
      - {name: b1, address: 'imap-b.example:993', security: tls}
)";

TEST(ShardsConfigTest, ReadsShardsInOrderWithTheirBackends) {
  ConfigPtr c = LoadOk(kTwoShards);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->shards.size(), 2u);
  const ShardConfig& a = c->shards[0];
  EXPECT_EQ(a.name, "shard-a");
  EXPECT_EQ(a.weight, 1u);
  ASSERT_EQ(a.backends.size(), 2u);
  EXPECT_EQ(a.backends[0].name, "a1");
  EXPECT_EQ(a.backends[0].address.port, 11143);
  EXPECT_FALSE(a.backends[0].send_proxy_v2);
  EXPECT_EQ(a.backends[1].name, "a2");
  EXPECT_EQ(a.backends[1].security, BackendSecurity::kStartTls);
  EXPECT_EQ(a.backends[1].tls_ca_file, kDir + "/ca.pem");
  EXPECT_EQ(a.backends[1].tls_server_name, "127.0.0.1");
  EXPECT_TRUE(a.backends[1].send_proxy_v2);
  EXPECT_EQ(a.location.line, 6);
  const ShardConfig& b = c->shards[1];
  EXPECT_EQ(b.name, "shard-b");
  EXPECT_EQ(b.weight, 3u);
  ASSERT_EQ(b.backends.size(), 1u);
  EXPECT_EQ(b.backends[0].address.host, "imap-b.example");
  EXPECT_EQ(b.backends[0].security, BackendSecurity::kTls);
  EXPECT_EQ(b.backends[0].address_location.line, 18);
  // The single-backend code reads the first shard's primary.
  EXPECT_EQ(c->backend.name, "a1");
  EXPECT_EQ(c->backend.address.port, 11143);
  EXPECT_TRUE(c->routing.overrides.empty());
  EXPECT_TRUE(c->routing.domains.empty());
  EXPECT_EQ(c->routing.default_domain, "");
}

TEST(ShardsConfigTest, SingleBackendIsTheShardDefault) {
  ConfigPtr c = LoadOk(kMinimal + "  proxy_protocol: true\n");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->shards.size(), 1u);
  EXPECT_EQ(c->shards[0].name, "default");
  EXPECT_EQ(c->shards[0].weight, 1u);
  ASSERT_EQ(c->shards[0].backends.size(), 1u);
  EXPECT_EQ(c->shards[0].backends[0].name, "default");
  EXPECT_EQ(c->shards[0].backends[0].address.port, 143);
  EXPECT_TRUE(c->backend.send_proxy_v2);
  EXPECT_EQ(c->backend.address.port, 143);
  // Routing rules may name it.
  EXPECT_TRUE(LoadOk(kMinimal + "routing:\n  domains: {demo.test: default}\n"));
}

TEST(ShardsConfigTest, ReadsRouting) {
  ConfigPtr c = LoadOk(kTwoShards + "routing:\n"
                                    "  default_domain: Demo.Test\n"
                                    "  domains:\n"
                                    "    Corp.Example: shard-b\n"
                                    "    other.example: shard-a\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->routing.default_domain, "demo.test");
  EXPECT_EQ(c->routing.domains,
            (std::map<std::string, std::string>{{"corp.example", "shard-b"},
                                                {"other.example", "shard-a"}}));
  EXPECT_EQ(c->routing.override_file, "");
}

TEST(ShardsConfigErrorsTest, BackendAndShardsTogether) {
  EXPECT_EQ(Errors(kTwoShards + "backend: {address: 127.0.0.1:143}\n"),
            (Lines{"5:1: shards: use either backend (one backend, the shard 'default') or "
                   "shards, not both; move the backend into a shard's backends list"}));
}

TEST(ShardsConfigErrorsTest, NeitherBackendNorShards) {
  EXPECT_EQ(Errors(kListener), (Lines{"1:1: missing required key 'backend'"}));
}

TEST(ShardsConfigErrorsTest, DuplicateShardAndBackendNames) {
  EXPECT_EQ(Errors(kTwoShards + "  - name: shard-a\n"
                                "    backends: [{name: a2, address: 127.0.0.1:1}]\n"),
            (Lines{"19:11: shards[shard-a].name: duplicate shard name 'shard-a' (first at 6:11)",
                   "20:23: shards[shard-a].backends[a2].name: duplicate backend name 'a2' (first "
                   "at 10:15)"}));
}

TEST(ShardsConfigErrorsTest, ShardValues) {
  const std::string shard = kListener + "shards:\n  - name: s\n    backends: [{name: b, address: 127.0.0.1:1}]\n";
  EXPECT_EQ(Errors(shard + "    weight: 0\n"),
            (Lines{"8:13: shards[s].weight: must be between 1 and 10000, got 0"}));
  EXPECT_EQ(Errors(shard + "    weight: -2\n"),
            (Lines{"8:13: shards[s].weight: must be between 1 and 10000, got -2"}));
  EXPECT_EQ(Errors(shard + "    weight: 10001\n"),
            (Lines{"8:13: shards[s].weight: must be between 1 and 10000, got 10001"}));
  EXPECT_EQ(Errors(shard + "    weight: heavy\n"),
            (Lines{"8:13: shards[s].weight: expected an integer, got 'heavy'"}));
  EXPECT_TRUE(LoadOk(shard + "    weight: 10000\n"));
  EXPECT_EQ(Errors(shard + "    wieght: 2\n"),
            (Lines{"8:5: unknown key 'wieght' in shards[s] (did you mean 'weight'?)"}));
  EXPECT_EQ(Errors(kListener + "shards:\n  - name: Shard A\n    backends: [{name: b, address: 127.0.0.1:1}]\n"),
            (Lines{"6:11: shards[0].name: must be 1 to 32 characters of a-z, 0-9, '_' and '-', "
                   "got 'Shard A'"}));
}

TEST(ShardsConfigErrorsTest, ShardListShape) {
  EXPECT_EQ(Errors(kListener + "shards: []\n"),
            (Lines{"5:9: shards: at least one shard is required"}));
  EXPECT_EQ(Errors(kListener + "shards:\n"), (Lines{"5:1: shards: at least one shard is required"}));
  EXPECT_EQ(Errors(kListener + "shards: {a: 1}\n"),
            (Lines{"5:9: shards: expected a list of shards, got a mapping"}));
  EXPECT_EQ(Errors(kListener + "shards:\n  - name: s\n"),
            (Lines{"6:5: missing required key 'backends' in shards[s]"}));
  EXPECT_EQ(Errors(kListener + "shards:\n  - name: s\n    backends: []\n"),
            (Lines{"7:15: shards[s].backends: at least one backend is required"}));
  EXPECT_EQ(Errors(kListener + "shards:\n  - backends: [{name: b, address: 127.0.0.1:1}]\n"),
            (Lines{"6:5: missing required key 'name' in shards[0]"}));
  EXPECT_EQ(Errors(kListener + "shards:\n  - name: s\n    backends: [{address: 127.0.0.1:1}]\n"),
            (Lines{"7:16: missing required key 'name' in shards[s].backends[0]"}));
  EXPECT_EQ(
      Errors(kListener + "shards:\n  - name: s\n    backends: [{name: b, address: 127.0.0.1:1, "
                         "proxy_protocol: v2}]\n"),
      (Lines{"7:64: shards[s].backends[b].proxy_protocol: expected true or false, got 'v2'"}));
}

TEST(ShardsConfigErrorsTest, BoundsOnShardsAndBackends) {
  std::string backends;
  for (int i = 0; i < 17; ++i) {
    backends += (i ? ", " : "") + std::string("{name: b") + std::to_string(i) +
                ", address: 127.0.0.1:1}";
  }
  EXPECT_EQ(Errors(kListener + "shards:\n  - name: s\n    backends: [" + backends + "]\n"),
            (Lines{"7:15: shards[s].backends: at most 16 backends are allowed, got 17"}));
  std::string shards = kListener + "shards:\n";
  for (int i = 0; i < 1001; ++i) {
    shards += "  - {name: s" + std::to_string(i) + ", backends: [{name: b" + std::to_string(i) +
              ", address: 127.0.0.1:1}]}\n";
  }
  EXPECT_EQ(Errors(shards), (Lines{"6:3: shards: at most 1000 shards are allowed, got 1001"}));
}

TEST(ShardsConfigErrorsTest, DomainRules) {
  EXPECT_EQ(Errors(kTwoShards + "routing:\n  domains:\n    corp.example: shard-x\n"),
            (Lines{"21:19: routing.domains[corp.example]: unknown shard 'shard-x'"}));
  EXPECT_EQ(Errors(kTwoShards + "routing:\n  domains:\n    a.example: shard-a\n    A.Example: shard-b\n"),
            (Lines{"22:5: routing.domains[a.example]: duplicate domain (first at 21:5)"}));
  EXPECT_EQ(Errors(kTwoShards + "routing:\n  domains:\n    'bad domain': shard-a\n"),
            (Lines{"21:5: routing.domains: expected a domain name (letters, digits, '-' and '.'), "
                   "got 'bad domain'"}));
  EXPECT_EQ(Errors(kTwoShards + "routing:\n  domains:\n    a.example:\n"),
            (Lines{"21:5: routing.domains[a.example]: expected a shard name"}));
  EXPECT_EQ(Errors(kTwoShards + "routing:\n  domains: [a]\n"),
            (Lines{"20:12: routing.domains: expected a mapping of domain: shard, got a sequence"}));
  EXPECT_EQ(Errors(kTwoShards + "routing:\n  default_domain: '@demo.test'\n"),
            (Lines{"20:19: routing.default_domain: expected a domain name (letters, digits, '-' "
                   "and '.'), got '@demo.test'"}));
  EXPECT_EQ(Errors(kTwoShards + "routing:\n  default_domian: demo.test\n"),
            (Lines{"20:3: unknown key 'default_domian' in routing (did you mean "
                   "'default_domain'?)"}));
}

// A config and an override file in a fresh directory.
class OverrideFileConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/imapgate-shards-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StatusOr<ConfigPtr> Load(const std::string& overrides, const std::string& routing_extra = "") {
    std::ofstream(dir_ + "/overrides.txt") << overrides;
    return LoadConfigText(kTwoShards + "routing:\n  override_file: overrides.txt\n" + routing_extra,
                          dir_ + "/imapgate.yaml");
  }
  std::string dir_;
};

TEST_F(OverrideFileConfigTest, LoadsTheFileWithTheDefaultDomain) {
  StatusOr<ConfigPtr> c = Load("# moved\nAlice shard-b\nbob@other.test shard-a\n",
                               "  default_domain: demo.test\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->routing.override_file, dir_ + "/overrides.txt");
  EXPECT_EQ((*c)->routing.overrides,
            (OverrideMap{{"alice@demo.test", "shard-b"}, {"bob@other.test", "shard-a"}}));
}

TEST_F(OverrideFileConfigTest, UnknownShardIsAConfigErrorWithItsLine) {
  StatusOr<ConfigPtr> c = Load("alice shard-b\n\nbob   shard-x\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            dir_ + "/imapgate.yaml:20:18: routing.override_file: " + dir_ +
                "/overrides.txt:3:7: unknown shard 'shard-x' (shards: shard-a, shard-b)");
}

TEST_F(OverrideFileConfigTest, MissingFileIsAConfigError) {
  StatusOr<ConfigPtr> c = LoadConfigText(
      kTwoShards + "routing:\n  override_file: nope.txt\n", dir_ + "/imapgate.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), dir_ + "/imapgate.yaml:20:18: routing.override_file: " + dir_ +
                                      "/nope.txt: cannot read file: No such file or directory");
}

TEST_F(OverrideFileConfigTest, EveryFileErrorIsOneConfigLine) {
  StatusOr<ConfigPtr> c = Load("a shard-x\nb\nc shard-a extra\n");
  ASSERT_FALSE(c.ok());
  const std::string at = dir_ + "/imapgate.yaml:20:18: routing.override_file: " + dir_ +
                         "/overrides.txt:";
  EXPECT_EQ(c.status().message(),
            at + "1:3: unknown shard 'shard-x' (shards: shard-a, shard-b)\n" + at +
                "2:2: missing shard after user 'b' (expected 'USER SHARD')\n" + at +
                "3:11: unexpected third field 'extra' (expected 'USER SHARD', then optionally a # "
                "comment)");
}

}  // namespace
}  // namespace imapgate::config
