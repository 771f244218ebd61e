#include "server/reload.h"

#include <memory>

#include "config/endpoint.h"

namespace imapgate::server {
namespace {

const char* ModeText(config::ListenerMode mode) {
  return mode == config::ListenerMode::kImplicitTls ? "implicit" : "starttls";
}

bool SameEndpoint(const config::Endpoint& a, const config::Endpoint& b) {
  return a.host == b.host && a.port == b.port;
}

const config::ListenerConfig* FindListener(const config::Config& c, const std::string& name) {
  for (const config::ListenerConfig& l : c.listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace

ReloadPlan PlanReload(const config::Config& running, const config::ConfigPtr& next_ptr) {
  const config::Config& next = *next_ptr;
  auto effective = std::make_shared<config::Config>(next);
  ReloadPlan plan;
  auto restart = [&plan](std::string listener, std::string setting, std::string detail) {
    plan.needs_restart.push_back({std::move(listener), std::move(setting), std::move(detail)});
  };

  // Listeners: one per bound socket, in the running order.
  effective->listeners.clear();
  for (const config::ListenerConfig& bound : running.listeners) {
    const std::string where = config::FormatEndpoint(bound.address);
    const config::ListenerConfig* wanted = FindListener(next, bound.name);
    if (wanted == nullptr) {
      restart(bound.name, "listener_removed",
              "listener " + Quoted(bound.name) +
                  " is no longer in the configuration but keeps listening on " + where +
                  " with its previous settings until a restart");
      effective->listeners.push_back(bound);
      continue;
    }
    config::ListenerConfig kept = *wanted;
    if (!SameEndpoint(wanted->address, bound.address)) {
      restart(bound.name, "address",
              "listener " + Quoted(bound.name) + " moved from " + where + " to " +
                  config::FormatEndpoint(wanted->address) + " in the configuration but keeps " +
                  "listening on " + where + " until a restart");
      kept.address = bound.address;
    }
    if (wanted->mode != bound.mode) {
      restart(bound.name, "mode",
              "listener " + Quoted(bound.name) + " on " + where + " changed mode from " +
                  ModeText(bound.mode) + " to " + ModeText(wanted->mode) +
                  " in the configuration but keeps " + ModeText(bound.mode) + " until a restart");
      kept.mode = bound.mode;
    }
    effective->listeners.push_back(std::move(kept));
  }
  for (const config::ListenerConfig& l : next.listeners) {
    if (FindListener(running, l.name) != nullptr) continue;
    restart(l.name, "listener_added",
            "listener " + Quoted(l.name) + " on " + config::FormatEndpoint(l.address) + " (" +
                ModeText(l.mode) + ") is new in the configuration and is not listening until a " +
                "restart");
  }

  // Process-wide settings fixed at start.
  auto fixed = [&](const std::string& setting, const std::string& was, const std::string& now) {
    restart("", setting,
            setting + " changed from " + Quoted(was) + " to " + Quoted(now) +
                " in the configuration; " + Quoted(was) + " stays in effect until a restart");
  };
  if (next.process.user != running.process.user)
    fixed("user", running.process.user, next.process.user);
  if (next.process.group != running.process.group)
    fixed("group", running.process.group, next.process.group);
  if (next.process.allow_root != running.process.allow_root) {
    fixed("allow_root", running.process.allow_root ? "true" : "false",
          next.process.allow_root ? "true" : "false");
  }
  effective->process = running.process;
  if (next.workers != running.workers) {
    fixed("workers", std::to_string(running.workers), std::to_string(next.workers));
    effective->workers = running.workers;
  }
  if (!SameEndpoint(next.admin.address, running.admin.address)) {
    fixed("admin.address", config::FormatEndpoint(running.admin.address),
          config::FormatEndpoint(next.admin.address));
    effective->admin.address = running.admin.address;
  }
  // The health table's thresholds and the admin API's token are set up once, at start.
  if (next.health_checks.rise != running.health_checks.rise) {
    fixed("health_checks.rise", std::to_string(running.health_checks.rise),
          std::to_string(next.health_checks.rise));
    effective->health_checks.rise = running.health_checks.rise;
  }
  if (next.health_checks.fall != running.health_checks.fall) {
    fixed("health_checks.fall", std::to_string(running.health_checks.fall),
          std::to_string(next.health_checks.fall));
    effective->health_checks.fall = running.health_checks.fall;
  }
  if (next.warm_connections.per_backend != running.warm_connections.per_backend ||
      next.warm_connections.max_age != running.warm_connections.max_age) {
    restart("", "warm_connections",
            "warm_connections changed in the configuration; the workers' pools keep their start-up "
            "size and max_age until a restart");
    effective->warm_connections = running.warm_connections;
  }
  if (next.auth.hash_threads != running.auth.hash_threads || next.auth.hash_queue != running.auth.hash_queue ||
      next.auth.cache_ttl != running.auth.cache_ttl || next.auth.cache_max_entries != running.auth.cache_max_entries) {
    restart("", "auth.hash_threads/hash_queue/cache_ttl/cache_max_entries",
            "the hash pool and the auth cache keep their start-up size and TTL until a restart");
    effective->auth.hash_threads = running.auth.hash_threads;
    effective->auth.hash_queue = running.auth.hash_queue;
    effective->auth.cache_ttl = running.auth.cache_ttl;
    effective->auth.cache_max_entries = running.auth.cache_max_entries;
  }
  // Issue C: what the abuse store was built with (the windows' shape, the store, its size, the
  // fingerprint key) stays; thresholds, limits, lists and the policy hook change with the file.
  const config::AbuseConfig& ra = running.abuse;
  const config::AbuseConfig& na = next.abuse;
  const auto same_key = [](const std::shared_ptr<const SecretString>& a, const std::shared_ptr<const SecretString>& b) {
    return (a == nullptr) == (b == nullptr) && (a == nullptr || a->view() == b->view());
  };
  if (na.store != ra.store || na.policy.window.length != ra.policy.window.length ||
      na.policy.window.buckets != ra.policy.window.buckets || na.policy.remember_for != ra.policy.remember_for ||
      na.memory.max_keys != ra.memory.max_keys || na.redis.host != ra.redis.host || na.redis.port != ra.redis.port ||
      na.redis.key_prefix != ra.redis.key_prefix || na.redis.timeout != ra.redis.timeout ||
      !same_key(na.redis.password, ra.redis.password) || !same_key(na.fingerprint_key, ra.fingerprint_key)) {
    restart("", "abuse.store/window/window_buckets/remember_for/max_keys/redis/key_file",
            "the abuse store keeps the kind, window shape, size, Redis connection and fingerprint key it "
            "started with until a restart");
    config::AbuseConfig& ea = effective->abuse;
    ea.store = ra.store;
    ea.policy.window = ra.policy.window;
    ea.policy.remember_for = ra.policy.remember_for;
    ea.memory = ra.memory;
    ea.redis = ra.redis;
    ea.fingerprint_key = ra.fingerprint_key;
  }
  const bool had_token = running.admin.token != nullptr, has_token = next.admin.token != nullptr;
  if (had_token != has_token || (had_token && running.admin.token->view() != next.admin.token->view())) {
    restart("", "admin.token_file",
            "the admin token changed in the configuration; the token read at start stays in effect "
            "until a restart");
    effective->admin.token = running.admin.token;
    effective->admin.token_file = running.admin.token_file;
  }
  plan.effective = std::move(effective);
  return plan;
}

}  // namespace imapgate::server
