// The FrontendEnd table (see frontend_end.h): one row per end, with the parser codes that lead
// to it, its log name and its metric reason.
#include "frontend/frontend_end.h"

#include <initializer_list>

namespace imapgate::frontend {
namespace {

using imap::ParseErrorCode;
using stats::RejectReason;

struct EndRow {
  FrontendEnd end;
  const char* name;
  std::optional<RejectReason> reason;
  std::initializer_list<ParseErrorCode> parse_codes;  // fatal parser errors that end this way
};

const EndRow kEndTable[] = {
    {FrontendEnd::kLogout, "logout", std::nullopt, {}},
    {FrontendEnd::kClientClosed, "client_closed", std::nullopt, {}},
    {FrontendEnd::kTlsFailed, "tls_failed", RejectReason::kTlsHandshake, {}},
    {FrontendEnd::kTimeout, "preauth_timeout", RejectReason::kPreauthTimeout, {}},
    {FrontendEnd::kLineTooLong, "line_too_long", RejectReason::kLineTooLong,
     {ParseErrorCode::kLineTooLong}},
    {FrontendEnd::kLiteralTooLarge, "literal_too_large", RejectReason::kLiteralTooLarge,
     {ParseErrorCode::kLiteralTooLarge}},
    {FrontendEnd::kProtocolError, "protocol_error", std::nullopt,
     {ParseErrorCode::kInvalidLiteral, ParseErrorCode::kSaslResponseTooLong}},
    {FrontendEnd::kPreauthBytes, "preauth_bytes", RejectReason::kPreauthBytes, {}},
    {FrontendEnd::kBadCommands, "bad_commands", RejectReason::kBadCommands, {}},
    {FrontendEnd::kStartTlsInjection, "starttls_injection", RejectReason::kStartTlsInjection, {}},
    {FrontendEnd::kAuthAttempts, "auth_attempts", RejectReason::kAuthAttempts, {}},
    {FrontendEnd::kShutdown, "shutdown", std::nullopt, {}},
    {FrontendEnd::kRefused, "refused", std::nullopt, {}},
    {FrontendEnd::kInternalError, "internal_error", std::nullopt, {}},
};

const EndRow* Find(FrontendEnd end) {
  for (const EndRow& row : kEndTable) {
    if (row.end == end) return &row;
  }
  return nullptr;
}

}  // namespace

const char* FrontendEndName(FrontendEnd end) {
  const EndRow* row = Find(end);
  return row ? row->name : "unknown";
}

std::optional<RejectReason> FrontendEndRejectReason(FrontendEnd end) {
  const EndRow* row = Find(end);
  return row ? row->reason : std::nullopt;
}

FrontendEnd FrontendEndForParseError(ParseErrorCode code) {
  for (const EndRow& row : kEndTable) {
    for (ParseErrorCode c : row.parse_codes) {
      if (c == code) return row.end;
    }
  }
  return FrontendEnd::kProtocolError;
}

}  // namespace imapgate::frontend
