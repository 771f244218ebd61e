// Start-up shared by the bench servers (TLS sink, fixture backend): raise the open-file limit to
// its hard maximum, ignore SIGPIPE, and listen on 127.0.0.1:port (0 picks a free port) with the
// project's own net::ListenOn. Returns the listening fd and the bound port, or -1 after printing
// why to stderr.
#pragma once

#include <cstdint>

namespace imapgate::bench {

int ListenOnLoopbackForBench(long port, uint16_t* bound_port);

}  // namespace imapgate::bench
