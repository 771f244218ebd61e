#include "server/users_watcher.h"

#include <sys/stat.h>

#include "common/log.h"
#include "config/users_file.h"

namespace imapgate::server {

StatusOr<std::unique_ptr<UsersFileWatcher>> UsersFileWatcher::Start(net::EventLoop* loop,
                                                                    std::shared_ptr<auth::AuthServices> services,
                                                                    std::chrono::milliseconds interval,
                                                                    RevokedFn on_revoked) {
  std::unique_ptr<UsersFileWatcher> w(new UsersFileWatcher());
  w->services_ = std::move(services);
  w->interval_ = interval;
  w->on_revoked_ = std::move(on_revoked);
  UsersFileWatcher* raw = w.get();
  auto timer = net::Timer::Create(loop, [raw] {
    raw->CheckNow();
    raw->timer_->Arm(raw->interval_);
  });
  if (!timer.ok()) return timer.status();
  w->timer_ = std::move(*timer);
  for (const auto& store : w->services_->Stores()) w->stamps_[store->path()] = StampOf(store->path());
  w->timer_->Arm(interval);
  return w;
}

UsersFileWatcher::Stamp UsersFileWatcher::StampOf(const std::string& path) {
  struct stat st {};
  Stamp s;
  if (::stat(path.c_str(), &st) != 0) return s;
  s.inode = static_cast<uint64_t>(st.st_ino);
  s.size = static_cast<int64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

std::set<std::pair<std::string, std::string>> UsersFileWatcher::RevokedAppPasswords(const auth::UserDatabase& before,
                                                                                   const auth::UserDatabase& after) {
  std::set<std::pair<std::string, std::string>> revoked;
  for (const auth::UserRecord& old_record : before.users()) {
    const auth::UserRecord* now = after.Find(old_record.name);
    for (const auth::AppPassword& app : old_record.app_passwords) {
      bool kept = false;
      if (now != nullptr) {
        for (const auth::AppPassword& a : now->app_passwords) {
          // The same name with another hash is a new password: the old one is revoked.
          if (a.name == app.name && a.hash.encoded == app.hash.encoded) kept = true;
        }
      }
      if (!kept) revoked.emplace(old_record.name, app.name);
    }
  }
  return revoked;
}

void UsersFileWatcher::CheckNow() {
  for (const auto& store : services_->Stores()) {
    const std::string& path = store->path();
    const Stamp stamp = StampOf(path);
    auto it = stamps_.find(path);
    if (it != stamps_.end() && it->second == stamp) continue;
    stamps_[path] = stamp;
    auto db = config::LoadUsersFile(path, store->default_domain());
    if (!db.ok()) {
      LogEvent(LogLevel::kError, "users_file_error")
          .Add("file", path)
          .Add("detail", "the users in effect are unchanged")
          .Add("error", db.status().message());
      continue;
    }
    auth::UsersStore::Snapshot before = store->Get();
    std::set<std::pair<std::string, std::string>> revoked;
    if (before.db) revoked = RevokedAppPasswords(*before.db, **db);
    const uint64_t users = (*db)->size();
    store->Set(std::move(*db), store->default_domain());
    LogEvent(LogLevel::kInfo, "users_file_reloaded")
        .Add("file", path)
        .Add("users", users)
        .Add("app_passwords_revoked", static_cast<uint64_t>(revoked.size()));
    if (!revoked.empty() && on_revoked_) on_revoked_(std::move(revoked));
  }
}

}  // namespace imapgate::server
