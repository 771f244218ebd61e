// Response formatting (see response.h). As a last line of defence against response injection,
// CR, LF and NUL in any argument are replaced by spaces: callers pass fixed texts and validated
// tags, so this never changes a correct response.
#include "imap/response.h"

#include "imap/syntax.h"

namespace imapgate::imap {
namespace {

constexpr size_t kMaxQuotedBytes = 1024;

void AppendSafe(std::string* out, std::string_view s) {
  for (char c : s) out->push_back(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
}

}  // namespace

std::string Tagged(std::string_view tag, std::string_view status, std::string_view text) {
  std::string out;
  out.reserve(tag.size() + status.size() + text.size() + 4);
  AppendSafe(&out, tag);
  out.push_back(' ');
  AppendSafe(&out, status);
  if (!text.empty()) {
    out.push_back(' ');
    AppendSafe(&out, text);
  }
  out.append("\r\n");
  return out;
}

std::string Untagged(std::string_view text) {
  std::string out = "* ";
  AppendSafe(&out, text);
  out.append("\r\n");
  return out;
}

std::string QuoteOrNil(std::string_view s) {
  if (s.size() > kMaxQuotedBytes || s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos ||
      !syntax::IsValidUtf8(s)) {
    return "NIL";
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace imapgate::imap
