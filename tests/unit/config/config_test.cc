#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config_test_util.h"

namespace imapgate::config {
namespace {

using std::chrono::milliseconds;

TEST(SourceLocationTest, ToStringIsFileLineColumn) {
  EXPECT_EQ((SourceLocation{"conf/x.yaml", 12, 5}.ToString()), "conf/x.yaml:12:5");
  // An unknown position names the file alone, never "FILE:0:0".
  EXPECT_EQ((SourceLocation{"conf/x.yaml", 0, 0}.ToString()), "conf/x.yaml");
}

// conf/imapgate.yaml is the demo's file: it names files the demo makes in .demo/ (the admin token,
// the override file). Loads a copy of it in a temporary tree with those files made as the demo
// makes them.
class ReferenceConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imapgate-refconf-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    std::filesystem::create_directories(root_ + "/conf");
    std::filesystem::create_directories(root_ + "/.demo");
    std::filesystem::copy_file(std::string(IMAPGATE_SOURCE_DIR) + "/conf/imapgate.yaml",
                               root_ + "/conf/imapgate.yaml");
    std::ofstream(root_ + "/.demo/admin-token") << "0123456789abcdef0123456789abcdef\n";
    std::filesystem::permissions(root_ + "/.demo/admin-token", std::filesystem::perms::owner_read |
                                                                   std::filesystem::perms::owner_write);
    std::ofstream(root_ + "/.demo/overrides") << "alice@demo.test shard-a\nbob@demo.test shard-b\n";
    std::ofstream(root_ + "/.demo/master-password") << "a-master-password\n";
    std::filesystem::permissions(root_ + "/.demo/master-password", std::filesystem::perms::owner_read |
                                                                       std::filesystem::perms::owner_write);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  StatusOr<ConfigPtr> Load() { return LoadConfigFile(root_ + "/conf/imapgate.yaml"); }

  std::string root_;
};

TEST_F(ReferenceConfigTest, LoadsWithDemoValues) {
  StatusOr<ConfigPtr> loaded = Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Config& c = **loaded;
  const std::string demo_tls = std::filesystem::weakly_canonical(root_ + "/.demo/tls").string();
  EXPECT_EQ(c.source_file, root_ + "/conf/imapgate.yaml");
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.log_level, "info");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "imaps");
  EXPECT_EQ(c.listeners[0].address.host, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].address.port, 10993);
  EXPECT_EQ(c.listeners[0].mode, ListenerMode::kImplicitTls);
  EXPECT_EQ(c.listeners[0].tls.certificate, demo_tls + "/server.pem");
  EXPECT_EQ(c.listeners[0].tls.key, demo_tls + "/server.key");
  EXPECT_EQ(c.listeners[1].name, "imap");
  EXPECT_EQ(c.listeners[1].address.port, 10143);
  EXPECT_EQ(c.listeners[1].mode, ListenerMode::kStartTls);
  EXPECT_EQ(c.listeners[1].tls.certificate, demo_tls + "/server.pem");
  // The demo's two shards: a1 (primary) and a2 on shard-a, b1 over STARTTLS on shard-b.
  ASSERT_EQ(c.shards.size(), 2u);
  EXPECT_EQ(c.shards[0].name, "shard-a");
  ASSERT_EQ(c.shards[0].backends.size(), 2u);
  EXPECT_EQ(c.shards[0].backends[0].name, "a1");
  EXPECT_EQ(c.shards[0].backends[0].address.port, 11143);
  EXPECT_EQ(c.shards[0].backends[1].name, "a2");
  EXPECT_EQ(c.shards[0].backends[1].address.port, 11144);
  EXPECT_EQ(c.shards[1].name, "shard-b");
  ASSERT_EQ(c.shards[1].backends.size(), 1u);
  EXPECT_EQ(c.shards[1].backends[0].name, "b1");
  EXPECT_EQ(c.shards[1].backends[0].address.port, 11145);
  EXPECT_EQ(c.shards[1].backends[0].security, BackendSecurity::kStartTls);
  EXPECT_EQ(c.shards[1].backends[0].tls_ca_file, demo_tls + "/ca.pem");
  EXPECT_EQ(c.backend.name, "a1");  // the first shard's primary
  EXPECT_EQ(c.routing.overrides.at("alice@demo.test"), "shard-a");
  EXPECT_EQ(c.routing.overrides.at("bob@demo.test"), "shard-b");
  EXPECT_EQ(c.timeouts.drain_grace, milliseconds(10000));
  ASSERT_TRUE(c.admin.token);
  EXPECT_EQ(c.admin.address.host, "127.0.0.1");
  EXPECT_EQ(c.admin.address.port, 9464);
}

// Issue B: the demo's auth section (its users file, checked by imapgate; the backends take the
// master user), with the documented defaults.
TEST_F(ReferenceConfigTest, AuthSectionIsTheDemosWithTheDefaults) {
  StatusOr<ConfigPtr> loaded = Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Config& c = **loaded;
  const AuthConfig d;
  ASSERT_EQ(c.auth.sources.size(), 1u);
  EXPECT_EQ(c.auth.sources[0].type, AuthSourceConfig::Type::kFile);
  EXPECT_EQ(c.auth.sources[0].users_file,
            std::filesystem::weakly_canonical(root_ + "/.demo").string() + "/users.yaml");
  EXPECT_EQ(c.auth.chain, std::vector<std::string>{"users"});
  EXPECT_EQ(c.auth.mechanisms, d.mechanisms);
  EXPECT_EQ(c.auth.hash_threads, d.hash_threads);
  EXPECT_EQ(c.auth.hash_queue, d.hash_queue);
  EXPECT_EQ(c.auth.cache_ttl, d.cache_ttl);
  EXPECT_EQ(c.auth.timeout, d.timeout);
  EXPECT_EQ(c.auth.remember_devices, d.remember_devices);
  EXPECT_TRUE(c.auth.push.url.empty());
  EXPECT_TRUE(c.auth.master_users.empty());
  EXPECT_EQ(c.backend_login.mode, BackendLoginConfig::Mode::kMaster);
  EXPECT_EQ(c.backend_login.master_user, "imapgate");
}

// The reference file documents the defaults, so its limits and timeouts equal the struct
// defaults (drain_grace aside: the demo shortens it to show a drain).
TEST_F(ReferenceConfigTest, LimitsAndTimeoutsAreTheDefaults) {
  StatusOr<ConfigPtr> loaded = Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Limits& l = (*loaded)->limits;
  const Limits d;
  EXPECT_EQ(l.max_command_line_bytes, d.max_command_line_bytes);
  EXPECT_EQ(l.max_literal_bytes, d.max_literal_bytes);
  EXPECT_EQ(l.max_preauth_bytes, d.max_preauth_bytes);
  EXPECT_EQ(l.max_bad_commands, d.max_bad_commands);
  EXPECT_EQ(l.max_auth_attempts, d.max_auth_attempts);
  EXPECT_EQ(l.max_sessions_per_worker, d.max_sessions_per_worker);
  EXPECT_EQ(l.relay_high_watermark_bytes, d.relay_high_watermark_bytes);
  EXPECT_EQ(l.relay_low_watermark_bytes, d.relay_low_watermark_bytes);
  EXPECT_EQ(l.backend_max_line_bytes, d.backend_max_line_bytes);
  const Timeouts& t = (*loaded)->timeouts;
  const Timeouts dt;
  EXPECT_EQ(t.preauth, dt.preauth);
  EXPECT_EQ(t.tls_handshake, dt.tls_handshake);
  EXPECT_EQ(t.idle, dt.idle);
  EXPECT_EQ(t.backend_connect, dt.backend_connect);
  EXPECT_EQ(t.backend_login, dt.backend_login);
  EXPECT_EQ(t.shutdown_grace, dt.shutdown_grace);
}

TEST(LoadConfigTest, MinimalConfigGetsDefaults) {
  ConfigPtr c = LoadOk(kMinimal);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->source_file, kFile);
  EXPECT_EQ(c->workers, 0);
  EXPECT_EQ(c->log_level, "info");
  ASSERT_EQ(c->listeners.size(), 1u);
  EXPECT_EQ(c->listeners[0].mode, ListenerMode::kImplicitTls);
  EXPECT_EQ(c->backend.name, "default");
  EXPECT_EQ(c->backend.security, BackendSecurity::kPlaintext);
  EXPECT_TRUE(c->backend.tls_verify);
  EXPECT_EQ(c->backend.tls_ca_file, "");
  EXPECT_EQ(c->backend.tls_server_name, "127.0.0.1");
  EXPECT_EQ(c->admin.address.host, "127.0.0.1");
  EXPECT_EQ(c->admin.address.port, 9464);
  const Limits d;
  EXPECT_EQ(c->limits.max_command_line_bytes, d.max_command_line_bytes);
  EXPECT_EQ(c->limits.relay_low_watermark_bytes, d.relay_low_watermark_bytes);
  EXPECT_EQ(c->timeouts.idle, Timeouts().idle);
  EXPECT_EQ(c->timeouts.preauth, Timeouts().preauth);
}

TEST(LoadConfigTest, ReadsEveryKey) {
  ConfigPtr c = LoadOk(R"(workers: 4
log_level: debug
listeners:
  - name: edge_1
    address: "[::1]:993"
    mode: starttls
    tls: {certificate: /abs/c.pem, key: /abs/k.pem}
backend:
  name: store-2
  address: imap.example.com:993
  security: tls
  tls_ca: /etc/ssl/ca.pem
  tls_verify: false
  tls_server_name: imap.internal
limits:
  max_command_line: 16KiB
  max_literal: 1MiB
  max_preauth_bytes: 2MiB
  max_bad_commands: 5
  max_auth_attempts: 2
  max_sessions_per_worker: 500
  relay_high_watermark: 1MiB
  relay_low_watermark: 128KiB
  backend_max_line: 4096
timeouts:
  preauth: 2m
  tls_handshake: 500ms
  idle: 1h
  backend_connect: 3s
  backend_login: 20s
  shutdown_grace: 0s
admin:
  address: 0.0.0.0:0
)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->workers, 4);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->listeners[0].name, "edge_1");
  EXPECT_EQ(c->listeners[0].address.host, "::1");
  EXPECT_EQ(c->listeners[0].address.port, 993);
  EXPECT_EQ(c->listeners[0].mode, ListenerMode::kStartTls);
  EXPECT_EQ(c->listeners[0].tls.certificate, "/abs/c.pem");
  EXPECT_EQ(c->listeners[0].tls.key, "/abs/k.pem");
  EXPECT_EQ(c->backend.name, "store-2");
  EXPECT_EQ(c->backend.address.host, "imap.example.com");
  EXPECT_EQ(c->backend.security, BackendSecurity::kTls);
  EXPECT_EQ(c->backend.tls_ca_file, "/etc/ssl/ca.pem");
  EXPECT_FALSE(c->backend.tls_verify);
  EXPECT_EQ(c->backend.tls_server_name, "imap.internal");
  EXPECT_EQ(c->limits.max_command_line_bytes, 16384u);
  EXPECT_EQ(c->limits.max_literal_bytes, 1048576u);
  EXPECT_EQ(c->limits.max_preauth_bytes, 2097152u);
  EXPECT_EQ(c->limits.max_bad_commands, 5);
  EXPECT_EQ(c->limits.max_auth_attempts, 2);
  EXPECT_EQ(c->limits.max_sessions_per_worker, 500u);
  EXPECT_EQ(c->limits.relay_high_watermark_bytes, 1048576u);
  EXPECT_EQ(c->limits.relay_low_watermark_bytes, 131072u);
  EXPECT_EQ(c->limits.backend_max_line_bytes, 4096u);
  EXPECT_EQ(c->timeouts.preauth, milliseconds(120'000));
  EXPECT_EQ(c->timeouts.tls_handshake, milliseconds(500));
  EXPECT_EQ(c->timeouts.idle, milliseconds(3'600'000));
  EXPECT_EQ(c->timeouts.backend_connect, milliseconds(3'000));
  EXPECT_EQ(c->timeouts.backend_login, milliseconds(20'000));
  EXPECT_EQ(c->timeouts.shutdown_grace, milliseconds(0));
  EXPECT_EQ(c->admin.address.host, "0.0.0.0");
  EXPECT_EQ(c->admin.address.port, 0);
}

TEST(LoadConfigTest, EmptyOptionalStringsAndSecurityChoices) {
  ConfigPtr c = LoadOk(kMinimal + "  security: starttls\n  tls_ca:\n  tls_server_name: ''\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->backend.security, BackendSecurity::kStartTls);
  EXPECT_EQ(c->backend.tls_ca_file, "");
  EXPECT_EQ(c->backend.tls_server_name, "127.0.0.1");
}

TEST(LoadConfigTest, ResolvesRelativePathsAgainstTheConfigDirectory) {
  ConfigPtr c = LoadOk(R"(listeners:
  - name: a
    address: 127.0.0.1:1993
    tls: {certificate: tls/c.pem, key: ../k.pem}
  - name: b
    address: 127.0.0.1:1994
    tls: {certificate: /abs/c.pem, key: ./x/../k.pem}
backend:
  address: 127.0.0.1:143
  tls_ca: ca/bundle.pem
)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listeners[0].tls.certificate, kDir + "/tls/c.pem");
  EXPECT_EQ(c->listeners[0].tls.key, "/nonexistent-imapgate-test/k.pem");
  EXPECT_EQ(c->listeners[1].tls.certificate, "/abs/c.pem");
  EXPECT_EQ(c->listeners[1].tls.key, kDir + "/k.pem");
  EXPECT_EQ(c->backend.tls_ca_file, kDir + "/ca/bundle.pem");
}

TEST(LoadConfigTest, RecordsTheTlsNodeLocation) {
  ConfigPtr c = LoadOk(R"(listeners:
  - name: a
    address: 127.0.0.1:1993
    tls: {certificate: c.pem, key: k.pem}
  - name: b
    address: 127.0.0.1:1994
    tls:
      certificate: c.pem
      key: k.pem
backend:
  address: 127.0.0.1:143
)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listeners[0].tls.location.ToString(), kFile + ":4:10");
  // A block mapping starts at its first key.
  EXPECT_EQ(c->listeners[1].tls.location.ToString(), kFile + ":8:7");
}

// Values checked after parsing (an address that does not resolve, a CA file that will not load)
// carry their own position, so those errors never fall back to "FILE:0:0".
TEST(LoadConfigTest, RecordsTheLocationsOfValuesCheckedLater) {
  ConfigPtr c = LoadOk(R"(listeners:
  - name: a
    address: 127.0.0.1:1993
    tls: {certificate: c.pem, key: k.pem}
backend:
  address: imap.invalid:143
  security: tls
  tls_ca: ca.pem
)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listeners[0].address_location.ToString(), kFile + ":3:14");
  EXPECT_EQ(c->backend.address_location.ToString(), kFile + ":6:12");
  EXPECT_EQ(c->backend.tls_ca_location.ToString(), kFile + ":8:11");
  // Without tls_ca (the system's CAs), the security value is where the CA comes from.
  ConfigPtr d = LoadOk(kMinimal + "  security: starttls\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->backend.tls_ca_location.ToString(), kFile + ":7:13");
  // Neither: the backend mapping.
  ConfigPtr e = LoadOk(kMinimal);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->backend.tls_ca_location.ToString(), kFile + ":6:3");
}

TEST(LoadConfigFileTest, ResolvesPathsAgainstTheFilesDirectory) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("imapgate_config_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "gate.yaml").string();
  std::ofstream(path) << kMinimal;
  StatusOr<ConfigPtr> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const std::string real_dir = std::filesystem::canonical(dir).string();
  EXPECT_EQ((*c)->listeners[0].tls.certificate, real_dir + "/c.pem");
  EXPECT_EQ((*c)->listeners[0].tls.key, real_dir + "/k.pem");
  std::filesystem::remove_all(dir);
}

TEST(LoadConfigFileTest, ReportsUnreadableFiles) {
  StatusOr<ConfigPtr> missing = LoadConfigFile("/nonexistent-imapgate-test/x.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "/nonexistent-imapgate-test/x.yaml: cannot read file: No such file or directory");
  StatusOr<ConfigPtr> directory = LoadConfigFile("/");
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().message(), "/: cannot read file: Is a directory");
}

TEST(LoadConfigFileTest, ErrorsNameTheFileAsGiven) {
  const std::string path =
      ::testing::TempDir() + "imapgate_config_bad_" + std::to_string(getpid()) + ".yaml";
  std::ofstream(path) << "workers: 1\n";
  StatusOr<ConfigPtr> c = LoadConfigFile(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), path + ":1:1: missing required key 'listeners'\n" + path +
                                      ":1:1: missing required key 'backend'");
}

// The process keys (user, group, allow_root): optional, top-level, default "stay as started".
TEST(LoadConfigTest, ProcessKeys) {
  ConfigPtr d = LoadOk(kMinimal);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->process.user, "");
  EXPECT_EQ(d->process.group, "");
  EXPECT_FALSE(d->process.allow_root);
  ConfigPtr c = LoadOk("user: imapgate\ngroup: mail\nallow_root: true\n" + kMinimal);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->process.user, "imapgate");
  EXPECT_EQ(c->process.group, "mail");
  EXPECT_TRUE(c->process.allow_root);
  StatusOr<ConfigPtr> empty = LoadConfigText("user: \"\"\n" + kMinimal, kFile);
  EXPECT_FALSE(empty.ok());
  StatusOr<ConfigPtr> not_bool = LoadConfigText("allow_root: maybe\n" + kMinimal, kFile);
  EXPECT_FALSE(not_bool.ok());
}

}  // namespace
}  // namespace imapgate::config
