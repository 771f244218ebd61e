#include "server/process.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"

namespace imapgate::server {

uint64_t RaiseDescriptorLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised = r;
    raised.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
  }
  return r.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(r.rlim_cur);
}

size_t SessionCapFromDescriptors(uint64_t nofile, int workers, size_t configured) {
  if (workers < 1) workers = 1;
  const uint64_t reserve = kReservedDescriptors + 4 * static_cast<uint64_t>(workers);
  if (nofile <= reserve) return 0;
  const uint64_t per_worker = (nofile - reserve) / 2 / static_cast<uint64_t>(workers);
  return per_worker < configured ? static_cast<size_t>(per_worker) : configured;
}

uint64_t SessionsLimit(int workers, size_t per_worker_cap, uint64_t abuse_total) {
  const uint64_t by_workers = static_cast<uint64_t>(workers < 1 ? 1 : workers) * per_worker_cap;
  return abuse_total > 0 && abuse_total < by_workers ? abuse_total : by_workers;
}

StatusOr<Identity> ResolveIdentity(const config::ProcessConfig& process) {
  Identity id;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* pw_found = nullptr;
  int rc = getpwnam_r(process.user.c_str(), &pw, buf.data(), buf.size(), &pw_found);
  if (rc != 0 || pw_found == nullptr) {
    return Status(StatusCode::kNotFound,
                  "user: no account named '" + process.user + "'" +
                      (rc != 0 ? std::string(": ") + std::strerror(rc) : ""));
  }
  id.user = process.user;
  id.uid = pw.pw_uid;
  id.gid = pw.pw_gid;
  if (!process.group.empty()) {
    group gr{};
    group* gr_found = nullptr;
    rc = getgrnam_r(process.group.c_str(), &gr, buf.data(), buf.size(), &gr_found);
    if (rc != 0 || gr_found == nullptr) {
      return Status(StatusCode::kNotFound,
                    "group: no group named '" + process.group + "'" +
                        (rc != 0 ? std::string(": ") + std::strerror(rc) : ""));
    }
    id.group = process.group;
    id.gid = gr.gr_gid;
  } else {
    group gr{};
    group* gr_found = nullptr;
    if (getgrgid_r(id.gid, &gr, buf.data(), buf.size(), &gr_found) == 0 && gr_found != nullptr) {
      id.group = gr.gr_name;
    } else {
      id.group = std::to_string(id.gid);
    }
  }
  return id;
}

StatusOr<IdentityAction> DecideIdentity(const config::ProcessConfig& process, uid_t euid,
                                        const Identity* target, std::string* warning) {
  warning->clear();
  const bool want_switch = !process.user.empty() && target != nullptr;
  if (euid != 0) {
    if (want_switch && target->uid != euid) {
      *warning = "user '" + process.user + "' ignored: imapgate was not started as root (uid " +
                 std::to_string(euid) + "), so it cannot switch users; it runs as it was started";
    }
    return IdentityAction::kKeep;
  }
  const bool ends_as_root = !want_switch || target->uid == 0;
  if (ends_as_root && !process.allow_root) {
    return InvalidArgument(
        "refusing to serve as root: set 'user:' (and 'group:') to an unprivileged account in the "
        "configuration, or 'allow_root: true' to serve as root anyway");
  }
  return want_switch ? IdentityAction::kSwitch : IdentityAction::kKeep;
}

namespace {

Status SwitchTo(const Identity& id) {
  const gid_t groups[1] = {id.gid};
  if (setgroups(1, groups) != 0) return Internal(std::string("setgroups: ") + std::strerror(errno));
  if (setgid(id.gid) != 0) return Internal(std::string("setgid: ") + std::strerror(errno));
  if (setuid(id.uid) != 0) return Internal(std::string("setuid: ") + std::strerror(errno));
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) {
    return Internal(std::string("getresuid: ") + std::strerror(errno));
  }
  if (ruid != id.uid || euid != id.uid || suid != id.uid || rgid != id.gid || egid != id.gid ||
      sgid != id.gid) {
    return Internal("the user and group ids did not all change");
  }
  if (id.uid != 0 && setuid(0) == 0)
    return Internal("root could be regained after dropping privileges");
  return Status::Ok();
}

}  // namespace

Status ApplyProcessIdentity(const config::ProcessConfig& process) {
  StatusOr<Identity> target = InvalidArgument("no user");
  if (!process.user.empty()) {
    target = ResolveIdentity(process);
    if (!target.ok()) return target.status();
  }
  std::string warning;
  StatusOr<IdentityAction> action =
      DecideIdentity(process, geteuid(), target.ok() ? &*target : nullptr, &warning);
  if (!warning.empty()) LogEvent(LogLevel::kWarn, "config_warning").Add("detail", warning);
  if (!action.ok()) return action.status();
  if (*action == IdentityAction::kSwitch) {
    if (Status s = SwitchTo(*target); !s.ok()) {
      return Internal("cannot switch to user '" + target->user + "' group '" + target->group +
                      "': " + s.message());
    }
  }
  if (geteuid() == 0) {
    LogEvent(LogLevel::kWarn, "running_as_root")
        .Add("detail", "allow_root is true: serving as root");
  }
  LogEvent(LogLevel::kInfo, "privileges")
      .Add("uid", static_cast<int64_t>(getuid()))
      .Add("gid", static_cast<int64_t>(getgid()))
      .Add("user", *action == IdentityAction::kSwitch ? target->user : std::string("(as started)"));
  return Status::Ok();
}

Status HardenProcess() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return Internal(std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno));
  rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0)
    return Internal(std::string("setrlimit(RLIMIT_CORE): ") + std::strerror(errno));
  return Status::Ok();
}

}  // namespace imapgate::server
