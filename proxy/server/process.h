// Process hardening at start-up: the descriptor limit and the session cap derived from it, and
// the switch from root to an unprivileged user (config keys user, group, allow_root).
//
// Order in Server::Create: RaiseDescriptorLimit; bind every listener and load every key (as
// root if started as root); then ApplyProcessIdentity (setgroups, setgid, setuid, checked) and
// HardenProcess (not dumpable, no core files) before any worker thread starts.
//
// The Decide*/SessionCap functions are pure, for unit tests; the others make the system calls.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "config/config.h"

namespace imapgate::server {

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft limit now in force.
uint64_t RaiseDescriptorLimit();

// The per-worker session cap: a session holds two descriptors (client and backend), and
// kReservedDescriptors (+4 per worker) are kept for listeners, loops, the admin endpoint and its
// clients. The result is min(configured, (nofile - reserve) / 2 / workers); 0 means the limit is
// too low to serve at all.
constexpr uint64_t kReservedDescriptors = 32;
size_t SessionCapFromDescriptors(uint64_t nofile, int workers, size_t configured);
// The most client sessions the instance holds at once (imapgate_sessions_limit): workers times the
// per-worker cap, or abuse_total (the abuse defence's abuse.connections.total, when it is
// enabled) when that is lower; abuse_total 0 means no such limit. Pure.
uint64_t SessionsLimit(int workers, size_t per_worker_cap, uint64_t abuse_total);

// An account, resolved from the passwd and group databases.
struct Identity {
  std::string user;
  std::string group;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Resolves config's user (and group, default the user's primary group). kNotFound when either
// does not exist. Not called when user is empty.
StatusOr<Identity> ResolveIdentity(const config::ProcessConfig& process);

enum class IdentityAction {
  kKeep,    // run as started
  kSwitch,  // setgroups/setgid/setuid to the resolved identity
};

// What to do, given who the process is (euid) and what the config asks. `target` is the resolved
// identity when process.user is set. Errors: serving as root without allow_root. A `user` set
// while not root is ignored with *warning set (nginx does the same).
StatusOr<IdentityAction> DecideIdentity(const config::ProcessConfig& process, uid_t euid,
                                        const Identity* target, std::string* warning);

// Everything above, with the system calls: decides, switches (setgroups, setgid, setuid, then
// checks that the real, effective and saved ids all changed and that root cannot be regained),
// and logs what it did.
Status ApplyProcessIdentity(const config::ProcessConfig& process);

// Not dumpable (no ptrace by same-uid processes, /proc/PID owned by root) and RLIMIT_CORE 0.
Status HardenProcess();

}  // namespace imapgate::server
