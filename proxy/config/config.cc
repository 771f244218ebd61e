#include "config/config.h"

#include "common/utf8.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <utility>

#include "config/abuse_section.h"
#include "config/auth_section.h"
#include "config/backend_login.h"
#include "config/endpoint.h"
#include "config/loader_util.h"
#include "config/operations.h"
#include "config/shards.h"
#include "config/units.h"
#include "config/yaml_reader.h"

namespace imapgate::config {
namespace {

using internal::ErrorList;
using internal::Field;
using internal::IsValidName;
using internal::MapReader;
using internal::Position;
using std::chrono::milliseconds;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr size_t kMaxListeners = 64;
constexpr size_t kMaxFileBytes = 4 * kMiB;
constexpr size_t kMaxLogPathBytes = 4095;  // PATH_MAX less its NUL

// State shared by the section readers of one load.
struct Loader {
  ErrorList* errors;
  std::filesystem::path base_dir;  // directory of the config file, for relative paths

  // Resolves a path from the file against the config file's directory (see loader_util.h).
  std::string ResolvePath(const std::string& text) const {
    return internal::ResolvePath(base_dir, text);
  }

  void CheckName(const MapReader& map, std::string_view key, const std::string& name) const {
    internal::CheckName(map, key, name, errors);
  }

  void ReadTls(const Field& field, TlsFiles* out) const {
    MapReader tls(field.value, field.key.Mark(), field.path, {"certificate", "key"}, errors);
    tls.Require("certificate");
    tls.Require("key");
    if (tls.String("certificate", false, &out->certificate)) {
      out->certificate = ResolvePath(out->certificate);
    }
    if (tls.String("key", false, &out->key)) out->key = ResolvePath(out->key);
    out->location = errors->Location(tls.mark());
  }

  // Reads one listener; *name_mark and *address_mark get where those values are, for the
  // duplicate checks.
  void ReadListener(const YAML::Node& node, size_t index, ListenerConfig* out,
                    YAML::Mark* name_mark, YAML::Mark* address_mark) const {
    MapReader map(node, node.Mark(), ListenerPath(node, index),
                  {"name", "address", "mode", "tls", "proxy_protocol", "auth_chain", "auth_mechanisms"}, errors);
    *name_mark = map.MarkOf("name");
    *address_mark = map.MarkOf("address");
    map.Require("name");
    map.Require("address");
    map.Require("tls");
    if (map.String("name", false, &out->name)) CheckName(map, "name", out->name);
    map.Address("address", false, &out->address);
    out->address_location = errors->Location(map.MarkOf("address"));
    size_t mode = 0;
    if (map.Choice("mode", {"implicit", "starttls"}, &mode)) {
      out->mode = mode == 0 ? ListenerMode::kImplicitTls : ListenerMode::kStartTls;
    }
    if (const Field* tls = map.Find("tls")) ReadTls(*tls, &out->tls);
    if (const Field* proxy = map.Find("proxy_protocol")) {
      internal::ReadProxyProtocolIn(*proxy, errors, &out->proxy_protocol);
    }
    out->auth_chain_location = errors->Location(map.MarkOf("auth_chain"));
    if (const Field* chain = map.Find("auth_chain")) internal::ReadSourceNames(*chain, errors, &out->auth_chain);
    if (const Field* m = map.Find("auth_mechanisms")) internal::ReadMechanisms(*m, errors, &out->auth_mechanisms);
  }

  // How errors name a listener: "listeners[imaps]" by its name when it has a valid one (so that a
  // message says which listener without counting), else "listeners[0]" by its index.
  static std::string ListenerPath(const YAML::Node& node, size_t index) {
    if (node.IsMap()) {
      const YAML::Node name = node["name"];
      if (name && name.IsScalar() && IsValidName(name.Scalar())) {
        return "listeners[" + name.Scalar() + "]";
      }
    }
    return "listeners[" + std::to_string(index) + "]";
  }

  // Reads the listener list and reports duplicate names and addresses.
  void ReadListeners(const Field& field, Config* config) const {
    const YAML::Node& list = field.value;
    if (list.IsNull()) {
      errors->Add(field.mark(), "listeners: at least one listener is required");
      return;
    }
    if (!list.IsSequence()) {
      errors->Add(field.mark(), "listeners: expected a list of listeners, got " +
                                    std::string(internal::DescribeType(list)));
      return;
    }
    if (list.size() == 0) {
      errors->Add(field.mark(), "listeners: at least one listener is required");
      return;
    }
    if (list.size() > kMaxListeners) {
      errors->Add(field.mark(), "listeners: at most " + std::to_string(kMaxListeners) +
                                    " listeners are allowed, got " + std::to_string(list.size()));
      return;
    }
    std::vector<std::pair<std::string, YAML::Mark>> names, addresses;
    for (size_t i = 0; i < list.size(); ++i) {
      ListenerConfig listener;
      YAML::Mark name_mark, address_mark;
      ReadListener(list[i], i, &listener, &name_mark, &address_mark);
      const std::string prefix = ListenerPath(list[i], i);
      if (!listener.name.empty()) {
        for (const auto& [name, mark] : names) {
          if (name == listener.name) {
            errors->Add(name_mark, prefix + ".name: duplicate listener name " +
                                       QuoteForMessage(name) + " (first at " + Position(mark) +
                                       ")");
            break;
          }
        }
        names.emplace_back(listener.name, name_mark);
      }
      if (listener.address.port != 0) {
        const std::string address = FormatEndpoint(listener.address);
        for (const auto& [other, mark] : addresses) {
          if (other == address) {
            errors->Add(address_mark, prefix + ".address: duplicate listener address " +
                                          QuoteForMessage(address) + " (first at " +
                                          Position(mark) + ")");
            break;
          }
        }
        addresses.emplace_back(address, address_mark);
      }
      config->listeners.push_back(std::move(listener));
    }
  }

  void ReadBackend(const Field& field, BackendConfig* out) const {
    MapReader map(field.value, field.key.Mark(), "backend", internal::BackendKeys(), errors);
    map.Require("address");
    internal::ReadBackendFields(map, base_dir, errors, out);
  }

  void ReadLimits(const Field& field, Limits* out) const {
    MapReader map(field.value, field.key.Mark(), "limits",
                  {"max_command_line", "max_literal", "max_preauth_bytes", "max_bad_commands",
                   "max_auth_attempts", "max_sessions_per_worker", "relay_high_watermark",
                   "relay_low_watermark", "backend_max_line"},
                  errors);
    // Stores a valid value; returns false when the key is present but invalid (already reported).
    auto size = [&](std::string_view key, uint64_t min, uint64_t max, size_t* value) {
      if (map.Find(key) == nullptr) return true;
      uint64_t parsed = 0;
      if (!map.Size(key, min, max, &parsed)) return false;
      *value = static_cast<size_t>(parsed);
      return true;
    };
    auto count = [&](std::string_view key, int64_t min, int64_t max, auto* value) {
      int64_t parsed = 0;
      if (map.Int(key, min, max, &parsed))
        *value = static_cast<std::decay_t<decltype(*value)>>(parsed);
    };
    size("max_command_line", 1 * kKiB, 1 * kMiB, &out->max_command_line_bytes);
    size("max_literal", 1, 16 * kMiB, &out->max_literal_bytes);
    size("max_preauth_bytes", 1 * kKiB, 64 * kMiB, &out->max_preauth_bytes);
    count("max_bad_commands", 1, 1000, &out->max_bad_commands);
    count("max_auth_attempts", 1, 100, &out->max_auth_attempts);
    count("max_sessions_per_worker", 1, 10'000'000, &out->max_sessions_per_worker);
    const bool high_ok =
        size("relay_high_watermark", 4 * kKiB, 64 * kMiB, &out->relay_high_watermark_bytes);
    const bool low_ok = size("relay_low_watermark", 0, 64 * kMiB, &out->relay_low_watermark_bytes);
    size("backend_max_line", 1 * kKiB, 1 * kMiB, &out->backend_max_line_bytes);
    // Only compare values that are both valid, so one bad value yields one error.
    if (high_ok && low_ok && out->relay_low_watermark_bytes >= out->relay_high_watermark_bytes) {
      const char* key = map.Find("relay_low_watermark") || !map.Find("relay_high_watermark")
                            ? "relay_low_watermark"
                            : "relay_high_watermark";
      errors->Add(map.MarkOf(key), "limits: relay_low_watermark (" +
                                       FormatSize(out->relay_low_watermark_bytes) +
                                       ") must be below relay_high_watermark (" +
                                       FormatSize(out->relay_high_watermark_bytes) + ")");
    }
  }

  void ReadTimeouts(const Field& field, Timeouts* out) const {
    MapReader map(
        field.value, field.key.Mark(), "timeouts",
        {"preauth", "tls_handshake", "idle", "backend_connect", "backend_login", "shutdown_grace",
         "drain_grace"},
        errors);
    using std::chrono::hours;
    using std::chrono::minutes;
    using std::chrono::seconds;
    map.Duration("preauth", seconds(1), hours(24), &out->preauth);
    map.Duration("tls_handshake", milliseconds(100), minutes(10), &out->tls_handshake);
    map.Duration("idle", seconds(1), hours(24), &out->idle);
    map.Duration("backend_connect", milliseconds(100), minutes(10), &out->backend_connect);
    map.Duration("backend_login", milliseconds(100), minutes(10), &out->backend_login);
    map.Duration("shutdown_grace", milliseconds(0), hours(1), &out->shutdown_grace);
    map.Duration("drain_grace", milliseconds(0), hours(24), &out->drain_grace);
  }

  void ReadAdmin(const Field& field, const Config& config, AdminConfig* out) const {
    MapReader map(field.value, field.key.Mark(), "admin", {"address", "token_file", "token"},
                  errors);
    if (internal::ReadSecretFileKey(map, "token_file", "token", SecretKind::kToken, base_dir,
                                    errors, &out->token_file, &out->token)) {
      out->token_file_location = errors->Location(map.MarkOf("token_file"));
    }
    if (!map.Address("address", true, &out->address) || out->address.port == 0) return;
    for (const ListenerConfig& listener : config.listeners) {
      if (listener.address.port == out->address.port &&
          listener.address.host == out->address.host) {
        errors->Add(map.MarkOf("address"),
                    "admin.address: " + QuoteForMessage(FormatEndpoint(out->address)) +
                        " is also the address of listener " + QuoteForMessage(listener.name));
      }
    }
  }

  // log_file: "" (stderr) or a file path whose directory exists; opened at start-up, not here.
  void ReadLogFile(const MapReader& map, Config* config) const {
    std::string text;
    if (!map.String("log_file", true, &text) || text.empty()) return;
    const YAML::Mark mark = map.MarkOf("log_file");
    const std::string path = map.PathOf("log_file");
    if (text.size() > kMaxLogPathBytes) {
      errors->Add(mark, path + ": longer than " + std::to_string(kMaxLogPathBytes) + " bytes");
      return;
    }
    if (text.back() == '/') {
      errors->Add(mark, path + ": " + QuoteForMessage(text) + " names a directory, not a file");
      return;
    }
    for (unsigned char c : text) {
      if (c < 0x20 || c == 0x7f) {
        errors->Add(mark, path + ": contains a control character");
        return;
      }
    }
    const std::string resolved = ResolvePath(text);
    std::error_code ec;
    if (std::filesystem::is_directory(resolved, ec)) {
      errors->Add(mark, path + ": " + QuoteForMessage(resolved) + " is a directory, not a file");
      return;
    }
    const std::filesystem::path dir = std::filesystem::path(resolved).parent_path();
    if (!std::filesystem::is_directory(dir, ec)) {
      errors->Add(mark, path + ": directory " + QuoteForMessage(dir.string()) + " does not exist");
      return;
    }
    config->log_file = resolved;
  }

  void ReadRoot(const YAML::Node& root, Config* config) const {
    MapReader map(root, YAML::Mark(), "",
                  {"workers", "log_level", "log_format", "log_file", "listeners", "backend", "shards", "routing", "limits",
                   "timeouts", "admin", "user", "group", "allow_root", "health_checks",
                   "backend_login", "warm_connections", "auth", "abuse"},
                  errors);
    map.Require("listeners");
    // One of backend (A's single backend, which becomes the shard "default") or shards.
    if (map.Find("shards") == nullptr) map.Require("backend");
    int64_t workers = 0;
    if (map.Int("workers", 0, 256, &workers)) config->workers = static_cast<int>(workers);
    size_t level = 0;
    static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
    if (map.Choice("log_level", {kLevels[0], kLevels[1], kLevels[2], kLevels[3]}, &level)) {
      config->log_level = std::string(kLevels[level]);
    }
    size_t format = 0;
    if (map.Choice("log_format", {"logfmt", "json"}, &format)) {
      config->log_format = format == 0 ? "logfmt" : "json";
    }
    ReadLogFile(map, config);
    map.String("user", false, &config->process.user);
    map.String("group", false, &config->process.group);
    map.Bool("allow_root", &config->process.allow_root);
    if (const Field* f = map.Find("listeners")) ReadListeners(*f, config);
    if (const Field* f = map.Find("backend")) ReadBackend(*f, &config->backend);
    // Before the shards, which inherit it.
    if (const Field* f = map.Find("backend_login")) {
      internal::ReadBackendLogin(*f, base_dir, errors, &config->backend_login);
    } else {
      config->backend_login.location = errors->Location(YAML::Mark::null_mark());
    }
    internal::ReadShardsAndRouting(map, base_dir, errors, config);
    if (const Field* f = map.Find("health_checks")) {
      internal::ReadHealthChecks(*f, errors, &config->health_checks);
    }
    if (const Field* f = map.Find("warm_connections")) {
      internal::ReadWarmConnections(*f, errors, &config->warm_connections);
    }
    if (const Field* f = map.Find("limits")) ReadLimits(*f, &config->limits);
    if (const Field* f = map.Find("timeouts")) ReadTimeouts(*f, &config->timeouts);
    if (const Field* f = map.Find("admin")) ReadAdmin(*f, *config, &config->admin);
    if (const Field* f = map.Find("auth")) {
      internal::ReadAuth(*f, base_dir, errors, &config->auth);
    } else {
      config->auth.location = errors->Location(YAML::Mark::null_mark());
    }
    internal::CheckAuthChains(config, errors);
    if (const Field* f = map.Find("abuse")) {
      internal::ReadAbuse(*f, base_dir, errors, &config->abuse);
    } else {
      config->abuse.location = errors->Location(YAML::Mark::null_mark());
    }
  }
};

std::filesystem::path DirectoryOf(const std::string& file_name) {
  std::filesystem::path dir = std::filesystem::path(file_name).parent_path();
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(dir.empty() ? "." : dir, ec);
  return ec ? dir : absolute;
}



// yaml-cpp's errors for a tab in the indentation vary with where it is ("illegal tab when
// looking for indentation", "illegal map value", "illegal block entry"). After a parse error at
// 1-based `error_line`, finds the nearest line at or above it whose indentation holds a tab
// (a line that is not blank; yaml-cpp refuses a tab before a comment too); returns false when
// there is none.
bool FindIndentationTab(const std::string& text, int error_line, int* line, int* column) {
  int found_line = 0, found_column = 0;
  int current = 0;
  size_t pos = 0;
  while (pos < text.size() && (error_line <= 0 || current < error_line)) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++current;
    const std::string_view l(text.data() + pos, end - pos);
    const size_t first = l.find_first_not_of(" \t\r");
    if (first != std::string_view::npos) {
      const size_t tab = l.substr(0, first).find('\t');
      if (tab != std::string_view::npos) {
        found_line = current;
        found_column = static_cast<int>(tab) + 1;
      }
    }
    pos = end + 1;
  }
  if (found_line == 0) return false;
  *line = found_line;
  *column = found_column;
  return true;
}

}  // namespace

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

StatusOr<ConfigPtr> LoadConfigText(const std::string& text, const std::string& file_name) {
  ErrorList errors(file_name);
  auto config = std::make_shared<Config>();
  config->source_file = file_name;
  Loader loader{&errors, DirectoryOf(file_name)};
  if (int line, column; internal::FindBadByte(text, &line, &column)) {
    errors.AddAt(line, column, "invalid byte: the file must be UTF-8 text without control characters");
    return InvalidArgument(errors.Join());
  }
  try {
    // YAML::LoadAll loops forever on some inputs (yaml-cpp 0.7, e.g. " ,"; upstream PR #1319),
    // so only the first document is parsed and a second one is found by its marker line.
    if (int line = internal::SecondDocumentLine(text); line > 0) {
      errors.AddAt(line, 1, "only one YAML document is allowed per file");
    }
    // An empty file reads as an empty mapping, which then reports the missing required keys.
    loader.ReadRoot(YAML::Load(text), config.get());
  } catch (const YAML::Exception& e) {
    const int error_line = e.mark.is_null() ? 0 : e.mark.line + 1;
    if (int line, column; FindIndentationTab(text, error_line, &line, &column)) {
      errors.AddAt(line, column,
                   "tab character in the indentation: YAML indents with spaces only, replace the "
                   "tab with spaces");
    } else {
      errors.Add(e.mark, e.msg);
    }
  } catch (const std::exception& e) {
    errors.AddAt(0, 0, std::string("internal error while reading the config: ") + e.what());
  }
  if (!errors.empty()) return InvalidArgument(errors.Join());
  return ConfigPtr(std::move(config));
}

StatusOr<ConfigPtr> LoadConfigFile(const std::string& path) {
  StatusOr<std::string> text = internal::ReadBoundedFile(path, kMaxFileBytes);
  if (!text.ok()) return text.status();
  return LoadConfigText(*text, path);
}

}  // namespace imapgate::config
