// Server: builds every long-lived object from a Config — TLS contexts, the backend target,
// metrics, the workers and the admin endpoint — and runs them until a signal ends the process.
//
// Runs on the main thread, which owns the admin endpoint and the signal handlers; each worker
// runs its own thread. SIGTERM drains (stop accepting, /healthz turns 503, wait for sessions up
// to timeouts.shutdown_grace, then BYE to the rest); SIGINT stops at once; SIGHUP is logged (config
// reload is a later issue).
#pragma once

#include <memory>

#include "common/status.h"
#include "config/config.h"

namespace imapgate::server {

// Checks what LoadConfigFile cannot: that certificates and keys load and addresses resolve.
// Returns one "FILE:LINE:COL: message" line per problem.
Status CheckConfigResources(const config::Config& config);

// Runs the proxy until SIGTERM/SIGINT. Returns the process exit code.
int RunServer(config::ConfigPtr config);

}  // namespace imapgate::server
