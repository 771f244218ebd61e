// Tests for D's operations keys (config/operations.cc): health_checks:, timeouts.drain_grace, a
// listener's proxy_protocol:, and admin.token_file.
#include "config/operations.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config/units.h"
#include "config_test_util.h"

namespace imapgate::config {
namespace {

using std::chrono::milliseconds;

// kMinimal is 6 lines; appended sections start at line 7.
TEST(WarmConnectionsConfigTest, DefaultsOffAndBounds) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->warm_connections.per_backend, 0u);
  EXPECT_EQ(c->warm_connections.max_age, milliseconds(30000));
  auto load = [](const std::string& line) { return kMinimal + "warm_connections:\n  " + line + "\n"; };
  c = LoadOk(load("per_backend: 64\n  max_age: 10m"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->warm_connections.per_backend, 64u);
  EXPECT_EQ(c->warm_connections.max_age, milliseconds(600000));
  EXPECT_TRUE(LoadOk(load("max_age: 1s")));
  EXPECT_EQ(Errors(load("per_backend: 65")),
            (Lines{"8:16: warm_connections.per_backend: must be between 0 and 64, got 65"}));
  EXPECT_EQ(Errors(load("max_age: 999ms")),
            (Lines{"8:12: warm_connections.max_age: must be between 1s and 10m, got 999ms"}));
  EXPECT_EQ(Errors(load("size: 2")), (Lines{"8:3: unknown key 'size' in warm_connections"}));
}

TEST(HealthChecksConfigTest, Defaults) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->health_checks.enabled);
  EXPECT_EQ(c->health_checks.interval, milliseconds(5000));
  EXPECT_EQ(c->health_checks.timeout, milliseconds(3000));
  EXPECT_EQ(c->health_checks.rise, 2);
  EXPECT_EQ(c->health_checks.fall, 2);
}

TEST(HealthChecksConfigTest, ReadsEveryKey) {
  ConfigPtr c = LoadOk(kMinimal +
                       "health_checks: {enabled: false, interval: 10s, timeout: 10s, rise: 3, "
                       "fall: 5}\n");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->health_checks.enabled);
  EXPECT_EQ(c->health_checks.interval, milliseconds(10000));
  EXPECT_EQ(c->health_checks.timeout, milliseconds(10000));  // equal to interval is allowed
  EXPECT_EQ(c->health_checks.rise, 3);
  EXPECT_EQ(c->health_checks.fall, 5);
}

TEST(HealthChecksConfigTest, Bounds) {
  auto load = [](const std::string& line) { return kMinimal + "health_checks:\n  " + line + "\n"; };
  // Lower and upper bounds load.
  EXPECT_TRUE(LoadOk(load("interval: 100ms\n  timeout: 100ms")));
  EXPECT_TRUE(LoadOk(load("interval: 1h\n  timeout: 1m")));
  EXPECT_TRUE(LoadOk(load("rise: 1\n  fall: 1")));
  EXPECT_TRUE(LoadOk(load("rise: 100\n  fall: 100")));
  EXPECT_EQ(Errors(load("interval: 99ms\n  timeout: 99ms")),
            (Lines{"8:13: health_checks.interval: must be between 100ms and 1h, got 99ms",
                   "9:12: health_checks.timeout: must be between 100ms and 1m, got 99ms"}));
  EXPECT_EQ(Errors(load("interval: 61m")),
            (Lines{"8:13: health_checks.interval: must be between 100ms and 1h, got 61m"}));
  EXPECT_EQ(Errors(load("interval: 2m\n  timeout: 61s")),
            (Lines{"9:12: health_checks.timeout: must be between 100ms and 1m, got 61s"}));
  EXPECT_EQ(Errors(load("rise: 0")),
            (Lines{"8:9: health_checks.rise: must be between 1 and 100, got 0"}));
  EXPECT_EQ(Errors(load("rise: 101")),
            (Lines{"8:9: health_checks.rise: must be between 1 and 100, got 101"}));
  EXPECT_EQ(Errors(load("fall: 0")),
            (Lines{"8:9: health_checks.fall: must be between 1 and 100, got 0"}));
  EXPECT_EQ(Errors(load("fall: 101")),
            (Lines{"8:9: health_checks.fall: must be between 1 and 100, got 101"}));
  EXPECT_EQ(Errors(load("enabled: yes")),
            (Lines{"8:12: health_checks.enabled: expected true or false, got 'yes'"}));
  EXPECT_EQ(Errors(load("intervall: 5s")),
            (Lines{"8:3: unknown key 'intervall' in health_checks (did you mean 'interval'?)"}));
}

TEST(HealthChecksConfigTest, TimeoutMustBeAtMostTheInterval) {
  EXPECT_EQ(Errors(kMinimal + "health_checks:\n  interval: 2s\n  timeout: 2001ms\n"),
            (Lines{"9:12: health_checks: timeout (2001ms) must be at most interval (2s)"}));
  // Against the default interval (5s), reported at the timeout that breaks it.
  EXPECT_EQ(Errors(kMinimal + "health_checks:\n  timeout: 6s\n"),
            (Lines{"8:12: health_checks: timeout (6s) must be at most interval (5s)"}));
  // Against the default timeout (3s), reported at the interval.
  EXPECT_EQ(Errors(kMinimal + "health_checks:\n  interval: 1s\n"),
            (Lines{"8:13: health_checks: timeout (3s) must be at most interval (1s)"}));
}

TEST(DrainGraceConfigTest, DefaultAndBounds) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->timeouts.drain_grace, milliseconds(60000));
  c = LoadOk(kMinimal + "timeouts:\n  drain_grace: 0s\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->timeouts.drain_grace, milliseconds(0));
  c = LoadOk(kMinimal + "timeouts:\n  drain_grace: 24h\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->timeouts.drain_grace, std::chrono::hours(24));
  EXPECT_EQ(Errors(kMinimal + "timeouts:\n  drain_grace: 25h\n"),
            (Lines{"8:16: timeouts.drain_grace: must be between 0ms and 24h, got 25h"}));
  EXPECT_EQ(Errors(kMinimal + "timeouts:\n  drain_grace: 10\n"),
            (Lines{"8:16: timeouts.drain_grace: " +
                   ParseDuration("10").status().message()}));
}

// One listener with a proxy_protocol mapping starting at line 5 (keys at column 7).
std::string ListenerWith(const std::string& proxy_lines) {
  return "listeners:\n  - name: a\n    address: 127.0.0.1:1993\n    tls: {certificate: c.pem, key: "
         "k.pem}\n    proxy_protocol:\n" +
         proxy_lines + "backend:\n  address: 127.0.0.1:143\n";
}

TEST(ProxyProtocolInConfigTest, OffByDefault) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  const ProxyProtocolInConfig& p = c->listeners[0].proxy_protocol;
  EXPECT_EQ(p.mode, ProxyProtocolInConfig::Mode::kOff);
  EXPECT_TRUE(p.trusted.empty());
  EXPECT_EQ(p.timeout, milliseconds(3000));
}

TEST(ProxyProtocolInConfigTest, RequiredWithTrustedRanges) {
  ConfigPtr c = LoadOk(ListenerWith(
      "      mode: required\n      timeout: 500ms\n      trusted: [10.0.0.0/8, '::1/128', "
      "192.0.2.7]\n"));
  ASSERT_TRUE(c);
  const ProxyProtocolInConfig& p = c->listeners[0].proxy_protocol;
  EXPECT_EQ(p.mode, ProxyProtocolInConfig::Mode::kRequired);
  EXPECT_EQ(p.timeout, milliseconds(500));
  ASSERT_EQ(p.trusted.size(), 3u);
  EXPECT_EQ(p.trusted[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(p.trusted[1].ToString(), "::1/128");
  EXPECT_TRUE(p.trusted[1].ipv6);
  EXPECT_EQ(p.trusted[2].ToString(), "192.0.2.7/32");
  EXPECT_EQ(p.location.line, 6);
}

TEST(ProxyProtocolInConfigTest, RequiredNeedsTrustedRanges) {
  EXPECT_EQ(Errors(ListenerWith("      mode: required\n")),
            (Lines{"6:13: listeners[a].proxy_protocol.trusted: mode required needs at least one "
                   "trusted CIDR range (the addresses of the load balancers that send the PROXY "
                   "header)"}));
  EXPECT_EQ(Errors(ListenerWith("      mode: required\n      trusted: []\n")),
            (Lines{"7:16: listeners[a].proxy_protocol.trusted: mode required needs at least one "
                   "trusted CIDR range (the addresses of the load balancers that send the PROXY "
                   "header)"}));
  // Off needs none.
  EXPECT_TRUE(LoadOk(ListenerWith("      mode: 'off'\n")));
  EXPECT_TRUE(LoadOk(ListenerWith("      mode: off\n")));
}

TEST(ProxyProtocolInConfigTest, BadRangeIsAnErrorAtItsLine) {
  EXPECT_EQ(
      Errors(ListenerWith("      mode: required\n      trusted:\n        - 10.0.0.0/8\n        - "
                          "10.0.0.1/8\n        - localhost\n        - [a]\n")),
      (Lines{"9:11: listeners[a].proxy_protocol.trusted[1]: '10.0.0.1/8': the address has bits "
             "set past the prefix length /8 (write the network address)",
             "10:11: listeners[a].proxy_protocol.trusted[2]: 'localhost': not an IPv4 or IPv6 "
             "address (expected e.g. 10.0.0.0/8 or ::1/128)",
             "11:11: listeners[a].proxy_protocol.trusted[3]: expected a CIDR range such as "
             "10.0.0.0/8"}));
  EXPECT_EQ(Errors(ListenerWith("      trusted: 10.0.0.0/8\n")),
            (Lines{"6:16: listeners[a].proxy_protocol.trusted: expected a list of CIDR ranges, "
                   "got a scalar"}));
}

TEST(ProxyProtocolInConfigTest, BoundsOfTrustedListAndTimeout) {
  auto list = [](size_t n) {
    std::string text = "      mode: required\n      trusted:\n";
    for (size_t i = 0; i < n; ++i) {
      text += "        - 10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24\n";
    }
    return text;
  };
  ConfigPtr c = LoadOk(ListenerWith(list(internal::kMaxTrustedProxies)));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listeners[0].proxy_protocol.trusted.size(), 256u);
  EXPECT_EQ(Errors(ListenerWith(list(internal::kMaxTrustedProxies + 1))),
            (Lines{"8:9: listeners[a].proxy_protocol.trusted: at most 256 ranges are allowed, got "
                   "257"}));
  EXPECT_TRUE(LoadOk(ListenerWith("      timeout: 100ms\n")));
  EXPECT_TRUE(LoadOk(ListenerWith("      timeout: 60s\n")));
  EXPECT_EQ(Errors(ListenerWith("      timeout: 99ms\n")),
            (Lines{"6:16: listeners[a].proxy_protocol.timeout: must be between 100ms and 1m, got "
                   "99ms"}));
  EXPECT_EQ(Errors(ListenerWith("      timeout: 61s\n")),
            (Lines{"6:16: listeners[a].proxy_protocol.timeout: must be between 100ms and 1m, got "
                   "61s"}));
  EXPECT_EQ(Errors(ListenerWith("      mode: v2\n")),
            (Lines{"6:13: listeners[a].proxy_protocol.mode: expected off or required, got "
                   "'v2'"}));
}

// A config in a fresh directory, with the token file beside it.
class AdminTokenConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/imapgate-admin-token-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteToken(const std::string& content, mode_t mode = 0600) {
    const std::string path = dir_ + "/admin-token";
    std::ofstream(path, std::ios::trunc) << content;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }
  // kMinimal + "admin:\n  token_file: admin-token\n": token_file's value is at 8:15.
  StatusOr<ConfigPtr> Load(const std::string& admin = "  token_file: admin-token\n") {
    return LoadConfigText(kMinimal + "admin:\n" + admin, dir_ + "/imapgate.yaml");
  }
  std::string dir_;
};

TEST_F(AdminTokenConfigTest, NoTokenByDefault) {
  StatusOr<ConfigPtr> c = Load("  address: 127.0.0.1:9464\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->admin.token, nullptr);
  EXPECT_EQ((*c)->admin.token_file, "");
}

TEST_F(AdminTokenConfigTest, ReadsTheTokenRelativeToTheConfigFile) {
  WriteToken("0123456789abcdef-token\n");
  StatusOr<ConfigPtr> c = Load();
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_NE((*c)->admin.token, nullptr);
  EXPECT_EQ((*c)->admin.token->view(), "0123456789abcdef-token");
  EXPECT_EQ((*c)->admin.token_file, dir_ + "/admin-token");
  EXPECT_EQ((*c)->admin.token_file_location.line, 8);
  // A reload (a new load) reads the file again.
  WriteToken("fedcba9876543210-other\n");
  c = Load();
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->admin.token->view(), "fedcba9876543210-other");
}

TEST_F(AdminTokenConfigTest, FileErrorsAreConfigErrorsAtTheKeyWithoutTheToken) {
  const std::string at = dir_ + "/imapgate.yaml:8:15: admin.token_file: " + dir_ + "/admin-token: ";
  WriteToken("0123456789abcdef-token\n", 0644);
  StatusOr<ConfigPtr> c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            at + "the file is accessible by group or others (mode 0644); a secret file must be "
                 "private: chmod 600 it");
  EXPECT_EQ(c.status().message().find("0123456789abcdef"), std::string::npos);
  WriteToken("short-token\n");
  c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), at + "the token must be at least 16 characters long, got 11");
  EXPECT_EQ(c.status().message().find("short-token"), std::string::npos);
  WriteToken(std::string(5000, 'x'));
  c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), at + "the file is larger than 4KiB");
  std::filesystem::remove(dir_ + "/admin-token");
  c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), at + "cannot read file: No such file or directory");
}

TEST_F(AdminTokenConfigTest, InlineTokenIsRefusedWithoutQuotingIt) {
  StatusOr<ConfigPtr> c = Load("  token: 0123456789abcdef-inline\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            dir_ + "/imapgate.yaml:8:3: admin.token: secrets are not accepted inline; put it in a "
                   "file only its owner can read (chmod 600) and name that file with token_file "
                   "instead");
  c = Load("  token_file: ''\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), dir_ + "/imapgate.yaml:8:15: admin.token_file: must not be empty");
}

}  // namespace
}  // namespace imapgate::config
