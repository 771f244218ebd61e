// ResponseParser: parses one server response line from a backend (RFC 9051 §7), without CRLF.
//
// Used by the backend connector before the relay starts (greeting, STARTTLS, LOGIN,
// CAPABILITY). Pure and bounded by the caller's line limit. Backend lines that announce a
// literal are reported as such; the connector treats them as a protocol error before login.
#pragma once

#include <string>
#include <string_view>

namespace imapgate::imap {

enum class ResponseKind { kUntagged, kTagged, kContinuation, kInvalid };
enum class ResponseStatus { kOk, kNo, kBad, kBye, kPreAuth, kOther };

struct ResponseLine {
  ResponseKind kind = ResponseKind::kInvalid;
  std::string tag;            // for kTagged
  ResponseStatus status = ResponseStatus::kOther;  // for status responses (tagged or untagged)
  std::string untagged_name;  // upper-cased first word of an untagged non-status response, e.g. "CAPABILITY"
  std::string code;           // upper-cased response code name inside [...], e.g. "CAPABILITY", "UNAVAILABLE"
  std::string code_args;      // the rest of the bracketed code, e.g. the capability list
  std::string rest;           // text after the status/name (for "* CAPABILITY ..." the list)
  bool ends_with_literal = false;  // the line ends with {n} or {n+}
};

ResponseLine ParseResponseLine(std::string_view line);

}  // namespace imapgate::imap
