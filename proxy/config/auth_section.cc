#include "config/auth_section.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "config/loader_util.h"
#include "config/units.h"

namespace imapgate::config::internal {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr size_t kMaxAuthUrlBytes = 1024;

// A list of scalars at `field`, each passed to `each(text, node)`; reports a non-list and a list
// longer than `max`.
template <typename Each>
void ReadScalarList(const Field& field, size_t max, std::string_view what, ErrorList* errors, Each each) {
  const YAML::Node& list = field.value;
  if (list.IsNull()) return;
  if (!list.IsSequence()) {
    errors->Add(field.mark(), field.path + ": expected a list of " + std::string(what) + ", got " +
                                  std::string(DescribeType(list)));
    return;
  }
  if (list.size() > max) {
    errors->Add(field.mark(), field.path + ": at most " + std::to_string(max) + " entries are allowed, got " +
                                  std::to_string(list.size()));
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& entry = list[i];
    const std::string path = field.path + "[" + std::to_string(i) + "]";
    if (!entry.IsScalar()) {
      errors->Add(entry.IsNull() ? field.mark() : entry.Mark(), path + ": expected " + std::string(what));
      continue;
    }
    each(entry.Scalar(), entry, path);
  }
}

bool ValidUrlScheme(std::string_view url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0 || url.rfind("unix:/", 0) == 0;
}

void ReadUrl(const MapReader& map, std::string_view key, ErrorList* errors, std::string* out) {
  if (!map.String(key, false, out)) return;
  if (out->size() > kMaxAuthUrlBytes || !ValidUrlScheme(*out)) {
    errors->Add(map.MarkOf(key), map.PathOf(key) + ": expected an http://, https:// or unix:/PATH:/URI URL of at most " +
                                     std::to_string(kMaxAuthUrlBytes) + " bytes");
    out->clear();
  }
}

void ReadSource(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors,
                AuthSourceConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path,
                {"type", "path", "unknown_users", "url", "timeout", "ca_file", "verify", "max_idle"}, errors);
  out->location = errors->Location(map.mark());
  map.Require("type");
  size_t type = 0;
  if (!map.Choice("type", {"file", "http", "backend"}, &type)) return;
  out->type = type == 0 ? AuthSourceConfig::Type::kFile
              : type == 1 ? AuthSourceConfig::Type::kHttp
                          : AuthSourceConfig::Type::kBackend;
  auto only_for = [&](std::initializer_list<std::string_view> keys, std::string_view kind) {
    for (std::string_view key : keys) {
      if (map.Find(key) != nullptr)
        errors->Add(map.MarkOf(key), map.PathOf(key) + ": not a key of a " + std::string(kind) + " source");
    }
  };
  switch (out->type) {
    case AuthSourceConfig::Type::kFile: {
      only_for({"url", "timeout", "ca_file", "verify", "max_idle"}, "file");
      map.Require("path");
      std::string path;
      if (map.String("path", false, &path)) out->users_file = ResolvePath(base_dir, path);
      size_t unknown = 0;
      if (map.Choice("unknown_users", {"reject", "next"}, &unknown)) out->unknown_users_next = unknown == 1;
      break;
    }
    case AuthSourceConfig::Type::kHttp: {
      only_for({"path", "unknown_users"}, "http");
      map.Require("url");
      ReadUrl(map, "url", errors, &out->url);
      map.Duration("timeout", milliseconds(100), minutes(1), &out->timeout);
      std::string ca;
      if (map.String("ca_file", false, &ca)) out->ca_file = ResolvePath(base_dir, ca);
      map.Bool("verify", &out->verify);
      int64_t idle = 0;
      if (map.Int("max_idle", 0, 64, &idle)) out->max_idle = static_cast<size_t>(idle);
      break;
    }
    case AuthSourceConfig::Type::kBackend:
      only_for({"path", "unknown_users", "url", "timeout", "ca_file", "verify", "max_idle"}, "backend");
      break;
  }
}

void ReadPush(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors, PushHookConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path,
                {"url", "timeout", "poll_interval", "request_timeout", "ca_file", "verify"}, errors);
  out->location = errors->Location(map.mark());
  map.Require("url");
  ReadUrl(map, "url", errors, &out->url);
  map.Duration("timeout", seconds(1), minutes(10), &out->timeout);
  map.Duration("poll_interval", milliseconds(100), minutes(1), &out->poll_interval);
  map.Duration("request_timeout", milliseconds(100), minutes(1), &out->request_timeout);
  std::string ca;
  if (map.String("ca_file", false, &ca)) out->ca_file = ResolvePath(base_dir, ca);
  map.Bool("verify", &out->verify);
}

void ReadSecondFactor(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors,
                      AuthConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path, {"remember_devices", "push"}, errors);
  map.Duration("remember_devices", milliseconds(0), hours(24 * 90), &out->remember_devices);
  if (const Field* push = map.Find("push")) ReadPush(*push, base_dir, errors, &out->push);
}

}  // namespace

void ReadMechanisms(const Field& field, ErrorList* errors, std::vector<std::string>* out) {
  std::vector<std::string> mechanisms;
  ReadScalarList(field, 4, "SASL mechanism names", errors,
                 [&](const std::string& text, const YAML::Node& node, const std::string& path) {
                   std::string upper = text;
                   std::transform(upper.begin(), upper.end(), upper.begin(),
                                  [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
                   if (upper != "PLAIN" && upper != "LOGIN" && upper != "XOAUTH2" && upper != "OAUTHBEARER") {
                     errors->Add(node.Mark(), path + ": unknown SASL mechanism " + QuoteForMessage(text) +
                                                  " (expected PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER)");
                     return;
                   }
                   if (std::find(mechanisms.begin(), mechanisms.end(), upper) != mechanisms.end()) {
                     errors->Add(node.Mark(), path + ": duplicate mechanism " + upper);
                     return;
                   }
                   mechanisms.push_back(upper);
                 });
  *out = std::move(mechanisms);
}

void ReadSourceNames(const Field& field, ErrorList* errors, std::vector<std::string>* out) {
  std::vector<std::string> names;
  ReadScalarList(field, kMaxAuthSources, "auth source names", errors,
                 [&](const std::string& text, const YAML::Node& node, const std::string& path) {
                   if (std::find(names.begin(), names.end(), text) != names.end()) {
                     errors->Add(node.Mark(), path + ": " + QuoteForMessage(text) + " is already in the chain");
                     return;
                   }
                   names.push_back(text);
                 });
  *out = std::move(names);
}

void ReadAuth(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors, AuthConfig* out) {
  MapReader map(field.value, field.key.Mark(), "auth",
                {"sources", "chain", "mechanisms", "hash_threads", "hash_queue", "cache_ttl", "cache_max_entries",
                 "second_factor", "timeout", "master_users"},
                errors);
  out->location = errors->Location(map.mark());
  map.Require("sources");
  map.Require("chain");
  if (const Field* sources = map.Find("sources")) {
    const YAML::Node& node = sources->value;
    if (!node.IsMap()) {
      errors->Add(sources->mark(), "auth.sources: expected a mapping of source names to sources, got " +
                                       std::string(DescribeType(node)));
    } else if (node.size() > kMaxAuthSources) {
      errors->Add(sources->mark(), "auth.sources: at most " + std::to_string(kMaxAuthSources) +
                                       " sources are allowed, got " + std::to_string(node.size()));
    } else {
      for (auto it = node.begin(); it != node.end(); ++it) {
        AuthSourceConfig source;
        // Copies: yaml-cpp's iterator hands out a temporary pair (a reference to it dangles).
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        if (!key.IsScalar() || !IsValidName(key.Scalar())) {
          errors->Add(key.Mark(), "auth.sources: source names must match [a-z0-9_-]{1,32}");
          continue;
        }
        source.name = key.Scalar();
        for (const AuthSourceConfig& other : out->sources) {
          if (other.name == source.name) errors->Add(key.Mark(), "auth.sources: duplicate source " + source.name);
        }
        Field f{key, value, "auth.sources." + source.name};
        ReadSource(f, base_dir, errors, &source);
        out->sources.push_back(std::move(source));
      }
    }
  }
  out->chain_location = errors->Location(map.MarkOf("chain"));
  if (const Field* chain = map.Find("chain")) ReadSourceNames(*chain, errors, &out->chain);
  if (const Field* m = map.Find("mechanisms")) ReadMechanisms(*m, errors, &out->mechanisms);
  int64_t n = 0;
  if (map.Int("hash_threads", 1, 64, &n)) out->hash_threads = static_cast<int>(n);
  if (map.Int("hash_queue", 1, 65536, &n)) out->hash_queue = static_cast<size_t>(n);
  map.Duration("cache_ttl", milliseconds(0), hours(24), &out->cache_ttl);
  if (map.Int("cache_max_entries", 0, 10'000'000, &n)) out->cache_max_entries = static_cast<size_t>(n);
  map.Duration("timeout", seconds(1), minutes(5), &out->timeout);
  if (const Field* f = map.Find("second_factor")) ReadSecondFactor(*f, base_dir, errors, out);
  if (const Field* f = map.Find("master_users")) {
    ReadScalarList(*f, kMaxMasterUsers, "user names", errors,
                   [&](const std::string& text, const YAML::Node&, const std::string&) {
                     std::string lower = text;
                     std::transform(lower.begin(), lower.end(), lower.begin(),
                                    [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                     out->master_users.push_back(std::move(lower));
                   });
  }
}

void CheckAuthChains(Config* config, ErrorList* errors) {
  AuthConfig& auth = config->auth;
  if (auth.sources.empty() && auth.chain.empty()) {
    // No auth: section: A's pass-through, the backend decides.
    AuthSourceConfig backend;
    backend.name = "backend";
    backend.type = AuthSourceConfig::Type::kBackend;
    backend.location = auth.location;
    auth.chain_location = auth.location;
    auth.sources.push_back(std::move(backend));
    auth.chain = {"backend"};
  }
  auto check = [&](const std::vector<std::string>& chain, const SourceLocation& where, const std::string& what) {
    for (size_t i = 0; i < chain.size(); ++i) {
      auto it = std::find_if(auth.sources.begin(), auth.sources.end(),
                             [&](const AuthSourceConfig& s) { return s.name == chain[i]; });
      if (it == auth.sources.end()) {
        errors->AddAt(where.line, where.column, what + ": no auth source named " + QuoteForMessage(chain[i]));
        continue;
      }
      if (it->type == AuthSourceConfig::Type::kBackend && i + 1 != chain.size()) {
        errors->AddAt(where.line, where.column,
                      what + ": the backend source " + QuoteForMessage(chain[i]) +
                          " must come last (it always decides: the backend checks the password)");
      }
    }
  };
  if (auth.chain.empty()) {
    errors->AddAt(auth.location.line, auth.location.column, "auth.chain: at least one source is required");
  }
  check(auth.chain, auth.chain_location, "auth.chain");
  for (ListenerConfig& listener : config->listeners) {
    if (!listener.auth_chain.empty()) {
      check(listener.auth_chain, listener.auth_chain_location, "listeners[" + listener.name + "].auth_chain");
    }
    if (listener.auth_mechanisms.empty()) listener.auth_mechanisms = auth.mechanisms;
  }
}

}  // namespace imapgate::config::internal
