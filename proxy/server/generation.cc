#include "server/generation.h"

#include "server/generation_auth.h"

#include "config/routing.h"
#include "stats/metrics.h"

namespace imapgate::server {
namespace {

upstream::BackendSecurityMode ToMode(config::BackendSecurity s) {
  switch (s) {
    case config::BackendSecurity::kTls:
      return upstream::BackendSecurityMode::kTls;
    case config::BackendSecurity::kStartTls:
      return upstream::BackendSecurityMode::kStartTls;
    default:
      return upstream::BackendSecurityMode::kPlaintext;
  }
}

// One backend's target: address, link security (its TLS context goes into the pool), timeouts.
// Appends "FILE:LINE:COL: message" lines to `errors`.
void BuildTarget(const config::Config& c, const config::BackendConfig& b, login::BackendPool& pool,
                 upstream::BackendTarget& t, std::string& errors) {
  t.security = ToMode(b.security);
  t.label = b.name + " (" + b.address.host + ":" + std::to_string(b.address.port) + ")";
  t.server_name = b.tls_server_name.empty() ? b.address.host : b.tls_server_name;
  t.connect_timeout = c.timeouts.backend_connect;
  t.login_timeout = c.timeouts.backend_login;
  t.max_line_bytes = c.limits.backend_max_line_bytes;
  auto addr = net::ResolveAddress(b.address.host, b.address.port);
  if (!addr.ok()) {
    errors += b.address_location.ToString() + ": backend '" + b.name + "': address: " + addr.status().message() + "\n";
  } else {
    t.address = *addr;
  }
  if (t.security != upstream::BackendSecurityMode::kPlaintext) {
    auto ctx = tls::TlsClientContext::Create(b.tls_ca_file, b.tls_verify);
    if (!ctx.ok()) {
      errors += b.tls_ca_location.ToString() + ": backend '" + b.name + "': tls_ca: " + ctx.status().message() + "\n";
    } else {
      pool.tls.push_back(*ctx);
      t.tls = ctx->get();
    }
  }
}

// The shards, their backends in failover order, the router and the health indices.
void BuildBackendPool(const config::Config& c, std::shared_ptr<health::BackendHealthTable> health,
                      stats::Metrics* metrics, Generation& g, std::string& errors) {
  login::BackendPool& pool = g.pool;
  pool.health = std::move(health);
  pool.metrics = metrics;
  auto router = config::BuildRouter(c);
  if (!router.ok()) {
    errors += c.source_file + ": routing: " + router.status().message() + "\n";
    return;
  }
  pool.router = *router;
  for (size_t s = 0; s < c.shards.size(); ++s) {
    const config::ShardConfig& shard = c.shards[s];
    login::PoolShard ps;
    ps.name = shard.name;
    if (metrics != nullptr) {
      StatusOr<int> index = metrics->ShardIndex(shard.name);
      if (index.ok()) ps.metrics_index = *index;
    }
    if (shard.backend_login.mode == config::BackendLoginConfig::Mode::kMaster) {
      login::MasterLogin m;
      m.form = shard.backend_login.form == config::BackendLoginConfig::Form::kSaslPlainAuthzid
                   ? upstream::MasterUserCredentials::Form::kSaslPlainAuthzid
                   : upstream::MasterUserCredentials::Form::kLoginSeparator;
      m.master_user = shard.backend_login.master_user;
      m.master_password = shard.backend_login.master_password;
      m.separator = shard.backend_login.separator;
      ps.master = std::move(m);
    }
    for (const config::BackendConfig& b : shard.backends) {
      login::PoolBackend pb;
      pb.name = b.name;
      pb.shard = s;
      pb.target.send_proxy_v2 = b.send_proxy_v2;
      if (metrics != nullptr) {
        // Every configured backend's series exist from start-up (and from the reload adding it).
        StatusOr<int> index = metrics->BackendIndex(b.name);
        if (index.ok()) pb.metrics_index = *index;
      }
      BuildTarget(c, b, pool, pb.target, errors);
      if (pool.health) {
        StatusOr<size_t> index = pool.health->Add(b.name);
        if (!index.ok()) {
          errors += b.address_location.ToString() + ": backend '" + b.name + "': " + index.status().message() + "\n";
          continue;
        }
        pb.health = *index;
      }
      ps.backends.push_back(pool.backends.size());
      ps.health_order.push_back(pb.health);
      pool.backends.push_back(std::move(pb));
    }
    pool.shards.push_back(std::move(ps));
  }
}

}  // namespace

const char* ListenerModeName(config::ListenerMode mode) {
  return mode == config::ListenerMode::kImplicitTls ? "implicit" : "starttls";
}

StatusOr<GenerationPtr> BuildGeneration(config::ConfigPtr config, stats::Metrics* metrics, uint64_t id,
                                        std::shared_ptr<health::BackendHealthTable> health,
                                        std::shared_ptr<auth::AuthServices> auth_services,
                                        std::shared_ptr<route::RuntimeMoves> moves) {
  if (!config) return InvalidArgument("no configuration");
  const config::Config& c = *config;
  auto g = std::make_shared<Generation>();
  g->id = id;
  g->config = config;
  std::string errors;
  int position = 0;
  for (const config::ListenerConfig& l : c.listeners) {
    auto ctx = tls::TlsServerContext::Create(l.tls.certificate, l.tls.key);
    if (!ctx.ok()) {
      errors += l.tls.location.ToString() + ": listener '" + l.name +
                "': " + ctx.status().message() + "\n";
      continue;
    }
    auto addr = net::ResolveAddress(l.address.host, l.address.port);
    if (!addr.ok()) {
      errors += l.address_location.ToString() + ": listener '" + l.name +
                "': " + addr.status().message() + "\n";
      continue;
    }
    ListenerSpec spec;
    spec.address = *addr;
    spec.mode = l.mode;
    spec.endpoint = l.address.host + ":" + std::to_string(l.address.port);
    spec.context.index = position++;
    if (metrics != nullptr) {
      StatusOr<int> index = metrics->ListenerIndex(l.name);
      if (!index.ok()) return index.status();
      spec.context.index = *index;
    }
    spec.context.name = l.name;
    spec.context.position = static_cast<size_t>(&l - c.listeners.data());
    if (l.proxy_protocol.mode == config::ProxyProtocolInConfig::Mode::kRequired) {
      std::vector<std::string> ranges;
      for (const config::CidrRange& r : l.proxy_protocol.trusted) ranges.push_back(r.ToString());
      auto trusted = proxyproto::CidrList::Parse(ranges);
      if (!trusted.ok()) {
        errors += l.proxy_protocol.location.ToString() + ": listener '" + l.name +
                  "': proxy_protocol.trusted: " + trusted.status().message() + "\n";
        continue;
      }
      spec.context.proxy_protocol = true;
      spec.context.proxy_trusted = std::move(*trusted);
      spec.context.proxy_timeout = l.proxy_protocol.timeout;
    }
    frontend::FrontendOptions& f = spec.context.frontend;
    f.implicit_tls = l.mode == config::ListenerMode::kImplicitTls;
    f.tls = ctx->get();
    f.parser.max_line_bytes = c.limits.max_command_line_bytes;
    f.parser.max_literal_bytes = c.limits.max_literal_bytes;
    f.max_preauth_bytes = c.limits.max_preauth_bytes;
    f.max_bad_commands = c.limits.max_bad_commands;
    f.max_auth_attempts = c.limits.max_auth_attempts;
    f.preauth_timeout = c.timeouts.preauth;
    f.tls_handshake_timeout = c.timeouts.tls_handshake;
    f.sasl_mechanisms = l.auth_mechanisms;
    f.allow_authzid = !c.auth.master_users.empty();
    g->server_tls.push_back(*ctx);
    g->listeners.push_back(std::move(spec));
  }
  BuildBackendPool(c, std::move(health), metrics, *g, errors);
  g->pool.moves = std::move(moves);
  g->auth = BuildGenerationAuth(c, std::move(auth_services), metrics, &errors);
  if (auto plan = abuse::AbusePlan::Build(c.abuse); plan.ok()) {
    g->abuse = std::move(*plan);
  } else {
    errors += c.abuse.location.ToString() + ": " + plan.status().message() + "\n";
  }
  if (!errors.empty()) {
    errors.pop_back();
    return InvalidArgument(errors);
  }
  g->relay.high_watermark = c.limits.relay_high_watermark_bytes;
  g->relay.low_watermark = c.limits.relay_low_watermark_bytes;
  g->relay.idle_timeout = c.timeouts.idle;
  g->relay.metrics = metrics;
  return GenerationPtr(std::move(g));
}

}  // namespace imapgate::server
