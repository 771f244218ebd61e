#include "config/backend_login.h"

#include "common/utf8.h"
#include "config/operations.h"
#include "config/units.h"

namespace imapgate::config::internal {
namespace {

// Master user names: 1..kMaxMasterUserBytes of UTF-8 without spaces or control characters.
bool IsValidMasterUser(std::string_view name) {
  if (name.empty() || name.size() > kMaxMasterUserBytes) return false;
  size_t i = 0;
  while (i < name.size()) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const size_t n = Utf8SequenceLength(name, i);
    if (n == 0 || c <= 0x20 || c == 0x7f) return false;
    i += n;
  }
  return true;
}

// Separators: one printable ASCII character that is not a letter, digit or space.
bool IsValidSeparator(std::string_view text) {
  if (text.size() != 1) return false;
  const char c = text[0];
  const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return c > 0x20 && c < 0x7f && !alnum;
}

}  // namespace

void ReadBackendLogin(const Field& field, const std::filesystem::path& base_dir,
                      ErrorList* errors, BackendLoginConfig* out) {
  MapReader map(field.value, field.key.Mark(), field.path,
                {"mode", "master_user", "master_password_file", "master_password", "form",
                 "separator"},
                errors);
  out->location = errors->Location(map.mark());
  size_t index = 0;
  const bool mode_ok = map.Choice("mode", {"client", "master"}, &index);
  if (mode_ok) {
    out->mode = index == 0 ? BackendLoginConfig::Mode::kClient : BackendLoginConfig::Mode::kMaster;
  }
  if (map.Choice("form", {"login_separator", "sasl_authzid"}, &index)) {
    out->form = index == 0 ? BackendLoginConfig::Form::kLoginSeparator
                           : BackendLoginConfig::Form::kSaslPlainAuthzid;
  }
  std::string separator;
  if (map.String("separator", false, &separator)) {
    if (IsValidSeparator(separator)) {
      out->separator = separator[0];
    } else {
      errors->Add(map.MarkOf("separator"),
                  map.PathOf("separator") +
                      ": must be one printable character other than a letter, digit or space, "
                      "got " +
                      QuoteForMessage(separator));
    }
  }
  const bool master = out->mode == BackendLoginConfig::Mode::kMaster;
  if (!master) {
    ReportInlineSecret(map, "master_password", "master_password_file", errors);
    if (!mode_ok && map.Find("mode") != nullptr) return;  // a bad mode: already reported
    // A master user without mode: master would silently be ignored: say so instead.
    for (std::string_view key : {"master_user", "master_password_file"}) {
      if (map.Find(key) != nullptr) {
        errors->Add(map.MarkOf(key), map.PathOf(key) +
                                         ": only used with mode: master (mode client logs in "
                                         "with the client's own credentials)");
      }
    }
    return;
  }
  map.Require("master_user");
  map.Require("master_password_file");
  if (map.String("master_user", false, &out->master_user)) {
    if (!IsValidMasterUser(out->master_user)) {
      errors->Add(map.MarkOf("master_user"),
                  map.PathOf("master_user") + ": must be 1 to " +
                      std::to_string(kMaxMasterUserBytes) +
                      " bytes of UTF-8 without spaces or control characters, got " +
                      QuoteForMessage(out->master_user));
    } else if (out->form == BackendLoginConfig::Form::kLoginSeparator &&
               out->master_user.find(out->separator) != std::string::npos) {
      errors->Add(map.MarkOf("master_user"),
                  map.PathOf("master_user") + ": must not contain the separator " +
                      QuoteForMessage(std::string(1, out->separator)) +
                      " (the backend could not split user and master user)");
    }
  }
  ReadSecretFileKey(map, "master_password_file", "master_password", SecretKind::kPassword,
                    base_dir, errors, &out->master_password_file, &out->master_password);
}

}  // namespace imapgate::config::internal
