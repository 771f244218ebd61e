// Checks of a configuration that are advice, not syntax: what `imapgate -t` and the start-up log
// warn about, and how a listener address that cannot be bound is reported.
//
// Pure logic (no sockets): the caller probes the addresses (net::ProbeBind) and passes errno.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace imapgate::server {

// True for "localhost", 127.0.0.0/8 and ::1 (and ::ffff:127.x.y.z).
bool IsLoopbackHost(const std::string& host);

// One line per risky setting: a TLS backend with tls_verify false (the backend's certificate is
// not checked), a plaintext backend at an address that is not loopback (passwords cross the
// network in clear).
std::vector<std::string> ConfigWarnings(const config::Config& config);

// What -t makes of a failed bind probe of `what` ("listener 'imaps' on 127.0.0.1:993").
// EADDRINUSE is a warning: -t is run next to the running instance before a reload or restart, so
// an address held by it is expected; a start would fail until it is free. Anything else
// (EADDRNOTAVAIL: not an address of this host; EACCES: a privileged port without the right) is an
// error. Returns "" for err == 0.
struct BindVerdict {
  bool error = false;
  std::string message;
};
BindVerdict ClassifyBindProbe(const std::string& what, int err);

}  // namespace imapgate::server
