// BackendCredentials: who the backend login authenticates as — the client's own name and
// password (issue A's pass-through), or a master user acting for the client (Dovecot's
// "user*master" LOGIN form, or AUTHENTICATE PLAIN with the client as authzid), so the backend
// never needs the user's password.
//
// The formatting is pure (unit-tested here); BackendLogin sends what it returns. Every secret
// lives in a SecretString and is wiped when the credentials are destroyed.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "common/secret.h"

namespace imapgate::upstream {

// The client's own credentials, passed through.
struct ClientOwnCredentials {
  SecretString user;
  SecretString password;
};

// A master user logging in on behalf of `user`.
struct MasterUserCredentials {
  enum class Form {
    kLoginSeparator,  // LOGIN "<user><separator><master>" <master password> (Dovecot master users)
    kSaslPlainAuthzid // AUTHENTICATE PLAIN base64(<user> NUL <master> NUL <master password>)
  };
  Form form = Form::kLoginSeparator;
  SecretString user;  // the client's (normalized) user name: the identity to act as
  SecretString master_user;
  SecretString master_password;
  char separator = '*';  // Dovecot's auth_master_user_separator
};

using BackendCredentials = std::variant<ClientOwnCredentials, MasterUserCredentials>;

// The two arguments of an IMAP LOGIN, as literals to send.
struct LoginArguments {
  SecretString user;
  SecretString password;
};

// LOGIN arguments for the credentials: the client's own pair, or "user*master" with the master
// password. nullopt for the SASL PLAIN form (it is sent with AUTHENTICATE, see below).
std::optional<LoginArguments> FormatLoginArguments(const BackendCredentials& credentials);

// The base64 SASL PLAIN initial response for the authzid form ("user\0master\0password");
// nullopt for every other form.
std::optional<SecretString> FormatSaslPlainResponse(const BackendCredentials& credentials);

// A second copy of the credentials (secrets copied into new wiping storage), for a login that
// may try the next backend of its shard after a failed connect.
BackendCredentials CopyCredentials(const BackendCredentials& credentials);

// The user name the credentials act as (for logs; never a secret).
std::string CredentialsUser(const BackendCredentials& credentials);

}  // namespace imapgate::upstream
