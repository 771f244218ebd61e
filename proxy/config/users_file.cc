#include "config/users_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "auth/totp.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "config/loader_util.h"
#include "config/units.h"
#include "config/yaml_reader.h"
#include "route/normalize.h"

namespace imapgate::config {
namespace {

using internal::ErrorList;
using internal::MapReader;

// A std::string wiped when it goes out of scope (for text that held secrets).
struct WipedString {
  std::string text;
  ~WipedString() { SecureWipe(text.data(), text.size()); }
};



constexpr auth::SecondFactorPolicy kPolicies[] = {
    auth::SecondFactorPolicy::kNone, auth::SecondFactorPolicy::kTotp, auth::SecondFactorPolicy::kPush};
const std::vector<std::string_view> kPolicyNames = {"none", "totp", "push"};

class UsersReader {
 public:
  UsersReader(ErrorList* errors, std::string_view default_domain)
      : errors_(errors), default_domain_(default_domain) {}

  void ReadRoot(const YAML::Node& root, UsersFileEntries* out) {
    MapReader top(root, YAML::Mark(), "", {"users", "domains"}, errors_);
    top.Require("users");
    // Domains first: a user's effective policy depends on them.
    if (const internal::Field* f = top.Find("domains")) ReadDomains(*f, &out->domains);
    if (const internal::Field* f = top.Find("users")) ReadUsers(*f, out);
  }

 private:
  // Reads a mapping-valued field; reports anything else. Returns false when not a mapping.
  bool ExpectMapping(const internal::Field& field) {
    if (field.value.IsNull()) return false;
    if (!field.value.IsMap()) {
      errors_->Add(field.mark(), field.path + ": expected a mapping, got " +
                                     std::string(internal::DescribeType(field.value)));
      return false;
    }
    return true;
  }

  void ReadDomains(const internal::Field& field, auth::DomainPolicies* out) {
    if (!ExpectMapping(field)) return;
    std::map<std::string, YAML::Mark, std::less<>> first;
    for (const auto& item : field.value) {
      const YAML::Node& key = item.first;
      if (!key.IsScalar() || key.Scalar().empty()) {
        errors_->Add(key.Mark(), "domains: each key must be a domain name");
        continue;
      }
      if (out->size() >= kMaxDomainPolicies) {
        errors_->Add(key.Mark(), "domains: more than " + std::to_string(kMaxDomainPolicies) + " domains");
        return;
      }
      const std::string& text = key.Scalar();
      if (text.size() > kMaxDomainBytes || text.find('@') != std::string::npos) {
        errors_->Add(key.Mark(), "domains: not a domain name: " + QuoteForMessage(text));
        continue;
      }
      std::string domain = route::AsciiLower(text);
      if (auto it = first.find(domain); it != first.end()) {
        errors_->Add(key.Mark(), "domains: duplicate domain " + QuoteForMessage(domain) +
                                     " (first at " + internal::Position(it->second) + ")");
        continue;
      }
      first.emplace(domain, key.Mark());
      MapReader map(item.second, key.Mark(), "domains." + domain, {"second_factor"}, errors_);
      map.Require("second_factor");
      size_t policy = 0;
      if (map.Choice("second_factor", kPolicyNames, &policy)) out->emplace(domain, kPolicies[policy]);
    }
  }

  void ReadUsers(const internal::Field& field, UsersFileEntries* out) {
    if (!ExpectMapping(field)) return;
    std::map<std::string, YAML::Mark, std::less<>> first;
    for (const auto& item : field.value) {
      const YAML::Node& key = item.first;
      if (!key.IsScalar() || key.Scalar().empty()) {
        errors_->Add(key.Mark(), "users: each key must be a user name");
        continue;
      }
      if (out->users.size() >= kMaxUsers) {
        errors_->Add(key.Mark(), "users: more than " + std::to_string(kMaxUsers) + " users");
        return;
      }
      std::optional<std::string> name = route::NormalizedUser(key.Scalar(), default_domain_);
      if (!name) {
        errors_->Add(key.Mark(), "users: user name longer than " +
                                     std::to_string(route::kMaxUserBytes) +
                                     " bytes (with the default domain)");
        continue;
      }
      if (auto it = first.find(*name); it != first.end()) {
        errors_->Add(key.Mark(), "users: duplicate user " + QuoteForMessage(*name) + " (first at " +
                                     internal::Position(it->second) + ")");
        continue;
      }
      first.emplace(*name, key.Mark());
      auth::UserRecord record;
      record.name = std::move(*name);
      record.line = key.Mark().line + 1;
      if (ReadUser(item.second, key.Mark(), out->domains, &record)) {
        out->users.push_back(std::move(record));
      }
    }
  }

  // Reads one user's mapping into *record; false when it had an error.
  bool ReadUser(const YAML::Node& node, const YAML::Mark& key_mark,
                const auth::DomainPolicies& domains, auth::UserRecord* record) {
    const std::string path = "users." + QuoteForMessage(record->name);
    MapReader map(node, key_mark, path,
                  {"password", "shard", "totp", "second_factor", "app_passwords"}, errors_);
    map.Require("password");
    bool ok = map.Find("password") != nullptr;
    WipedString text;
    if (map.String("password", false, &text.text)) {
      ok &= ReadHash(text.text, map.MarkOf("password"), map.PathOf("password"), &record->password);
    } else {
      ok = false;
    }
    std::string shard;
    if (map.String("shard", false, &shard)) {
      if (internal::IsValidName(shard)) {
        record->shard = shard;
      } else {
        internal::CheckName(map, "shard", shard, errors_);
        ok = false;
      }
    } else if (map.Find("shard")) {
      ok = false;
    }
    if (map.Find("totp")) {
      WipedString secret;
      if (map.String("totp", false, &secret.text)) {
        ok &= ReadTotp(secret.text, map.MarkOf("totp"), map.PathOf("totp"), &record->totp_key);
      } else {
        ok = false;
      }
    }
    size_t policy = 0;
    if (map.Choice("second_factor", kPolicyNames, &policy)) {
      record->second_factor = kPolicies[policy];
    } else if (map.Find("second_factor")) {
      ok = false;
    }
    if (const internal::Field* f = map.Find("app_passwords")) ok &= ReadAppPasswords(*f, record);
    // A TOTP policy (the user's own, or its domain's) needs a TOTP secret, or the user could
    // never log in with the password.
    if (ok && record->totp_key.empty()) {
      if (record->second_factor == auth::SecondFactorPolicy::kTotp) {
        errors_->Add(map.MarkOf("second_factor"),
                     map.PathOf("second_factor") + ": is totp but the user has no totp secret");
        ok = false;
      } else if (!record->second_factor) {
        auto it = domains.find(route::DomainOf(record->name));
        if (it != domains.end() && it->second == auth::SecondFactorPolicy::kTotp) {
          errors_->Add(key_mark, path + ": the domain's second_factor is totp but the user has no "
                                        "totp secret (add one, or set second_factor for the user)");
          ok = false;
        }
      }
    }
    return ok;
  }

  bool ReadHash(std::string_view stored, const YAML::Mark& mark, const std::string& path,
                auth::PasswordHash* out) {
    StatusOr<auth::PasswordHash> hash = auth::ParsePasswordHash(stored);
    if (!hash.ok()) {
      errors_->Add(mark, path + ": " + hash.status().message());
      return false;
    }
    *out = std::move(*hash);
    return true;
  }

  bool ReadTotp(std::string_view text, const YAML::Mark& mark, const std::string& path,
                SecretString* out) {
    if (text.size() > auth::kMaxBase32Chars) {
      errors_->Add(mark, path + ": longer than " + std::to_string(auth::kMaxBase32Chars) +
                             " characters");
      return false;
    }
    std::optional<SecretString> key = auth::DecodeBase32(text);
    if (!key) {
      errors_->Add(mark, path + ": not a base32 secret (RFC 4648: letters A-Z and digits 2-7)");
      return false;
    }
    if (key->size() < kMinTotpKeyBytes) {
      errors_->Add(mark, path + ": too short: at least " + std::to_string(kMinTotpKeyBytes) +
                             " bytes (16 base32 characters)");
      return false;
    }
    *out = std::move(*key);
    return true;
  }

  bool ReadAppPasswords(const internal::Field& field, auth::UserRecord* record) {
    if (field.value.IsNull()) return true;
    if (!field.value.IsSequence()) {
      errors_->Add(field.mark(), field.path + ": expected a list, got " +
                                     std::string(internal::DescribeType(field.value)));
      return false;
    }
    if (field.value.size() > kMaxAppPasswordsPerUser) {
      errors_->Add(field.mark(), field.path + ": more than " +
                                     std::to_string(kMaxAppPasswordsPerUser) + " app passwords");
      return false;
    }
    bool ok = true;
    for (size_t i = 0; i < field.value.size(); ++i) {
      const YAML::Node item = field.value[i];
      MapReader map(item, field.mark(), field.path + "[" + std::to_string(i) + "]", {"name", "hash"},
                    errors_);
      map.Require("name");
      map.Require("hash");
      auth::AppPassword app;
      bool item_ok = map.Find("name") != nullptr && map.Find("hash") != nullptr;
      if (map.String("name", false, &app.name)) {
        if (!internal::IsValidName(app.name)) {
          internal::CheckName(map, "name", app.name, errors_);
          item_ok = false;
        }
        for (const auth::AppPassword& other : record->app_passwords) {
          if (other.name == app.name) {
            errors_->Add(map.MarkOf("name"), map.PathOf("name") + ": duplicate app password name " +
                                                 QuoteForMessage(app.name));
            item_ok = false;
          }
        }
      } else {
        item_ok = false;
      }
      WipedString text;
      if (map.String("hash", false, &text.text)) {
        item_ok &= ReadHash(text.text, map.MarkOf("hash"), map.PathOf("hash"), &app.hash);
      } else {
        item_ok = false;
      }
      if (item_ok) record->app_passwords.push_back(std::move(app));
      ok &= item_ok;
    }
    return ok;
  }

  ErrorList* errors_;
  std::string_view default_domain_;
};

std::string UsersFileMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

StatusOr<UsersFileEntries> ParseUsersFileEntries(std::string_view yaml,
                                                 std::string_view name_for_errors,
                                                 std::string_view default_domain) {
  ErrorList errors{std::string(name_for_errors)};
  if (yaml.size() > kMaxUsersFileBytes) {
    errors.AddAt(0, 0, "the users file is larger than " + FormatSize(kMaxUsersFileBytes));
    return InvalidArgument(errors.Join());
  }
  if (int line, column; internal::FindBadByte(yaml, &line, &column)) {
    errors.AddAt(line, column, "invalid byte: the file must be UTF-8 text without control characters");
    return InvalidArgument(errors.Join());
  }
  UsersFileEntries entries;
  UsersReader reader(&errors, default_domain);
  WipedString text{std::string(yaml)};
  try {
    if (int line = internal::SecondDocumentLine(yaml); line > 0) {
      errors.AddAt(line, 1, "only one YAML document is allowed per file");
    }
    reader.ReadRoot(YAML::Load(text.text), &entries);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's message describes the syntax, not the scalar's content.
    errors.Add(e.mark, e.msg);
  } catch (const std::exception& e) {
    errors.AddAt(0, 0, std::string("internal error while reading the users file: ") + e.what());
  }
  if (!errors.empty()) return InvalidArgument(errors.Join());
  return entries;
}

StatusOr<std::shared_ptr<const auth::UserDatabase>> ParseUsersFile(std::string_view yaml,
                                                                   std::string_view name_for_errors,
                                                                   std::string_view default_domain) {
  StatusOr<UsersFileEntries> entries = ParseUsersFileEntries(yaml, name_for_errors, default_domain);
  if (!entries.ok()) return entries.status();
  StatusOr<std::shared_ptr<const auth::UserDatabase>> db =
      auth::UserDatabase::Create(std::move(entries->users), std::move(entries->domains));
  if (!db.ok()) return InvalidArgument(std::string(name_for_errors) + ": " + db.status().message());
  return db;
}

StatusOr<std::shared_ptr<const auth::UserDatabase>> LoadUsersFile(const std::string& path,
                                                                  std::string_view default_domain) {
  auto fail = [&path](const std::string& why) { return InvalidArgument(path + ": " + why); };
  // O_NONBLOCK: a FIFO named by mistake must not hang the load; it is refused below.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return fail(std::string("cannot read file: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return fail("cannot read file: not a regular file");
  if ((st.st_mode & 077) != 0) {
    return fail("the file is accessible by group or others (mode " + UsersFileMode(st.st_mode) +
                "); the users file holds secrets: chmod 600 it");
  }
  WipedString text;
  char buffer[16384];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::string("cannot read file: ") + std::strerror(errno));
    if (n == 0) break;
    if (text.text.size() + static_cast<size_t>(n) > kMaxUsersFileBytes) {
      SecureWipe(buffer, sizeof(buffer));
      return fail("the file is larger than " + FormatSize(kMaxUsersFileBytes));
    }
    text.text.append(buffer, static_cast<size_t>(n));
  }
  SecureWipe(buffer, sizeof(buffer));
  return ParseUsersFile(text.text, path, default_domain);
}

}  // namespace imapgate::config
