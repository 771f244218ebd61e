#include "bench/common/loopback_server.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>

#include <cstdio>

#include "net/socket.h"

namespace imapgate::bench {

int ListenOnLoopbackForBench(long port, uint16_t* bound_port) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  auto address = net::ResolveAddress("127.0.0.1", static_cast<uint16_t>(port));
  if (!address.ok()) {
    std::fprintf(stderr, "%s\n", address.status().message().c_str());
    return -1;
  }
  auto fd = net::ListenOn(*address, /*reuse_port=*/false, 4096);
  if (!fd.ok()) {
    std::fprintf(stderr, "cannot listen: %s\n", fd.status().message().c_str());
    return -1;
  }
  *bound_port = net::LocalAddress(fd->get()).Port();
  return fd->release();
}

void AcceptPending(int listen_fd, const std::function<void(int fd)>& on_accept) {
  for (int i = 0; i < 256; ++i) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    on_accept(fd);
  }
}

}  // namespace imapgate::bench
