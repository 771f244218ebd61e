// Response formatting helpers: build server responses with CRLF. Pure.
#pragma once

#include <string>
#include <string_view>

namespace imapgate::imap {

// "<tag> <status> <text>\r\n", e.g. Tagged("a1", "OK", "[CAPABILITY ...] Logged in").
std::string Tagged(std::string_view tag, std::string_view status, std::string_view text);
// "* <text>\r\n".
std::string Untagged(std::string_view text);
// Quotes s as an IMAP quoted string if it is safe to (no CR, LF, NUL, ≤ 1024 octets), else
// returns NIL.
std::string QuoteOrNil(std::string_view s);

}  // namespace imapgate::imap
