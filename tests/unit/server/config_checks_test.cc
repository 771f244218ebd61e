// Tests for server/config_checks.h: what -t and the start-up log warn about, and how a failed
// bind probe is reported.

#include "server/config_checks.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace imapgate::server {
namespace {

TEST(IsLoopbackHostTest, LoopbackAndNot) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.8.9.10"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.5"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("::2"));
  EXPECT_FALSE(IsLoopbackHost("mail.example.com"));
}

// A loaded config's shape: the backend is the one backend of the shard "default".
config::Config Backend(config::BackendSecurity security, const std::string& host, bool verify) {
  config::Config c;
  c.backend.name = "default";
  c.backend.address = {host, 143};
  c.backend.security = security;
  c.backend.tls_verify = verify;
  config::ShardConfig shard;
  shard.name = "default";
  shard.backends.push_back(c.backend);
  c.shards.push_back(shard);
  return c;
}

TEST(ConfigWarningsTest, SafeBackendsGiveNone) {
  EXPECT_TRUE(
      ConfigWarnings(Backend(config::BackendSecurity::kPlaintext, "127.0.0.1", true)).empty());
  EXPECT_TRUE(ConfigWarnings(Backend(config::BackendSecurity::kTls, "10.0.0.5", true)).empty());
  EXPECT_TRUE(ConfigWarnings(Backend(config::BackendSecurity::kStartTls, "mail.example.com", true))
                  .empty());
}

TEST(ConfigWarningsTest, TlsVerifyFalseWarns) {
  for (auto sec : {config::BackendSecurity::kTls, config::BackendSecurity::kStartTls}) {
    auto w = ConfigWarnings(Backend(sec, "127.0.0.1", false));
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].find("tls_verify is false"), std::string::npos) << w[0];
    EXPECT_NE(w[0].find("backend 'default' (127.0.0.1:143)"), std::string::npos) << w[0];
  }
}

TEST(ConfigWarningsTest, PlaintextOffLoopbackWarns) {
  auto w = ConfigWarnings(Backend(config::BackendSecurity::kPlaintext, "10.0.0.5", true));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("plaintext"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("not loopback"), std::string::npos) << w[0];
  EXPECT_EQ(
      ConfigWarnings(Backend(config::BackendSecurity::kPlaintext, "imap.internal", true)).size(),
      1u);
}

TEST(ConfigWarningsTest, EveryBackendOfEveryShardIsChecked) {
  config::Config c = Backend(config::BackendSecurity::kPlaintext, "127.0.0.1", true);
  config::BackendConfig replica;
  replica.name = "a2";
  replica.address = {"10.0.0.6", 143};
  c.shards[0].backends.push_back(replica);  // plaintext off loopback, and not the first primary
  auto w = ConfigWarnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("backend 'a2' (10.0.0.6:143)"), std::string::npos) << w[0];
}

TEST(ConfigWarningsTest, AMasterUserShardWithoutAnAuthStepWarns) {
  config::Config c = Backend(config::BackendSecurity::kPlaintext, "127.0.0.1", true);
  c.shards[0].backend_login.mode = config::BackendLoginConfig::Mode::kMaster;
  c.listeners.push_back(config::ListenerConfig{});
  config::AuthSourceConfig pass;
  pass.name = "backend";
  pass.type = config::AuthSourceConfig::Type::kBackend;
  c.auth.sources = {pass};
  c.auth.chain = {"backend"};  // what a config without auth: gets
  auto w = ConfigWarnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("shard 'default': backend_login is master"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("refused"), std::string::npos) << w[0];
  // With a users file in the listener's chain, imapgate authenticates: no warning.
  config::AuthSourceConfig users;
  users.name = "users";
  users.type = config::AuthSourceConfig::Type::kFile;
  c.auth.sources.push_back(users);
  c.auth.chain = {"users"};
  EXPECT_TRUE(ConfigWarnings(c).empty());
  // ...unless a listener of its own passes through.
  c.listeners[0].auth_chain = {"backend"};
  EXPECT_EQ(ConfigWarnings(c).size(), 1u);
}

TEST(ClassifyBindProbeTest, InUseIsAWarningOtherFailuresAreErrors) {
  EXPECT_TRUE(ClassifyBindProbe("listener 'imaps' on 127.0.0.1:993", 0).message.empty());
  BindVerdict in_use = ClassifyBindProbe("listener 'imaps' on 127.0.0.1:993", EADDRINUSE);
  EXPECT_FALSE(in_use.error);
  EXPECT_NE(in_use.message.find("listener 'imaps' on 127.0.0.1:993: address in use"),
            std::string::npos);
  BindVerdict foreign = ClassifyBindProbe("listener 'imaps' on 192.0.2.1:993", EADDRNOTAVAIL);
  EXPECT_TRUE(foreign.error);
  EXPECT_NE(foreign.message.find("not an address of this host"), std::string::npos)
      << foreign.message;
  BindVerdict denied = ClassifyBindProbe("admin listener on 0.0.0.0:80", EACCES);
  EXPECT_TRUE(denied.error);
  EXPECT_NE(denied.message.find("admin listener on 0.0.0.0:80: cannot bind: permission denied"),
            std::string::npos)
      << denied.message;
}

}  // namespace
}  // namespace imapgate::server
