// Pre-auth command validation: turns a syntactically valid Command into one of the commands
// allowed before login (RFC 9051 §6.1-6.2, RFC 2971 ID), or a BAD reason.
//
// Pure: no I/O. The allowed set is CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ID.
// Anything else is rejected with a BAD text naming the reason.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/secret.h"
#include "imap/command_parser.h"

namespace imapgate::imap {

enum class PreAuthVerb { kCapability, kNoop, kLogout, kStartTls, kLogin, kAuthenticate, kId };

// Bounds on ID (RFC 2971 §3.3): keys ≤ 30 octets, values ≤ 1024 octets, at most 30 pairs.
struct IdLimits {
  size_t max_pairs = 30;
  size_t max_key_bytes = 30;
  size_t max_value_bytes = 1024;
};

struct PreAuthCommand {
  PreAuthVerb verb;
  std::string tag;
  // LOGIN: user and password (astrings).
  SecretString user;
  SecretString password;
  // AUTHENTICATE: upper-cased mechanism name and the SASL-IR initial response if one was sent
  // (base64 text as sent; "=" means an empty response).
  std::string mechanism;
  std::optional<SecretString> initial_response;
  // ID: the client's key/value pairs (NIL values become empty strings); empty for "ID NIL".
  std::vector<std::pair<std::string, std::string>> id_params;
};

// Either a validated command, or the text to send after "<tag> BAD ".
struct PreAuthValidation {
  std::optional<PreAuthCommand> command;
  std::string bad_reason;
};

PreAuthValidation ValidatePreAuthCommand(Command command, const IdLimits& id_limits = {});

}  // namespace imapgate::imap
