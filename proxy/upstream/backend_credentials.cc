#include "upstream/backend_credentials.h"

#include "imap/sasl.h"

namespace imapgate::upstream {

std::optional<LoginArguments> FormatLoginArguments(const BackendCredentials& credentials) {
  if (const auto* own = std::get_if<ClientOwnCredentials>(&credentials)) {
    return LoginArguments{SecretString(own->user.view()), SecretString(own->password.view())};
  }
  const auto& master = std::get<MasterUserCredentials>(credentials);
  if (master.form != MasterUserCredentials::Form::kLoginSeparator) return std::nullopt;
  WipingStringBase joined;
  joined.reserve(master.user.size() + 1 + master.master_user.size());
  joined.append(master.user.view());
  joined.push_back(master.separator);
  joined.append(master.master_user.view());
  return LoginArguments{SecretString(std::string_view(joined.data(), joined.size())),
                        SecretString(master.master_password.view())};
}

std::optional<SecretString> FormatSaslPlainResponse(const BackendCredentials& credentials) {
  const auto* master = std::get_if<MasterUserCredentials>(&credentials);
  if (master == nullptr || master->form != MasterUserCredentials::Form::kSaslPlainAuthzid) return std::nullopt;
  WipingStringBase message;
  message.append(master->user.view());
  message.push_back('\0');
  message.append(master->master_user.view());
  message.push_back('\0');
  message.append(master->master_password.view());
  std::string encoded = imap::EncodeBase64(std::string_view(message.data(), message.size()));
  SecretString out(encoded);
  SecureWipe(encoded.data(), encoded.size());
  return out;
}

std::string CredentialsUser(const BackendCredentials& credentials) {
  if (const auto* own = std::get_if<ClientOwnCredentials>(&credentials)) return std::string(own->user.view());
  return std::string(std::get<MasterUserCredentials>(credentials).user.view());
}

BackendCredentials CopyCredentials(const BackendCredentials& credentials) {
  if (const auto* own = std::get_if<ClientOwnCredentials>(&credentials)) {
    return ClientOwnCredentials{SecretString(own->user.view()), SecretString(own->password.view())};
  }
  const auto& m = std::get<MasterUserCredentials>(credentials);
  MasterUserCredentials copy;
  copy.form = m.form;
  copy.user = SecretString(m.user.view());
  copy.master_user = SecretString(m.master_user.view());
  copy.master_password = SecretString(m.master_password.view());
  copy.separator = m.separator;
  return copy;
}

}  // namespace imapgate::upstream
