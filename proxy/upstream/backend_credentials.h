// BackendCredentials: who the backend login authenticates as — the client's own name and
// password (issue A's pass-through), a master user acting for the client (Dovecot's
// "user*master" LOGIN form, or AUTHENTICATE PLAIN with the client as authzid), so the backend
// never needs the user's password, or the client's OAuth 2.0 bearer token (XOAUTH2 /
// OAUTHBEARER from the client), passed on with AUTHENTICATE XOAUTH2 or OAUTHBEARER.
//
// The formatting is pure (unit-tested here); BackendLogin sends what it returns. Every secret
// lives in a SecretString and is wiped when the credentials are destroyed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
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

// The client's user name and its OAuth 2.0 bearer token (from AUTHENTICATE XOAUTH2 or
// OAUTHBEARER), passed through to the backend with the mechanism the backend advertises.
struct BearerTokenCredentials {
  SecretString user;
  SecretString token;
};

using BackendCredentials = std::variant<ClientOwnCredentials, MasterUserCredentials, BearerTokenCredentials>;

// The two arguments of an IMAP LOGIN, as literals to send.
struct LoginArguments {
  SecretString user;
  SecretString password;
};

// LOGIN arguments for the credentials: the client's own pair, or "user*master" with the master
// password. nullopt for the SASL PLAIN form and for a bearer token (both are sent with
// AUTHENTICATE, see below).
std::optional<LoginArguments> FormatLoginArguments(const BackendCredentials& credentials);

// The base64 SASL PLAIN initial response for the authzid form ("user\0master\0password");
// nullopt for every other form.
std::optional<SecretString> FormatSaslPlainResponse(const BackendCredentials& credentials);

// The SASL mechanisms a bearer token can be passed with.
enum class BearerMechanism { kXoauth2, kOauthBearer };

// The mechanism to pass a bearer token with, from the backend's capability list: XOAUTH2 when
// AUTH=XOAUTH2 is advertised, else OAUTHBEARER when AUTH=OAUTHBEARER is; nullopt when neither.
std::optional<BearerMechanism> ChooseBearerMechanism(std::string_view backend_capabilities);

// The base64 initial response passing a bearer token with `mechanism` (XOAUTH2:
// "user=<u>^Aauth=Bearer <t>^A^A"; OAUTHBEARER: "n,a=<u>,^Aauth=Bearer <t>^A^A"); nullopt
// unless the credentials are BearerTokenCredentials.
std::optional<SecretString> FormatBearerResponse(const BackendCredentials& credentials, BearerMechanism mechanism);

// A second copy of the credentials (secrets copied into new wiping storage), for a login that
// may try the next backend of its shard after a failed connect.
BackendCredentials CopyCredentials(const BackendCredentials& credentials);

// The user name the credentials act as (for logs; never a secret).
std::string CredentialsUser(const BackendCredentials& credentials);

}  // namespace imapgate::upstream
