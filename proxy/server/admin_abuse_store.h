// AdminAbuseStore: the admin API's handle on the abuse store, used from the main thread, which
// must get an answer within the HTTP request. The in-process store answers inside each call. A
// fleet store (Redis) answers later on its loop, so it lives on a loop thread of its own here:
// each call is posted there and the main thread waits for the answer up to a timeout (a late
// answer lands in shared state and is dropped, never in a finished caller's frame).
//
// Thread: every method from the main thread; the fleet store's thread is started by Create and
// stopped (the store destroyed on it) by the destructor.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "abuse/abuse_services.h"
#include "common/status.h"
#include "net/event_loop.h"
#include "ratelimit/store.h"

namespace imapgate::server {

class AdminAbuseStore {
 public:
  // `services` outlives this. Starts the fleet store's thread when the store is Redis.
  static StatusOr<std::unique_ptr<AdminAbuseStore>> Create(abuse::AbuseServices* services,
                                                           std::chrono::milliseconds timeout);
  ~AdminAbuseStore();
  AdminAbuseStore(const AdminAbuseStore&) = delete;
  AdminAbuseStore& operator=(const AdminAbuseStore&) = delete;

  // nullopt: the store did not answer within the timeout (or could not: Redis down).
  std::optional<std::vector<ratelimit::BlockEntry>> ListBlocks(size_t limit);
  std::optional<bool> Unblock(ratelimit::BlockScope scope, const std::string& key);
  std::optional<ratelimit::KeyReport> ReportAddress(const ratelimit::LoginKeys& keys);
  std::optional<ratelimit::KeyReport> ReportUser(const std::string& user);
  // Tells the fleet (false without a fleet store or when it does not encode).
  bool PublishToFleet(const abuse::FleetNotice& notice);
  // Blocks known now per scope (address, subnet): the memory store's, or the fleet store's local
  // copy; nullopt when the fleet store's thread did not answer in time.
  std::optional<std::pair<size_t, size_t>> BlockedCounts();

 private:
  AdminAbuseStore(abuse::AbuseServices* services, std::chrono::milliseconds timeout)
      : services_(services), timeout_(timeout) {}
  // Runs call(store, done) where the store lives and waits for done(value).
  template <typename T, typename Call>
  std::optional<T> Ask(Call call);

  abuse::AbuseServices* services_;
  std::chrono::milliseconds timeout_;
  ratelimit::StorePtr store_;              // the memory store's handle, or the fleet store
  std::unique_ptr<net::EventLoop> loop_;   // the fleet store's loop (null: in-process store)
  std::thread thread_;
};

}  // namespace imapgate::server
