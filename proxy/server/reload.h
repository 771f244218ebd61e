// Reload planning: what a configuration reload can apply to a running imapgate and what needs a
// restart. Pure (no I/O, no sockets): it compares the configuration in effect with the one just
// loaded and says which configuration the next Generation is built from.
//
// What a running process cannot change:
//   * its listening sockets: they are bound once at start, before the process gives up root, so a
//     listener keeps the address and the mode it was bound with; a listener added to the file is
//     not opened, one removed from it keeps listening (with its last settings);
//   * the process identity (user, group, allow_root), the number of workers, and the admin
//     endpoint's address.
// Everything else comes from the new file: backends (and whatever BuildGeneration derives from
// the Config), limits, timeouts, each kept listener's TLS files and other options, the log level.
//
// Because the effective configuration keeps what could not change, comparing the next file with
// it (not with the previous file) reports a pending restart again on every reload until it is done.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace imapgate::server {

// One change in the new file that the running process cannot apply.
struct RestartNeeded {
  std::string listener;  // the listener's name; "" for a process-wide setting
  // What changed: "listener_added", "listener_removed", "address" or "mode" (of `listener`);
  // "user", "group", "allow_root", "workers" or "admin.address".
  std::string setting;
  std::string detail;  // one sentence for the log: what changed and what stays in effect
};

struct ReloadPlan {
  // The configuration the next generation is built from: `next`, except that its listeners are
  // the running ones (same names, order, addresses and modes; each takes the new file's other
  // listener settings, TLS files included, when the new file still has a listener of that name),
  // and the process identity, workers and admin address stay as running.
  config::ConfigPtr effective;
  std::vector<RestartNeeded> needs_restart;  // in the order of the files: listeners, then process
};

// running: the configuration in effect (its listeners are the bound sockets, in order); next: the
// configuration just loaded and validated (not null).
ReloadPlan PlanReload(const config::Config& running, const config::ConfigPtr& next);

}  // namespace imapgate::server
