#include "config/operations.h"

#include <utility>

#include "config/loader_util.h"
#include "config/units.h"

namespace imapgate::config::internal {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

void ReadHealthChecks(const Field& field, ErrorList* errors, HealthCheckConfig* out) {
  MapReader map(field.value, field.key.Mark(), "health_checks",
                {"enabled", "interval", "timeout", "rise", "fall"}, errors);
  map.Bool("enabled", &out->enabled);
  const bool interval_ok = map.Duration("interval", milliseconds(100), hours(1), &out->interval) ||
                           map.Find("interval") == nullptr;
  const bool timeout_ok = map.Duration("timeout", milliseconds(100), minutes(1), &out->timeout) ||
                          map.Find("timeout") == nullptr;
  int64_t count = 0;
  if (map.Int("rise", 1, 100, &count)) out->rise = static_cast<int>(count);
  if (map.Int("fall", 1, 100, &count)) out->fall = static_cast<int>(count);
  // A check must end before the next one starts, so at most one is ever in flight per backend.
  if (interval_ok && timeout_ok && out->timeout > out->interval) {
    const char* key = map.Find("timeout") ? "timeout" : "interval";
    errors->Add(map.MarkOf(key), "health_checks: timeout (" + FormatDuration(out->timeout) +
                                     ") must be at most interval (" +
                                     FormatDuration(out->interval) + ")");
  }
}

void ReadWarmConnections(const Field& field, ErrorList* errors, WarmConnectionsConfig* out) {
  MapReader map(field.value, field.key.Mark(), "warm_connections", {"per_backend", "max_age"}, errors);
  int64_t count = 0;
  if (map.Int("per_backend", 0, 64, &count)) out->per_backend = static_cast<size_t>(count);
  map.Duration("max_age", seconds(1), minutes(10), &out->max_age);
}

void ReadProxyProtocolIn(const Field& field, ErrorList* errors, ProxyProtocolInConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path, {"mode", "trusted", "timeout"}, errors);
  out->location = errors->Location(map.mark());
  size_t mode = 0;
  if (map.Choice("mode", {"off", "required"}, &mode)) {
    out->mode = mode == 0 ? ProxyProtocolInConfig::Mode::kOff
                          : ProxyProtocolInConfig::Mode::kRequired;
  }
  map.Duration("timeout", milliseconds(100), seconds(60), &out->timeout);
  const Field* trusted = map.Find("trusted");
  if (trusted != nullptr && !trusted->value.IsNull()) {
    const YAML::Node& list = trusted->value;
    if (!list.IsSequence()) {
      errors->Add(trusted->mark(), trusted->path + ": expected a list of CIDR ranges, got " +
                                       std::string(DescribeType(list)));
      return;
    }
    if (list.size() > kMaxTrustedProxies) {
      errors->Add(trusted->mark(), trusted->path + ": at most " +
                                       std::to_string(kMaxTrustedProxies) +
                                       " ranges are allowed, got " + std::to_string(list.size()));
      return;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node& entry = list[i];
      const std::string path = trusted->path + "[" + std::to_string(i) + "]";
      if (!entry.IsScalar()) {
        errors->Add(entry.IsNull() ? trusted->mark() : entry.Mark(),
                    path + ": expected a CIDR range such as 10.0.0.0/8");
        continue;
      }
      StatusOr<CidrRange> range = ParseCidr(entry.Scalar());
      if (!range.ok()) {
        errors->Add(entry.Mark(), path + ": " + QuoteForMessage(entry.Scalar()) + ": " +
                                      range.status().message());
        continue;
      }
      out->trusted.push_back(std::move(*range));
    }
  }
  if (out->mode == ProxyProtocolInConfig::Mode::kRequired &&
      (trusted == nullptr || trusted->value.IsNull() || trusted->value.size() == 0)) {
    errors->Add(trusted != nullptr ? trusted->mark() : map.MarkOf("mode"),
                field.path + ".trusted: mode required needs at least one trusted CIDR range (the "
                             "addresses of the load balancers that send the PROXY header)");
  }
}

void ReportInlineSecret(const MapReader& map, std::string_view inline_key,
                        std::string_view file_key, ErrorList* errors) {
  if (const Field* inline_secret = map.Find(inline_key)) {
    // The value is never quoted: it is a secret.
    errors->Add(inline_secret->key.Mark(),
                inline_secret->path + ": secrets are not accepted inline; put it in a file only "
                                      "its owner can read (chmod 600) and name that file with " +
                    std::string(file_key) + " instead");
  }
}

bool ReadSecretFileKey(const MapReader& map, std::string_view file_key,
                       std::string_view inline_key, SecretKind kind,
                       const std::filesystem::path& base_dir, ErrorList* errors,
                       std::string* path, std::shared_ptr<const SecretString>* secret) {
  ReportInlineSecret(map, inline_key, file_key, errors);
  std::string text;
  if (!map.String(file_key, false, &text)) return false;
  *path = ResolvePath(base_dir, text);
  StatusOr<std::shared_ptr<const SecretString>> read = ReadSecretFile(*path, kind);
  if (!read.ok()) {
    errors->Add(map.MarkOf(file_key),
                map.PathOf(file_key) + ": " + *path + ": " + read.status().message());
    return false;
  }
  *secret = std::move(*read);
  return true;
}

}  // namespace imapgate::config::internal
