// The log destination (see common/log.h): stderr, or a file reopened on SIGUSR1.
//
// Why no lock and no grace period: writers load one atomic descriptor number and write(2) to it.
// That number is STDERR_FILENO or the log file's descriptor, which, once opened, is never closed:
// a reopen opens the new file on a temporary descriptor and dup3()s it onto the stable number
// (atomic in the kernel: a write in flight finishes on the old file, the next one goes to the new
// one), then closes the temporary. So a writer can never hold a number that was closed and
// reused for a client's socket, and no thread ever waits for another to log.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "common/log.h"

namespace imapgate {
namespace {

std::atomic<int> g_fd{STDERR_FILENO};    // where lines go now
std::atomic<uint64_t> g_failures{0};
std::mutex g_mu;                          // the two below: main thread in practice
int g_file_fd = -1;                       // the stable descriptor of the log file, once opened
std::string g_path;                       // the path the next reopen opens ("" = stderr)

// Makes `path` the destination; g_mu held.
Status SwitchTo(const std::string& path) {
  if (path.empty()) {
    if (g_file_fd >= 0) {
      g_fd.store(STDERR_FILENO, std::memory_order_release);
      // Releases the old file: the stable number now refers to stderr too (writers that loaded
      // it before the store write there), and is still never closed.
      ::dup3(STDERR_FILENO, g_file_fd, O_CLOEXEC);
    }
    return Status::Ok();
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) {
    const int err = errno;
    return Unavailable("log_file '" + path + "': cannot open: " + std::strerror(err));
  }
  if (g_file_fd < 0) {
    g_file_fd = fd;
  } else if (fd != g_file_fd) {
    if (::dup3(fd, g_file_fd, O_CLOEXEC) < 0) {
      const int err = errno;
      ::close(fd);
      return Internal("log_file '" + path + "': dup3: " + std::strerror(err));
    }
    ::close(fd);
  }
  g_fd.store(g_file_fd, std::memory_order_release);
  return Status::Ok();
}

}  // namespace

Status OpenLogDestination(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  Status st = SwitchTo(path);
  if (st.ok()) g_path = path;
  return st;
}

void SetLogDestinationPath(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_path = path;
}

Status ReopenLogDestination() {
  std::lock_guard<std::mutex> lock(g_mu);
  return SwitchTo(g_path);
}

uint64_t LogWriteFailures() { return g_failures.load(std::memory_order_relaxed); }

namespace internal {

void WriteLogLine(std::string_view line) {
  const int saved_errno = errno;  // a caller may log between a call and reading its errno
  const int fd = g_fd.load(std::memory_order_acquire);
  ssize_t n;
  do {
    n = ::write(fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(line.size())) g_failures.fetch_add(1, std::memory_order_relaxed);
  errno = saved_errno;
}

}  // namespace internal
}  // namespace imapgate
