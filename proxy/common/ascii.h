// ASCII helpers shared by the protocol code (IMAP, HTTP, SASL, hash prefixes). Pure.
#pragma once

#include <string_view>

namespace imapgate {

// True when a and b are equal ignoring ASCII case (bytes outside a-z/A-Z compare as they are).
inline bool AsciiEqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

}  // namespace imapgate
