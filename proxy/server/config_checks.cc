#include "server/config_checks.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

namespace imapgate::server {

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

namespace {

// True when some listener's auth chain is only the backend pass-through (no source of imapgate's
// authenticates its users).
bool PassThroughListener(const config::Config& c) {
  for (const config::ListenerConfig& l : c.listeners) {
    const std::vector<std::string>& chain = l.auth_chain.empty() ? c.auth.chain : l.auth_chain;
    bool authenticates = false;
    for (const std::string& name : chain) {
      for (const config::AuthSourceConfig& s : c.auth.sources) {
        if (s.name == name && s.type != config::AuthSourceConfig::Type::kBackend) authenticates = true;
      }
    }
    if (!authenticates) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ConfigWarnings(const config::Config& config) {
  std::vector<std::string> out;
  for (const config::ShardConfig& shard : config.shards) {
    for (const config::BackendConfig& b : shard.backends) {
      const std::string where =
          "backend '" + b.name + "' (" + b.address.host + ":" + std::to_string(b.address.port) + ")";
      if (b.security != config::BackendSecurity::kPlaintext && !b.tls_verify) {
        out.push_back(where +
                      ": tls_verify is false: the backend's certificate and name are not checked, so "
                      "anyone on the path to it can read every password");
      }
      if (b.security == config::BackendSecurity::kPlaintext && !IsLoopbackHost(b.address.host)) {
        out.push_back(where +
                      ": security is plaintext on an address that is not loopback: passwords and mail "
                      "cross the network in clear; use tls or starttls unless that network is trusted");
      }
    }
    if (shard.backend_login.mode == config::BackendLoginConfig::Mode::kMaster && PassThroughListener(config)) {
      out.push_back("shard '" + shard.name +
                    "': backend_login is master, and a listener's auth chain only passes through to "
                    "the backend: a master user would log anyone in, so its logins to this shard are "
                    "refused; give that listener a file or http auth source");
    }
  }
  return out;
}

BindVerdict ClassifyBindProbe(const std::string& what, int err) {
  if (err == 0) return {};
  if (err == EADDRINUSE) {
    return {
        false,
        what +
            ": address in use now (by a running imapgate?); starting would fail until it is free"};
  }
  std::string why = std::strerror(err);
  if (err == EADDRNOTAVAIL) why = "not an address of this host (" + why + ")";
  if (err == EACCES)
    why = "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE (" + why + ")";
  return {true, what + ": cannot bind: " + why};
}

}  // namespace imapgate::server
