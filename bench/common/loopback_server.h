// Start-up shared by the bench servers (TLS sink, fixture backend): raise the open-file limit to
// its hard maximum, ignore SIGPIPE, and listen on 127.0.0.1:port (0 picks a free port) with the
// project's own net::ListenOn. Returns the listening fd and the bound port, or -1 after printing
// why to stderr.
#pragma once

#include <cstdint>
#include <functional>

namespace imapgate::bench {

int ListenOnLoopbackForBench(long port, uint16_t* bound_port);

// Accepts what is pending on listen_fd (at most a bounded batch per call) and hands each new
// non-blocking, close-on-exec fd to on_accept; stops at EAGAIN (or EMFILE, retried on the next
// readiness). TCP_NODELAY comes from the listener, as in imapgate.
void AcceptPending(int listen_fd, const std::function<void(int fd)>& on_accept);

}  // namespace imapgate::bench
