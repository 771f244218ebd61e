#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/socket.h"
#include "net/transport.h"

namespace imapgate::net {
namespace {

// Plain TCP: read/write straight on the socket.
class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}
  int fd() const override { return fd_.get(); }

  IoResult Read(char* buf, size_t len) override {
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, len, 0);
      if (n > 0) return {IoStatus::kOk, static_cast<size_t>(n)};
      if (n == 0) return {IoStatus::kEof};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::kWantRead};
      return {IoStatus::kError};
    }
  }

  IoResult Write(const char* buf, size_t len) override {
    for (;;) {
      ssize_t n = ::send(fd_.get(), buf, len, MSG_NOSIGNAL);
      if (n >= 0) return {IoStatus::kOk, static_cast<size_t>(n)};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::kWantWrite};
      return {IoStatus::kError};
    }
  }

  int ReleaseFd() override { return fd_.release(); }

  IoResult ShutdownWrite() override {
    ::shutdown(fd_.get(), SHUT_WR);
    return {IoStatus::kOk};
  }

 private:
  UniqueFd fd_;
};

}  // namespace

TransportPtr MakePlainTransport(int fd) { return std::make_unique<PlainTransport>(fd); }

}  // namespace imapgate::net
