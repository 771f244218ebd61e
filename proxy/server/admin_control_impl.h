// ServerAdminControl: the admin API's view of a running Server — backends and their health,
// relayed sessions, the router's answer, drain and undrain, kicks, and reload.
//
// Runs on the main loop (the admin endpoint's thread), like the API that calls it. Reads the
// Server's current generation and shared health table; reaches sessions through the registry
// (to list and count them) and the workers (to end them: a post to each worker's loop). A drain
// arms a main-loop timer per backend: when its grace ends, the backend's relayed sessions get
// "* BYE"; an undrain cancels it. Owned by the Server; destroyed before its loop.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "abuse/abuse_services.h"
#include "admin/admin_control.h"
#include "net/timer.h"

namespace imapgate::server {

class Server;

class ServerAdminControl final : public admin::AdminControl {
 public:
  explicit ServerAdminControl(Server* server) : server_(server) {}

  std::vector<admin::BackendInfo> Backends() override;
  std::vector<admin::SessionInfo> Sessions(std::optional<std::string_view> user, size_t max_sessions,
                                           bool* truncated) override;
  StatusOr<admin::RouteInfo> Route(std::string_view user) override;
  StatusOr<admin::BackendInfo> Drain(std::string_view backend, std::optional<std::chrono::seconds> grace) override;
  StatusOr<admin::BackendInfo> Undrain(std::string_view backend) override;
  StatusOr<uint64_t> Kick(std::string_view user) override;
  StatusOr<uint64_t> MoveUser(std::string_view user, std::string_view shard) override;
  StatusOr<uint64_t> RevokeAppPassword(std::string_view user, std::string_view name) override;
  Status Reload() override;
  // Issue C (server/abuse_admin.cc), over the main loop's handle on the abuse store.
  StatusOr<std::vector<admin::AbuseBlockInfo>> AbuseBlocks(size_t max, bool* truncated) override;
  StatusOr<bool> AbuseUnblock(std::string_view key) override;
  StatusOr<admin::AbuseCountersInfo> AbuseAddress(std::string_view address) override;
  StatusOr<admin::AbuseCountersInfo> AbuseUser(std::string_view user) override;
  // Issue E: the status page's and /readyz's view of the server.
  StatusOr<admin::StatusInfo> StatusReport() override;

 private:
  // The backend's row, or kNotFound.
  StatusOr<admin::BackendInfo> Describe(std::string_view backend);
  // "* BYE" to every relayed session on `backend`, on every worker.
  void EndSessionsOn(const std::string& backend);
  // "* BYE" to every relayed session of `user` on every worker, and the same notice to the
  // fleet; returns how many sessions were ended here.
  StatusOr<uint64_t> EndSessionsOf(std::string_view user, abuse::FleetNotice::Kind kind, std::string_view shard);

  Server* server_;
  std::map<std::string, net::TimerPtr, std::less<>> drain_timers_;  // by backend name
};

}  // namespace imapgate::server
