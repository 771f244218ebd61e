#include "config/shards.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "config/backend_login.h"
#include "config/loader_util.h"
#include "config/overrides.h"
#include "config/units.h"
#include "route/normalize.h"

namespace imapgate::config::internal {
namespace {

// Host names for routing.default_domain and routing.domains: 1 to 253 characters of letters,
// digits, '-' and '.', not starting or ending with '.'.
bool IsValidDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253 || domain.front() == '.' || domain.back() == '.') {
    return false;
  }
  for (char c : domain) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string DomainError(const std::string& path, const std::string& value) {
  return path + ": expected a domain name (letters, digits, '-' and '.'), got " +
         QuoteForMessage(value);
}

// How errors name a list entry: "shards[shard-a]" by a valid name, else "shards[0]".
std::string EntryPath(const std::string& list, const YAML::Node& node, size_t index) {
  if (node.IsMap()) {
    const YAML::Node name = node["name"];
    if (name && name.IsScalar() && IsValidName(name.Scalar())) {
      return list + "[" + name.Scalar() + "]";
    }
  }
  return list + "[" + std::to_string(index) + "]";
}

// A non-empty, bounded YAML sequence, or an error at the field.
bool CheckList(const YAML::Node& list, const YAML::Mark& mark, const std::string& path,
               const std::string& what, size_t max, ErrorList* errors) {
  if (!list.IsNull() && !list.IsSequence()) {
    errors->Add(mark, path + ": expected a list of " + what + ", got " +
                          std::string(DescribeType(list)));
    return false;
  }
  if (list.IsNull() || list.size() == 0) {
    errors->Add(mark, path + ": at least one " + what.substr(0, what.size() - 1) + " is required");
    return false;
  }
  if (list.size() > max) {
    errors->Add(mark, path + ": at most " + std::to_string(max) + " " + what + " are allowed, got " +
                          std::to_string(list.size()));
    return false;
  }
  return true;
}

class ShardReader {
 public:
  ShardReader(const std::filesystem::path& base_dir, const BackendLoginConfig& default_login,
              ErrorList* errors)
      : base_dir_(base_dir), default_login_(default_login), errors_(errors) {}

  void ReadShards(const Field& field, std::vector<ShardConfig>* out) {
    if (!CheckList(field.value, field.mark(), "shards", "shards", kMaxShards, errors_)) return;
    for (size_t i = 0; i < field.value.size(); ++i) {
      ShardConfig shard;
      if (ReadShard(field.value[i], i, &shard)) out->push_back(std::move(shard));
    }
  }

 private:
  // Returns false when the entry is not a mapping (nothing to keep).
  bool ReadShard(const YAML::Node& node, size_t index, ShardConfig* out) {
    const std::string path = EntryPath("shards", node, index);
    MapReader map(node, node.Mark(), path, {"name", "weight", "backends", "backend_login"},
                  errors_);
    if (!node.IsMap()) return false;
    out->location = errors_->Location(map.mark());
    map.Require("name");
    map.Require("backends");
    if (map.String("name", false, &out->name)) {
      CheckName(map, "name", out->name, errors_);
      CheckUnique("shard", out->name, map.MarkOf("name"), path + ".name", &shard_names_);
    }
    if (const Field* login = map.Find("backend_login")) {
      ReadBackendLogin(*login, base_dir_, errors_, &out->backend_login);
    } else {
      out->backend_login = default_login_;
    }
    int64_t weight = 1;
    if (map.Int("weight", 1, kMaxShardWeight, &weight)) out->weight = static_cast<uint32_t>(weight);
    if (const Field* backends = map.Find("backends")) {
      if (CheckList(backends->value, backends->mark(), backends->path, "backends",
                    kMaxBackendsPerShard, errors_)) {
        for (size_t i = 0; i < backends->value.size(); ++i) {
          ReadBackend(backends->value[i], backends->path, i, &out->backends);
        }
      }
    }
    return true;
  }

  void ReadBackend(const YAML::Node& node, const std::string& list, size_t index,
                   std::vector<BackendConfig>* out) {
    const std::string path = EntryPath(list, node, index);
    MapReader map(node, node.Mark(), path, BackendKeys(), errors_);
    if (!node.IsMap()) return;
    map.Require("name");
    map.Require("address");
    BackendConfig backend;
    backend.name.clear();
    ReadBackendFields(map, base_dir_, errors_, &backend);
    if (IsValidName(backend.name)) {
      CheckUnique("backend", backend.name, map.MarkOf("name"), path + ".name", &backend_names_);
    }
    out->push_back(std::move(backend));
  }

  // Reports `name` when already seen (across all shards, for backends).
  void CheckUnique(const std::string& what, const std::string& name, const YAML::Mark& mark,
                   const std::string& path,
                   std::vector<std::pair<std::string, YAML::Mark>>* seen) {
    for (const auto& [other, first] : *seen) {
      if (other == name) {
        errors_->Add(mark, path + ": duplicate " + what + " name " + QuoteForMessage(name) +
                               " (first at " + Position(first) + ")");
        return;
      }
    }
    seen->emplace_back(name, mark);
  }

  const std::filesystem::path& base_dir_;
  const BackendLoginConfig& default_login_;
  ErrorList* errors_;
  std::vector<std::pair<std::string, YAML::Mark>> shard_names_, backend_names_;
};

void ReadRouting(const Field& field, const std::filesystem::path& base_dir,
                 const std::vector<std::string>& shard_names, ErrorList* errors,
                 RoutingConfig* out) {
  MapReader map(field.value, field.key.Mark(), "routing",
                {"default_domain", "override_file", "domains"}, errors);
  std::string domain;
  bool domain_ok = true;
  if (map.String("default_domain", false, &domain)) {
    if (IsValidDomain(domain)) {
      out->default_domain = route::AsciiLower(domain);
    } else {
      domain_ok = false;
      errors->Add(map.MarkOf("default_domain"), DomainError("routing.default_domain", domain));
    }
  } else if (map.Find("default_domain")) {
    domain_ok = false;
  }
  if (const Field* rules = map.Find("domains"); rules && !rules->value.IsNull()) {
    if (!rules->value.IsMap()) {
      errors->Add(rules->mark(), "routing.domains: expected a mapping of domain: shard, got " +
                                     std::string(DescribeType(rules->value)));
    } else if (rules->value.size() > kMaxDomainRules) {
      errors->Add(rules->mark(), "routing.domains: at most " + std::to_string(kMaxDomainRules) +
                                     " rules are allowed, got " +
                                     std::to_string(rules->value.size()));
    } else {
      std::vector<std::pair<std::string, YAML::Mark>> seen;
      for (const auto& item : rules->value) {
        const YAML::Node& key = item.first;
        const YAML::Node& value = item.second;
        if (!key.IsScalar() || !IsValidDomain(key.Scalar())) {
          errors->Add(key.Mark(), DomainError("routing.domains", key.IsScalar() ? key.Scalar()
                                                                                : "a non-scalar"));
          continue;
        }
        const std::string name = route::AsciiLower(key.Scalar());
        const std::string path = "routing.domains[" + name + "]";
        bool duplicate = false;
        for (const auto& [other, first] : seen) {
          if (other == name) {
            errors->Add(key.Mark(), path + ": duplicate domain (first at " + Position(first) + ")");
            duplicate = true;
          }
        }
        if (duplicate) continue;
        seen.emplace_back(name, key.Mark());
        const YAML::Mark mark = value.IsNull() ? key.Mark() : value.Mark();
        if (!value.IsScalar() || value.Scalar().empty()) {
          errors->Add(mark, path + ": expected a shard name");
          continue;
        }
        const std::string& shard = value.Scalar();
        if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end()) {
          errors->Add(mark, path + ": unknown shard " + QuoteForMessage(shard));
          continue;
        }
        out->domains.emplace(name, shard);
      }
    }
  }
  if (map.String("override_file", false, &out->override_file)) {
    out->override_file = ResolvePath(base_dir, out->override_file);
    out->override_file_location = errors->Location(map.MarkOf("override_file"));
    if (!domain_ok) return;  // the file's names depend on the default domain
    StatusOr<OverrideMap> overrides =
        LoadOverrideFile(out->override_file, shard_names, out->default_domain);
    if (overrides.ok()) {
      out->overrides = std::move(*overrides);
      return;
    }
    // One config error per line of the file's errors, at the override_file value.
    const std::string& message = overrides.status().message();
    size_t pos = 0;
    while (pos < message.size()) {
      size_t end = message.find('\n', pos);
      if (end == std::string::npos) end = message.size();
      errors->Add(map.MarkOf("override_file"),
                  "routing.override_file: " + message.substr(pos, end - pos));
      pos = end + 1;
    }
  }
}

}  // namespace

void ReadShardsAndRouting(const MapReader& root, const std::filesystem::path& base_dir,
                          ErrorList* errors, Config* config) {
  const Field* backend = root.Find("backend");
  const Field* shards = root.Find("shards");
  if (backend != nullptr && shards != nullptr) {
    errors->Add(shards->key.Mark(),
                "shards: use either backend (one backend, the shard 'default') or shards, not "
                "both; move the backend into a shard's backends list");
  }
  if (shards != nullptr) {
    // Read even next to backend:, so that its own errors show at once.
    ShardReader(base_dir, config->backend_login, errors).ReadShards(*shards, &config->shards);
  } else if (backend != nullptr) {
    ShardConfig shard;
    shard.name = "default";
    shard.backends.push_back(config->backend);
    shard.location = config->backend.address_location;
    shard.backend_login = config->backend_login;
    config->shards.push_back(std::move(shard));
  }
  if (!config->shards.empty() && !config->shards[0].backends.empty()) {
    config->backend = config->shards[0].backends[0];
  }
  std::vector<std::string> names;
  for (const ShardConfig& shard : config->shards) {
    if (IsValidName(shard.name)) names.push_back(shard.name);
  }
  if (const Field* routing = root.Find("routing")) {
    ReadRouting(*routing, base_dir, names, errors, &config->routing);
  }
}

}  // namespace imapgate::config::internal
