// AdminApi::ShowStatus: GET /api/v1/status, the JSON the status page renders.

#include <cstddef>
#include <string>

#include "admin/admin_api.h"
#include "admin/api_util.h"
#include "admin/json_writer.h"
#include "admin/readiness.h"

namespace imapgate::admin {
namespace {

void WriteRefusal(JsonWriter& w, const Refusal& r) {
  w.BeginObject();
  w.Key("at").Int(r.at_unix_seconds);
  w.Key("listener").String(r.listener);
  w.Key("reason").String(r.reason);
  w.Key("client_address").String(r.client_address);
  w.EndObject();
}

void WriteOkFailed(JsonWriter& w, std::string_view key, uint64_t ok, uint64_t failed) {
  w.Key(key).BeginObject().Key("ok").Uint(ok).Key("failed").Uint(failed).EndObject();
}

}  // namespace

net::HttpResponse AdminApi::ShowStatus(const net::HttpRequest& request) const {
  if (!request.query.empty()) return JsonError(400, "this endpoint takes no query parameters");
  StatusOr<StatusInfo> report = control_->StatusReport();
  if (!report.ok()) return JsonError(internal::HttpStatusOf(report.status()), report.status().message());
  const StatusInfo& s = *report;
  const Readiness readiness = EvaluateReadiness(s);
  JsonWriter w;
  w.BeginObject();
  w.Key("version").String(s.version);
  w.Key("started_at").Int(s.started_unix_seconds);
  w.Key("config_loaded_at").Int(s.config_loaded_unix_seconds);
  w.Key("now").Int(s.now_unix_seconds);
  w.Key("ready").Bool(readiness.ready);
  w.Key("ready_reason").String(readiness.reason);
  w.Key("draining").Bool(s.draining);
  w.Key("listeners").BeginArray();
  for (const ListenerInfo& l : s.listeners) {
    w.BeginObject();
    w.Key("name").String(l.name);
    w.Key("address").String(l.address);
    w.Key("mode").String(l.mode);
    w.Key("tls").Bool(l.tls);
    w.Key("proxy_protocol").Bool(l.proxy_protocol);
    w.EndObject();
  }
  w.EndArray();
  w.Key("shards").BeginArray();
  for (const ShardInfo& shard : s.shards) {
    uint64_t up = 0;
    for (const BackendInfo& b : shard.backends) up += b.state == BackendState::kUp ? 1 : 0;
    w.BeginObject();
    w.Key("name").String(shard.name);
    w.Key("backends_up").Uint(up);
    w.Key("backends").BeginArray();
    for (const BackendInfo& b : shard.backends) internal::WriteBackend(w, b);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("counters").BeginObject();
  WriteOkFailed(w, "logins", s.counts.logins_ok, s.counts.logins_failed);
  WriteOkFailed(w, "tls_handshakes", s.counts.tls_handshakes_ok, s.counts.tls_handshakes_failed);
  w.EndObject();
  w.Key("refusals").BeginArray();
  // The ring bounds the list; a control that returned more is cut here too.
  for (size_t i = 0; i < s.refusals.size() && i < RefusalRing::kMaxCapacity; ++i) WriteRefusal(w, s.refusals[i]);
  w.EndArray();
  w.Key("refusals_total").Uint(s.refusals_total);
  w.Key("refusals_capacity").Uint(s.refusals_capacity);
  w.EndObject();
  return internal::JsonOk(w);
}

}  // namespace imapgate::admin
