// AdminToken: reading the token file and the constant-time check.

#include "admin/admin_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace imapgate::admin {
namespace {

bool TokenByteAllowed(char c) { return c > 0x20 && c < 0x7F; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

StatusOr<AdminToken> AdminToken::FromString(std::string_view token) {
  if (token.size() < kMinTokenBytes) {
    return InvalidArgument("admin token is shorter than " + std::to_string(kMinTokenBytes) +
                           " bytes");
  }
  if (token.size() > kMaxTokenBytes) {
    return InvalidArgument("admin token is longer than " + std::to_string(kMaxTokenBytes) +
                           " bytes");
  }
  for (char c : token) {
    if (!TokenByteAllowed(c)) {
      return InvalidArgument("admin token has a space, control or non-ASCII byte");
    }
  }
  return AdminToken(SecretString(token));
}

StatusOr<AdminToken> AdminToken::FromFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return InvalidArgument("cannot open admin token file " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("admin token file " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    ::close(fd);
    return InvalidArgument("admin token file " + path +
                           " is readable or writable by others (chmod 600)");
  }
  WipingBytes buf(kMaxTokenBytes + 2);
  size_t len = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return InvalidArgument("cannot read admin token file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
    if (len == buf.size()) break;
  }
  ::close(fd);
  if (len == buf.size()) {
    return InvalidArgument("admin token file " + path + " is longer than " +
                           std::to_string(kMaxTokenBytes) + " bytes");
  }
  std::string_view text(buf.data(), len);
  const size_t newline = text.find('\n');
  if (newline != std::string_view::npos && !Trim(text.substr(newline + 1)).empty()) {
    return InvalidArgument("admin token file " + path + " has more than one line");
  }
  auto token = FromString(Trim(text.substr(0, newline)));
  if (!token.ok()) {
    return InvalidArgument("admin token file " + path + ": " + token.status().message());
  }
  return token;
}

bool AdminToken::Matches(std::string_view presented) const {
  if (token_.empty()) return false;
  return ConstantTimeEquals(token_.view(), presented);
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ') return {};
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  return rest;
}

}  // namespace imapgate::admin
