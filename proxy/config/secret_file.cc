#include "config/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/units.h"

namespace imapgate::config {
namespace {

// Closes the descriptor on every return path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A fixed buffer that is wiped when it goes out of scope.
struct WipedBuffer {
  std::array<char, kMaxSecretFileBytes + 1> bytes{};
  ~WipedBuffer() { SecureWipe(bytes.data(), bytes.size()); }
};

std::string Mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

Status CheckSecret(std::string_view secret, SecretKind kind) {
  if (kind == SecretKind::kToken && secret.size() < kMinTokenLength) {
    return InvalidArgument("the token must be at least " + std::to_string(kMinTokenLength) +
                           " characters long, got " + std::to_string(secret.size()));
  }
  if (secret.empty()) return InvalidArgument("the file is empty");
  for (size_t i = 0; i < secret.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(secret[i]);
    const bool ok = kind == SecretKind::kToken ? (c >= 0x21 && c <= 0x7e) : (c >= 0x20 && c != 0x7f);
    if (!ok) {
      return InvalidArgument(std::string(kind == SecretKind::kToken
                                             ? "the token must be printable ASCII without spaces"
                                             : "the password must not contain control characters") +
                             "; bad byte at position " + std::to_string(i + 1));
    }
  }
  return Status::Ok();
}

StatusOr<std::shared_ptr<const SecretString>> ReadSecretFile(const std::string& path,
                                                             SecretKind kind) {
  // O_NONBLOCK: a FIFO named by mistake must not hang the load; it is refused below.
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return InvalidArgument(std::string("cannot read file: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument("cannot read file: not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return InvalidArgument("the file is accessible by group or others (mode " + Mode(st.st_mode) +
                           "); a secret file must be private: chmod 600 it");
  }
  WipedBuffer buffer;
  size_t size = 0;
  while (size < buffer.bytes.size()) {
    const ssize_t n = read(fd.get(), buffer.bytes.data() + size, buffer.bytes.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return InvalidArgument(std::string("cannot read file: ") + std::strerror(errno));
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > kMaxSecretFileBytes) {
    return InvalidArgument("the file is larger than " + FormatSize(kMaxSecretFileBytes));
  }
  std::string_view secret(buffer.bytes.data(), size);
  if (!secret.empty() && secret.back() == '\n') secret.remove_suffix(1);
  if (!secret.empty() && secret.back() == '\r') secret.remove_suffix(1);
  if (Status status = CheckSecret(secret, kind); !status.ok()) return status;
  return std::make_shared<const SecretString>(secret);
}

}  // namespace imapgate::config
