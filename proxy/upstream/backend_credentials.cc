#include "upstream/backend_credentials.h"

#include "imap/sasl.h"
#include "upstream/backend_connector.h"

namespace imapgate::upstream {

std::optional<LoginArguments> FormatLoginArguments(const BackendCredentials& credentials) {
  if (const auto* own = std::get_if<ClientOwnCredentials>(&credentials)) {
    return LoginArguments{SecretString(own->user.view()), SecretString(own->password.view())};
  }
  const auto* m = std::get_if<MasterUserCredentials>(&credentials);
  if (m == nullptr || m->form != MasterUserCredentials::Form::kLoginSeparator) return std::nullopt;
  const MasterUserCredentials& master = *m;
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

std::optional<BearerMechanism> ChooseBearerMechanism(std::string_view backend_capabilities) {
  if (HasCapability(backend_capabilities, "AUTH=XOAUTH2")) return BearerMechanism::kXoauth2;
  if (HasCapability(backend_capabilities, "AUTH=OAUTHBEARER")) return BearerMechanism::kOauthBearer;
  return std::nullopt;
}

std::optional<SecretString> FormatBearerResponse(const BackendCredentials& credentials, BearerMechanism mechanism) {
  const auto* bearer = std::get_if<BearerTokenCredentials>(&credentials);
  if (bearer == nullptr) return std::nullopt;
  return mechanism == BearerMechanism::kXoauth2 ? imap::EncodeXoauth2(bearer->user.view(), bearer->token.view())
                                                : imap::EncodeOauthBearer(bearer->user.view(), bearer->token.view());
}

std::string CredentialsUser(const BackendCredentials& credentials) {
  if (const auto* own = std::get_if<ClientOwnCredentials>(&credentials)) return std::string(own->user.view());
  if (const auto* bearer = std::get_if<BearerTokenCredentials>(&credentials)) return std::string(bearer->user.view());
  return std::string(std::get<MasterUserCredentials>(credentials).user.view());
}

BackendCredentials CopyCredentials(const BackendCredentials& credentials) {
  if (const auto* own = std::get_if<ClientOwnCredentials>(&credentials)) {
    return ClientOwnCredentials{SecretString(own->user.view()), SecretString(own->password.view())};
  }
  if (const auto* bearer = std::get_if<BearerTokenCredentials>(&credentials)) {
    return BearerTokenCredentials{SecretString(bearer->user.view()), SecretString(bearer->token.view())};
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
