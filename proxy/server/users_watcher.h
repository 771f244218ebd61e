// UsersFileWatcher: reloads changed users files (issue B) without a configuration reload.
//
// On the main loop, every `interval` it stats each users file of the auth services' stores
// (inode, size, mtime). A changed file is loaded again: on success its store gets the new
// content (every worker's next login sees it, and the auth cache misses, because its key holds
// the store's version) and `on_revoked` is called with the (user, app password) pairs that were
// removed, so their live sessions can be ended; on failure the old content stays and the error
// is logged with its line ("users_file_error"). SIGHUP reloads the files too, with the config.
// Main-loop thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "auth/auth_services.h"
#include "net/event_loop.h"
#include "net/timer.h"

namespace imapgate::server {

class UsersFileWatcher {
 public:
  using RevokedFn = std::function<void(std::set<std::pair<std::string, std::string>> revoked)>;
  static StatusOr<std::unique_ptr<UsersFileWatcher>> Start(net::EventLoop* loop,
                                                           std::shared_ptr<auth::AuthServices> services,
                                                           std::chrono::milliseconds interval, RevokedFn on_revoked);
  // Checks every file now (also used after a SIGHUP reload set new content: remembers the stamps).
  void CheckNow();

  // The (user, app password name) pairs in `before` that `after` no longer has.
  static std::set<std::pair<std::string, std::string>> RevokedAppPasswords(const auth::UserDatabase& before,
                                                                           const auth::UserDatabase& after);

 private:
  struct Stamp {
    uint64_t inode = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  UsersFileWatcher() = default;
  static Stamp StampOf(const std::string& path);

  std::shared_ptr<auth::AuthServices> services_;
  std::chrono::milliseconds interval_{2000};
  RevokedFn on_revoked_;
  net::TimerPtr timer_;
  std::map<std::string, Stamp> stamps_;
};

}  // namespace imapgate::server
