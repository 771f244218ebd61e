// FrontendEnd: why the frontend ended a session before login, and the one table that maps a
// parser's fatal error code to an end, and an end to its log name and its metric reason.
//
// Pure; no I/O. Used by ClientFrontend (which end a fatal parse error is) and by the Session
// (the `result=` log value and imapgate_preauth_rejections_total{reason}).
#pragma once

#include <optional>

#include "imap/command_parser.h"
#include "stats/metrics.h"

namespace imapgate::frontend {

// Why the frontend ended a session (for logs and metrics).
enum class FrontendEnd {
  kLogout,             // client said LOGOUT
  kClientClosed,       // EOF or reset before login
  kTlsFailed,          // TLS handshake failed (incl. ALPN refusal)
  kTimeout,            // pre-auth or handshake timeout
  kLineTooLong,
  kLiteralTooLarge,
  kProtocolError,      // other fatal framing error
  kPreauthBytes,       // pre-auth byte budget exhausted
  kBadCommands,        // error budget exhausted
  kStartTlsInjection,  // bytes after STARTTLS
  kAuthAttempts,       // too many failed logins
  kShutdown,           // server shutting down
  kRefused,            // refused at connect by an abuse block or limit (* BYE)
  kInternalError,
};

// The `result=` value of the session_end log line: "logout", "line_too_long", ...
const char* FrontendEndName(FrontendEnd end);
// The imapgate_preauth_rejections_total reason counted for this end, if any.
std::optional<stats::RejectReason> FrontendEndRejectReason(FrontendEnd end);
// The end for a parser's fatal error (kProtocolError for codes without their own end).
FrontendEnd FrontendEndForParseError(imap::ParseErrorCode code);

}  // namespace imapgate::frontend
