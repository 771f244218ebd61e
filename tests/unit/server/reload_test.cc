// Tests for server/reload.h: what a reload applies (backend, limits, timeouts, TLS files, log
// level) and what it keeps as running and reports as needing a restart (listener addresses and
// modes, added and removed listeners, user, group, allow_root, workers, the admin address).

#include "server/reload.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace imapgate::server {
namespace {

config::ListenerConfig Listener(const std::string& name, uint16_t port, config::ListenerMode mode,
                                const std::string& cert = "cert.pem") {
  config::ListenerConfig l;
  l.name = name;
  l.address = {"127.0.0.1", port};
  l.mode = mode;
  l.tls.certificate = cert;
  l.tls.key = "key.pem";
  return l;
}

// Two listeners (imaps implicit on 1993, imap STARTTLS on 1143), a backend, a user to switch to.
std::shared_ptr<config::Config> Running() {
  auto c = std::make_shared<config::Config>();
  c->source_file = "/etc/imapgate/imapgate.yaml";
  c->process.user = "imapgate";
  c->workers = 2;
  c->listeners.push_back(Listener("imaps", 1993, config::ListenerMode::kImplicitTls));
  c->listeners.push_back(Listener("imap", 1143, config::ListenerMode::kStartTls));
  c->backend.address = {"127.0.0.1", 10143};
  c->admin.address = {"127.0.0.1", 9464};
  return c;
}

// A copy of the running config to change, as if loaded again from the file.
std::shared_ptr<config::Config> Next(const config::Config& running) {
  return std::make_shared<config::Config>(running);
}

std::vector<std::string> Settings(const ReloadPlan& plan) {
  std::vector<std::string> out;
  for (const RestartNeeded& r : plan.needs_restart)
    out.push_back(r.listener.empty() ? r.setting : r.listener + "/" + r.setting);
  return out;
}

using Strings = std::vector<std::string>;

TEST(PlanReloadTest, TheSameFileNeedsNoRestartAndKeepsEverything) {
  auto running = Running();
  ReloadPlan plan = PlanReload(*running, Next(*running));
  EXPECT_TRUE(plan.needs_restart.empty());
  ASSERT_EQ(plan.effective->listeners.size(), 2u);
  EXPECT_EQ(plan.effective->listeners[0].name, "imaps");
  EXPECT_EQ(plan.effective->listeners[1].name, "imap");
  EXPECT_EQ(plan.effective->process.user, "imapgate");
}

TEST(PlanReloadTest, BackendLimitsTimeoutsCertificatesAndLogLevelAreApplied) {
  auto running = Running();
  auto next = Next(*running);
  next->backend.address = {"127.0.0.1", 20143};
  next->backend.security = config::BackendSecurity::kStartTls;
  next->limits.max_auth_attempts = 1;
  next->limits.max_sessions_per_worker = 7;
  next->timeouts.idle = std::chrono::milliseconds(5000);
  next->listeners[0].tls.certificate = "renewed.pem";
  next->log_level = "debug";
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_TRUE(plan.needs_restart.empty()) << Settings(plan).front();
  const config::Config& e = *plan.effective;
  EXPECT_EQ(e.backend.address.port, 20143);
  EXPECT_EQ(e.backend.security, config::BackendSecurity::kStartTls);
  EXPECT_EQ(e.limits.max_auth_attempts, 1);
  EXPECT_EQ(e.limits.max_sessions_per_worker, 7u);
  EXPECT_EQ(e.timeouts.idle, std::chrono::milliseconds(5000));
  EXPECT_EQ(e.listeners[0].tls.certificate, "renewed.pem");
  EXPECT_EQ(e.log_level, "debug");
}

TEST(PlanReloadTest, HealthThresholdsWarmPoolAndTheAdminTokenStayUntilARestart) {
  auto running = Running();
  running->admin.token = std::make_shared<const SecretString>("0123456789abcdef-old");
  auto next = Next(*running);
  next->health_checks.rise = 5;
  next->health_checks.fall = 7;
  next->health_checks.interval = std::chrono::milliseconds(1000);  // applied: the checker restarts
  next->admin.token = std::make_shared<const SecretString>("0123456789abcdef-new");
  next->warm_connections.per_backend = 4;
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan),
            (Strings{"health_checks.rise", "health_checks.fall", "warm_connections", "admin.token_file"}));
  EXPECT_EQ(plan.effective->warm_connections.per_backend, 0u);
  const config::Config& e = *plan.effective;
  EXPECT_EQ(e.health_checks.rise, running->health_checks.rise);
  EXPECT_EQ(e.health_checks.fall, running->health_checks.fall);
  EXPECT_EQ(e.health_checks.interval, std::chrono::milliseconds(1000));
  ASSERT_TRUE(e.admin.token);
  EXPECT_EQ(e.admin.token->view(), "0123456789abcdef-old");
  for (const RestartNeeded& r : plan.needs_restart) {
    EXPECT_EQ(r.detail.find("0123456789abcdef"), std::string::npos) << "a token in a log line";
  }
}

TEST(PlanReloadTest, AMovedListenerKeepsItsAddressAndTakesTheRest) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners[0].address.port = 2993;
  next->listeners[0].tls.certificate = "renewed.pem";
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan), (Strings{"imaps/address"}));
  const RestartNeeded& r = plan.needs_restart[0];
  EXPECT_NE(r.detail.find("'imaps'"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("127.0.0.1:2993"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("keeps listening on 127.0.0.1:1993"), std::string::npos) << r.detail;
  EXPECT_EQ(plan.effective->listeners[0].address.port, 1993);
  EXPECT_EQ(plan.effective->listeners[0].tls.certificate, "renewed.pem");
}

TEST(PlanReloadTest, AChangedHostIsAMoveToo) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners[1].address.host = "::1";
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan), (Strings{"imap/address"}));
  EXPECT_NE(plan.needs_restart[0].detail.find("[::1]:1143"), std::string::npos);
  EXPECT_EQ(plan.effective->listeners[1].address.host, "127.0.0.1");
}

TEST(PlanReloadTest, AChangedModeIsKeptAsRunning) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners[1].mode = config::ListenerMode::kImplicitTls;
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan), (Strings{"imap/mode"}));
  EXPECT_NE(plan.needs_restart[0].detail.find("from starttls to implicit"), std::string::npos);
  EXPECT_EQ(plan.effective->listeners[1].mode, config::ListenerMode::kStartTls);
}

TEST(PlanReloadTest, AnAddedListenerIsNotOpened) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners.push_back(Listener("extra", 3993, config::ListenerMode::kImplicitTls));
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan), (Strings{"extra/listener_added"}));
  EXPECT_NE(plan.needs_restart[0].detail.find("127.0.0.1:3993"), std::string::npos);
  ASSERT_EQ(plan.effective->listeners.size(), 2u);
  EXPECT_EQ(plan.effective->listeners[0].name, "imaps");
  EXPECT_EQ(plan.effective->listeners[1].name, "imap");
}

TEST(PlanReloadTest, ARemovedListenerKeepsListeningWithItsOldSettings) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners.erase(next->listeners.begin());
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan), (Strings{"imaps/listener_removed"}));
  ASSERT_EQ(plan.effective->listeners.size(), 2u);
  EXPECT_EQ(plan.effective->listeners[0].name, "imaps");
  EXPECT_EQ(plan.effective->listeners[0].address.port, 1993);
  EXPECT_EQ(plan.effective->listeners[0].mode, config::ListenerMode::kImplicitTls);
}

TEST(PlanReloadTest, ListenersStayInSocketOrderWhenTheFileReordersThem) {
  auto running = Running();
  auto next = Next(*running);
  std::swap(next->listeners[0], next->listeners[1]);
  next->listeners[0].tls.certificate = "imap-new.pem";  // now "imap", first in the file
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_TRUE(plan.needs_restart.empty());
  ASSERT_EQ(plan.effective->listeners.size(), 2u);
  EXPECT_EQ(plan.effective->listeners[0].name, "imaps");
  EXPECT_EQ(plan.effective->listeners[1].name, "imap");
  EXPECT_EQ(plan.effective->listeners[1].tls.certificate, "imap-new.pem");
}

TEST(PlanReloadTest, ARenamedListenerIsOneRemovedAndOneAdded) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners[0].name = "secure";
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan), (Strings{"imaps/listener_removed", "secure/listener_added"}));
  EXPECT_EQ(plan.effective->listeners[0].name, "imaps");
}

TEST(PlanReloadTest, ProcessSettingsNeedARestartAndStayAsRunning) {
  auto running = Running();
  auto next = Next(*running);
  next->process.user = "mail";
  next->process.group = "mail";
  next->process.allow_root = true;
  next->workers = 8;
  next->admin.address = {"127.0.0.1", 9999};
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(Settings(plan), (Strings{"user", "group", "allow_root", "workers", "admin.address"}));
  EXPECT_NE(plan.needs_restart[0].detail.find("'imapgate' stays in effect"), std::string::npos)
      << plan.needs_restart[0].detail;
  const config::Config& e = *plan.effective;
  EXPECT_EQ(e.process.user, "imapgate");
  EXPECT_EQ(e.process.group, "");
  EXPECT_FALSE(e.process.allow_root);
  EXPECT_EQ(e.workers, 2);
  EXPECT_EQ(e.admin.address.port, 9464);
}

TEST(PlanReloadTest, APendingRestartIsReportedAgainOnTheNextReload) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners[0].address.port = 2993;
  next->workers = 4;
  ReloadPlan first = PlanReload(*running, next);
  ASSERT_EQ(first.needs_restart.size(), 2u);
  // The next reload compares with what is in effect, which still has the old values.
  ReloadPlan second = PlanReload(*first.effective, Next(*next));
  EXPECT_EQ(Settings(second), (Strings{"imaps/address", "workers"}));
  EXPECT_EQ(second.effective->listeners[0].address.port, 1993);
  // Putting the file back to what runs clears it.
  ReloadPlan back = PlanReload(*second.effective, Next(*running));
  EXPECT_TRUE(back.needs_restart.empty());
}

TEST(PlanReloadTest, TheNextConfigIsNotModified) {
  auto running = Running();
  auto next = Next(*running);
  next->listeners[0].address.port = 2993;
  next->workers = 4;
  ReloadPlan plan = PlanReload(*running, next);
  EXPECT_EQ(next->listeners[0].address.port, 2993);
  EXPECT_EQ(next->workers, 4);
  EXPECT_NE(plan.effective.get(), next.get());
}

}  // namespace
}  // namespace imapgate::server
