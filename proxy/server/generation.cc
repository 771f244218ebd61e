#include "server/generation.h"

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

}  // namespace

const char* ListenerModeName(config::ListenerMode mode) {
  return mode == config::ListenerMode::kImplicitTls ? "implicit" : "starttls";
}

StatusOr<GenerationPtr> BuildGeneration(config::ConfigPtr config, stats::Metrics* metrics,
                                        uint64_t id) {
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
    g->server_tls.push_back(*ctx);
    g->listeners.push_back(std::move(spec));
  }
  const config::BackendConfig& b = c.backend;
  upstream::BackendTarget& t = g->backend;
  t.security = ToMode(b.security);
  t.label = b.address.host + ":" + std::to_string(b.address.port);
  t.server_name = b.tls_server_name.empty() ? b.address.host : b.tls_server_name;
  t.connect_timeout = c.timeouts.backend_connect;
  t.login_timeout = c.timeouts.backend_login;
  t.max_line_bytes = c.limits.backend_max_line_bytes;
  auto addr = net::ResolveAddress(b.address.host, b.address.port);
  if (!addr.ok()) {
    errors += b.address_location.ToString() + ": backend.address: " + addr.status().message() + "\n";
  } else {
    t.address = *addr;
  }
  if (t.security != upstream::BackendSecurityMode::kPlaintext) {
    auto ctx = tls::TlsClientContext::Create(b.tls_ca_file, b.tls_verify);
    if (!ctx.ok()) {
      errors += b.tls_ca_location.ToString() + ": backend.tls_ca: " + ctx.status().message() + "\n";
    } else {
      g->backend_tls = *ctx;
      t.tls = g->backend_tls.get();
    }
  }
  if (!errors.empty()) {
    errors.pop_back();
    return InvalidArgument(errors);
  }
  g->relay.high_watermark = c.limits.relay_high_watermark_bytes;
  g->relay.low_watermark = c.limits.relay_low_watermark_bytes;
  g->relay.idle_timeout = c.timeouts.idle;
  return GenerationPtr(std::move(g));
}

}  // namespace imapgate::server
