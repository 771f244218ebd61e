#include "config/abuse_section.h"

#include <utility>

#include "config/loader_util.h"
#include "config/operations.h"
#include "config/units.h"

namespace imapgate::config::internal {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr size_t kMaxUrlBytes = 1024;
constexpr size_t kMaxKeyPrefixBytes = 64;

// A threshold: a count of distinct failures, 0 disables the rule.
void Threshold(const MapReader& map, std::string_view key, uint32_t* out) {
  int64_t v = 0;
  if (map.Int(key, 0, 1'000'000, &v)) *out = static_cast<uint32_t>(v);
}

void ReadCidrList(const Field& field, ErrorList* errors, std::vector<CidrRange>* out) {
  const YAML::Node& list = field.value;
  if (list.IsNull()) return;
  if (!list.IsSequence()) {
    errors->Add(field.mark(), field.path + ": expected a list of CIDR ranges, got " +
                                  std::string(DescribeType(list)));
    return;
  }
  if (list.size() > kMaxAbuseNetworks) {
    errors->Add(field.mark(), field.path + ": at most " + std::to_string(kMaxAbuseNetworks) +
                                  " ranges are allowed, got " + std::to_string(list.size()));
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& entry = list[i];
    const std::string path = field.path + "[" + std::to_string(i) + "]";
    if (!entry.IsScalar()) {
      errors->Add(entry.IsNull() ? field.mark() : entry.Mark(), path + ": expected a CIDR range such as 10.0.0.0/8");
      continue;
    }
    StatusOr<CidrRange> range = ParseCidr(entry.Scalar());
    if (!range.ok()) {
      errors->Add(entry.Mark(), path + ": " + QuoteForMessage(entry.Scalar()) + ": " + range.status().message());
      continue;
    }
    out->push_back(std::move(*range));
  }
}

void ReadConnections(const Field& field, ErrorList* errors, ratelimit::ConnectionLimitsConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path,
                {"per_address", "per_user_address", "per_user", "total", "accepts_per_minute"}, errors);
  Threshold(map, "per_address", &out->max_per_address_preauth);
  Threshold(map, "per_user_address", &out->max_per_user_address);
  Threshold(map, "per_user", &out->max_per_user);
  Threshold(map, "total", &out->max_total);
  Threshold(map, "accepts_per_minute", &out->accepts_per_minute);
}

void ReadRedis(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors,
               AbuseRedisConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path,
                {"address", "key_prefix", "password_file", "password", "timeout"}, errors);
  map.Require("address");
  Endpoint address;
  if (map.Address("address", false, &address)) {
    out->host = address.host;
    out->port = address.port;
  }
  if (map.String("key_prefix", false, &out->key_prefix)) {
    bool ok = out->key_prefix.size() <= kMaxKeyPrefixBytes;
    for (unsigned char c : out->key_prefix) ok = ok && c > 0x20 && c < 0x7f;
    if (!ok) {
      errors->Add(map.MarkOf("key_prefix"), map.PathOf("key_prefix") + ": expected at most " +
                                                std::to_string(kMaxKeyPrefixBytes) +
                                                " printable characters without spaces");
    }
  }
  std::string path;
  ReadSecretFileKey(map, "password_file", "password", SecretKind::kPassword, base_dir, errors, &path,
                    &out->password);
  map.Duration("timeout", milliseconds(10), seconds(10), &out->timeout);
}

void ReadPolicyHook(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors,
                    PolicyHookConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path,
                {"url", "nonce_file", "nonce", "hash_truncate", "timeout", "max_delay", "reject_on_fail",
                 "ca_file", "verify"},
                errors);
  map.Require("url");
  map.Require("nonce_file");  // the pwhash's nonce (Dovecot's auth_policy_hash_nonce): required
  if (map.String("url", false, &out->url)) {
    const std::string& url = out->url;
    bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0 || url.rfind("unix:/", 0) == 0;
    if (url.size() > kMaxUrlBytes || !scheme) {
      errors->Add(map.MarkOf("url"), map.PathOf("url") + ": expected an http://, https:// or unix:/PATH:/URI URL of at most " +
                                         std::to_string(kMaxUrlBytes) + " bytes");
      out->url.clear();
    }
  }
  std::string path;
  ReadSecretFileKey(map, "nonce_file", "nonce", SecretKind::kToken, base_dir, errors, &path, &out->nonce);
  int64_t bits = 0;
  if (map.Int("hash_truncate", 0, 256, &bits)) out->hash_truncate = static_cast<int>(bits);
  map.Duration("timeout", milliseconds(100), seconds(30), &out->timeout);
  map.Duration("max_delay", milliseconds(0), minutes(5), &out->max_delay);
  map.Bool("reject_on_fail", &out->reject_on_fail);
  std::string ca;
  if (map.String("ca_file", false, &ca)) out->ca_file = ResolvePath(base_dir, ca);
  map.Bool("verify", &out->verify);
}

}  // namespace

void ReadAbuse(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors, AbuseConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path,
                {"enabled", "store", "window", "window_buckets", "subnet_prefix_v4", "subnet_prefix_v6",
                 "tarpit_after", "tarpit_base", "tarpit_max", "block_address_after", "block_subnet_after",
                 "block_spraying_after", "block_for", "user_under_attack_after", "remember_for",
                 "global_surge_after", "max_keys", "on_store_failure", "trusted_networks", "blocklist",
                 "key_file", "key", "connections", "redis", "policy_hook"},
                errors);
  out->location = errors->Location(map.mark());
  map.Bool("enabled", &out->enabled);
  size_t store = 0;
  if (map.Choice("store", {"memory", "redis"}, &store)) {
    out->store = store == 0 ? AbuseConfig::StoreKind::kMemory : AbuseConfig::StoreKind::kRedis;
  }
  ratelimit::Policy& p = out->policy;
  map.Duration("window", seconds(10), hours(24), &p.window.length);
  int64_t n = 0;
  if (map.Int("window_buckets", 1, ratelimit::SlidingWindow::kMaxBuckets, &n)) p.window.buckets = static_cast<int>(n);
  if (map.Int("subnet_prefix_v4", 8, 32, &n)) p.subnet_prefix_v4 = static_cast<int>(n);
  if (map.Int("subnet_prefix_v6", 16, 128, &n)) p.subnet_prefix_v6 = static_cast<int>(n);
  Threshold(map, "tarpit_after", &p.tarpit_after);
  map.Duration("tarpit_base", milliseconds(0), minutes(1), &p.tarpit_base);
  map.Duration("tarpit_max", milliseconds(0), minutes(5), &p.tarpit_max);
  Threshold(map, "block_address_after", &p.block_address_after);
  Threshold(map, "block_subnet_after", &p.block_subnet_after);
  Threshold(map, "block_spraying_after", &p.block_spraying_after);
  map.Duration("block_for", seconds(1), hours(24 * 30), &p.block_for);
  Threshold(map, "user_under_attack_after", &p.user_under_attack_after);
  map.Duration("remember_for", milliseconds(0), hours(24 * 365), &p.remember_for);
  Threshold(map, "global_surge_after", &p.global_surge_after);
  uint64_t keys = 0;
  if (map.Size("max_keys", 1000, 100'000'000, &keys)) out->memory.max_keys = keys;
  size_t failure = 0;
  if (map.Choice("on_store_failure", {"open", "closed"}, &failure)) out->fail_closed = failure == 1;
  if (const Field* f = map.Find("trusted_networks")) ReadCidrList(*f, errors, &out->trusted_networks);
  if (const Field* f = map.Find("blocklist")) ReadCidrList(*f, errors, &out->blocklist);
  std::string key_path;
  ReadSecretFileKey(map, "key_file", "key", SecretKind::kToken, base_dir, errors, &key_path, &out->fingerprint_key);
  if (const Field* f = map.Find("connections")) ReadConnections(*f, errors, &out->connections);
  if (const Field* f = map.Find("redis")) ReadRedis(*f, base_dir, errors, &out->redis);
  if (const Field* f = map.Find("policy_hook")) ReadPolicyHook(*f, base_dir, errors, &out->policy_hook);

  if (p.tarpit_max < p.tarpit_base) {
    errors->Add(map.MarkOf("tarpit_max"), field.path + ".tarpit_max: must be at least tarpit_base");
  }
  if (out->store == AbuseConfig::StoreKind::kRedis) {
    if (map.Find("redis") == nullptr) {
      errors->Add(map.MarkOf("store"), field.path + ".store: redis needs an abuse.redis section (address)");
    }
    if (map.Find("key_file") == nullptr) {
      errors->Add(map.MarkOf("store"),
                  field.path + ".store: redis needs abuse.key_file, a secret shared by every instance (so "
                               "they count the same password as the same)");
    }
  } else if (map.Find("redis") != nullptr) {
    errors->Add(map.MarkOf("redis"), field.path + ".redis: only used with store: redis");
  }
}

}  // namespace imapgate::config::internal
