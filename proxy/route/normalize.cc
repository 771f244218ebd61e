#include "route/normalize.h"

namespace imapgate::route {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

NormalizeResult NormalizeUser(std::string_view user, std::string_view default_domain,
                              char (&buffer)[kMaxUserBytes], std::string_view* out) {
  if (user.empty()) return NormalizeResult::kEmpty;
  const bool bare = user.find('@') == std::string_view::npos;
  const size_t size = user.size() + (bare && !default_domain.empty() ? 1 + default_domain.size() : 0);
  if (size > kMaxUserBytes) return NormalizeResult::kTooLong;
  size_t n = 0;
  for (char c : user) buffer[n++] = Lower(c);
  if (bare && !default_domain.empty()) {
    buffer[n++] = '@';
    for (char c : default_domain) buffer[n++] = c;
  }
  *out = std::string_view(buffer, n);
  return NormalizeResult::kOk;
}

std::optional<std::string> NormalizedUser(std::string_view user, std::string_view default_domain) {
  char buffer[kMaxUserBytes];
  std::string_view out;
  if (NormalizeUser(user, default_domain, buffer, &out) != NormalizeResult::kOk) return std::nullopt;
  return std::string(out);
}

std::string_view DomainOf(std::string_view normalized) {
  const size_t at = normalized.rfind('@');
  return at == std::string_view::npos ? std::string_view() : normalized.substr(at + 1);
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Lower(c);
  return out;
}

}  // namespace imapgate::route
