// Pre-auth command validation (see preauth_command.h). Every BAD text is fixed; client bytes are
// never echoed.
#include "imap/preauth_command.h"

#include <utility>

#include "imap/syntax.h"

namespace imapgate::imap {
namespace {

constexpr size_t kMaxUserBytes = 320;  // an e-mail address (RFC 5321 §4.5.3.1)
constexpr size_t kMaxPasswordBytes = 1024;
constexpr size_t kMaxMechanismBytes = 20;  // RFC 4422 §3.1

PreAuthValidation Bad(std::string reason) {
  PreAuthValidation v;
  v.bad_reason = std::move(reason);
  return v;
}

PreAuthValidation Ok(PreAuthCommand command) {
  PreAuthValidation v;
  v.command = std::move(command);
  return v;
}

bool IsMechanismChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

bool IsNil(const Token& t) {
  return t.kind == TokenKind::kAtom && syntax::EqualsIgnoreCase(t.value.view(), "NIL");
}

PreAuthValidation ValidateLogin(Command& command, PreAuthCommand out) {
  if (command.args.size() != 2 || !command.args[0].is_astring() || !command.args[1].is_astring()) {
    return Bad("LOGIN expects a user name and a password");
  }
  if (command.args[0].value.size() > kMaxUserBytes) return Bad("User name too long");
  if (command.args[1].value.size() > kMaxPasswordBytes) return Bad("Password too long");
  if (command.args[0].value.empty() || command.args[1].value.empty()) {
    return Bad("Empty user name or password");
  }
  out.user = std::move(command.args[0].value);
  out.password = std::move(command.args[1].value);
  return Ok(std::move(out));
}

PreAuthValidation ValidateAuthenticate(Command& command, PreAuthCommand out) {
  if (command.args.empty() || command.args.size() > 2) {
    return Bad("AUTHENTICATE expects a mechanism and an optional initial response");
  }
  const Token& mech = command.args[0];
  if (mech.kind != TokenKind::kAtom || mech.value.size() > kMaxMechanismBytes) {
    return Bad("Invalid SASL mechanism");
  }
  out.mechanism = syntax::AsciiUpper(mech.value.view());
  for (char c : out.mechanism) {
    if (!IsMechanismChar(c)) return Bad("Invalid SASL mechanism");
  }
  if (command.args.size() == 2) {
    Token& ir = command.args[1];
    if (ir.kind != TokenKind::kAtom) return Bad("Invalid initial response");
    for (char c : ir.value.view()) {
      if (!IsBase64Char(c)) return Bad("Invalid initial response");
    }
    out.initial_response = std::move(ir.value);
  }
  return Ok(std::move(out));
}

PreAuthValidation ValidateId(const Command& command, const IdLimits& limits, PreAuthCommand out) {
  const std::vector<Token>& args = command.args;
  if (args.size() == 1 && IsNil(args[0])) return Ok(std::move(out));
  if (args.empty() || args.front().kind != TokenKind::kListStart ||
      args.back().kind != TokenKind::kListEnd) {
    return Bad("ID expects NIL or a parenthesized list");
  }
  const size_t end = args.size() - 1;
  if ((end - 1) % 2 != 0) return Bad("Invalid ID parameter list");
  if ((end - 1) / 2 > limits.max_pairs) return Bad("Too many ID parameters");
  for (size_t i = 1; i < end; i += 2) {
    const Token& key = args[i];
    const Token& value = args[i + 1];
    if (!key.is_string()) return Bad("Invalid ID parameter list");
    if (!value.is_string() && !IsNil(value)) return Bad("Invalid ID parameter list");
    if (key.value.size() > limits.max_key_bytes) return Bad("ID key too long");
    if (value.is_string() && value.value.size() > limits.max_value_bytes) {
      return Bad("ID value too long");
    }
    out.id_params.emplace_back(std::string(key.value.view()),
                               value.is_string() ? std::string(value.value.view()) : std::string());
  }
  return Ok(std::move(out));
}

}  // namespace

PreAuthValidation ValidatePreAuthCommand(Command command, const IdLimits& id_limits) {
  PreAuthCommand out;
  out.tag = command.tag;
  const std::string& name = command.name;
  const bool no_args = command.args.empty();
  if (name == "CAPABILITY" || name == "NOOP" || name == "LOGOUT" || name == "STARTTLS") {
    if (!no_args) return Bad("Unexpected arguments");
    out.verb = name == "CAPABILITY" ? PreAuthVerb::kCapability
               : name == "NOOP"     ? PreAuthVerb::kNoop
               : name == "LOGOUT"   ? PreAuthVerb::kLogout
                                    : PreAuthVerb::kStartTls;
    return Ok(std::move(out));
  }
  if (name == "LOGIN") {
    out.verb = PreAuthVerb::kLogin;
    return ValidateLogin(command, std::move(out));
  }
  if (name == "AUTHENTICATE") {
    out.verb = PreAuthVerb::kAuthenticate;
    return ValidateAuthenticate(command, std::move(out));
  }
  if (name == "ID") {
    out.verb = PreAuthVerb::kId;
    return ValidateId(command, id_limits, std::move(out));
  }
  return Bad("Command not allowed before login");
}

}  // namespace imapgate::imap
