// FakeAdminControl: a test double of admin::AdminControl with fixed state that records the
// changes asked of it. Test-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_control.h"

namespace imapgate::testing {

class FakeAdminControl : public admin::AdminControl {
 public:
  FakeAdminControl() {
    admin::BackendInfo a1{"a1", "shard-a", "127.0.0.1:11143", "plaintext",
                          admin::BackendState::kUp, 2, admin::HealthCheckResult{true, "ok", 1700}};
    admin::BackendInfo b1{"b1", "shard-b", "127.0.0.1:11145", "starttls",
                          admin::BackendState::kDown, 0, std::nullopt};
    backends = {a1, b1};
    status = ReadyStatus(backends);
    sessions = {
        {"s1", "alice@demo.test", "127.0.0.1:5000", "a1", 1700000000, 10, 20},
        {"s2", "bob@demo.test", "127.0.0.1:5001", "b1", 1700000001, 30, 40},
        {"s3", "alice@demo.test", "127.0.0.1:5002", "a1", 1700000002, 50, 60},
    };
  }

  std::vector<admin::BackendInfo> Backends() override { return backends; }

  std::vector<admin::SessionInfo> Sessions(std::optional<std::string_view> user,
                                           size_t max_sessions, bool* truncated) override {
    last_max_sessions = max_sessions;
    std::vector<admin::SessionInfo> out;
    for (const auto& s : sessions) {
      if (!user.has_value() || s.user == *user) out.push_back(s);
    }
    *truncated = false;
    return out;
  }

  StatusOr<admin::RouteInfo> Route(std::string_view user) override {
    if (!route_status.ok()) return route_status;
    return admin::RouteInfo{std::string(user), "shard-a", "a1", "hash", "primary a1 up"};
  }

  StatusOr<admin::BackendInfo> Drain(std::string_view backend,
                                     std::optional<std::chrono::seconds> grace) override {
    for (auto& b : backends) {
      if (b.name != backend) continue;
      b.state = admin::BackendState::kDraining;
      drained.push_back(std::string(backend));
      last_grace = grace;
      return b;
    }
    return Status(StatusCode::kNotFound, "no backend named " + std::string(backend));
  }

  StatusOr<admin::BackendInfo> Undrain(std::string_view backend) override {
    for (auto& b : backends) {
      if (b.name != backend) continue;
      b.state = admin::BackendState::kUp;
      undrained.push_back(std::string(backend));
      return b;
    }
    return Status(StatusCode::kNotFound, "no backend named " + std::string(backend));
  }

  StatusOr<uint64_t> Kick(std::string_view user) override {
    kicked.push_back(std::string(user));
    uint64_t n = 0;
    for (const auto& s : sessions) n += s.user == user ? 1 : 0;
    return n;
  }

  StatusOr<uint64_t> RevokeAppPassword(std::string_view user, std::string_view name) override {
    if (name != "phone") return Status(StatusCode::kNotFound, "no app password named " + std::string(name));
    revoked.push_back(std::string(user) + "/" + std::string(name));
    return 1;
  }
  std::vector<std::string> revoked;
  StatusOr<uint64_t> MoveUser(std::string_view user, std::string_view shard) override {
    if (shard != "shard-a" && shard != "shard-b") return Status(StatusCode::kNotFound, "no shard " + std::string(shard));
    moved.push_back(std::string(user) + "->" + std::string(shard));
    return 1;
  }
  std::vector<std::string> moved;
  // Issue C.
  StatusOr<std::vector<admin::AbuseBlockInfo>> AbuseBlocks(size_t max, bool* truncated) override {
    last_max_blocks = max;
    *truncated = false;
    return blocks;
  }
  StatusOr<bool> AbuseUnblock(std::string_view key) override {
    unblocked.push_back(std::string(key));
    return key == "192.0.2.7";
  }
  StatusOr<admin::AbuseCountersInfo> AbuseAddress(std::string_view address) override {
    admin::AbuseCountersInfo info;
    info.key = std::string(address);
    info.failures = 4;
    info.users_tried = 2;
    if (!blocks.empty()) info.block = blocks[0];
    return info;
  }
  StatusOr<admin::AbuseCountersInfo> AbuseUser(std::string_view user) override {
    admin::AbuseCountersInfo info;
    info.key = std::string(user);
    info.failures = 9;
    return info;
  }
  std::vector<admin::AbuseBlockInfo> blocks = {{"address", "192.0.2.7", "address_failures", 600}};
  std::vector<std::string> unblocked;
  size_t last_max_blocks = 0;

  // Issue E.
  StatusOr<admin::StatusInfo> StatusReport() override {
    if (!status_error.ok()) return status_error;
    return status;
  }
  // A ready instance with two shards (the backends above, b1 of shard-b made up) and one refusal.
  static admin::StatusInfo ReadyStatus(const std::vector<admin::BackendInfo>& backends) {
    admin::StatusInfo s;
    s.version = "9.8.7";
    s.started_unix_seconds = 1700000000;
    s.config_loaded_unix_seconds = 1700000100;
    s.now_unix_seconds = 1700000200;
    s.config_loaded = true;
    s.listeners_bound = true;
    s.listeners = {{"imaps", "127.0.0.1:993", "implicit", true, false},
                   {"imap", "127.0.0.1:143", "starttls", true, true}};
    s.shards = {{"shard-a", {backends[0]}}, {"shard-b", {backends[1]}}};
    s.shards[1].backends[0].state = admin::BackendState::kUp;
    s.counts = admin::StatusCounts{5, 2, 7, 1};
    s.refusals = {{1700000150, "imap", "cleartext_login", "192.0.2.7:5000"}};
    s.refusals_total = 3;
    s.refusals_capacity = 50;
    return s;
  }
  admin::StatusInfo status;  // set in the constructor
  Status status_error;

  Status Reload() override {
    ++reloads;
    return reload_status;
  }

  // State the tests set up or read back.
  std::vector<admin::BackendInfo> backends;
  std::vector<admin::SessionInfo> sessions;
  Status route_status;
  Status reload_status;
  size_t last_max_sessions = 0;
  std::vector<std::string> drained, undrained, kicked;
  std::optional<std::chrono::seconds> last_grace;
  int reloads = 0;
};

}  // namespace imapgate::testing
