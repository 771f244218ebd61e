#include "imap/syntax.h"
#include "common/ascii.h"

namespace imapgate::imap::syntax {

bool IsAtomChar(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']':
      return false;
    default:
      return true;
  }
}

bool IsAstringChar(unsigned char c) { return c == ']' || IsAtomChar(c); }

bool IsTagChar(unsigned char c) { return c != '+' && IsAstringChar(c); }

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return AsciiEqualsIgnoreCase(a, b); }

std::string_view LeadingTag(std::string_view line, size_t max_tag_bytes) {
  size_t n = 0;
  while (n < line.size() && n <= max_tag_bytes && IsTagChar(static_cast<unsigned char>(line[n]))) {
    ++n;
  }
  if (n == 0 || n > max_tag_bytes || n >= line.size() || line[n] != ' ') return {};
  return line.substr(0, n);
}

}  // namespace imapgate::imap::syntax
