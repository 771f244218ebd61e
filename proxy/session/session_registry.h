// SessionRegistry: the relayed sessions of every worker, as the admin API lists them.
//
// A session adds its record when its relay starts and removes it when it ends (a mutex, taken
// twice per session, never per byte). The relay adds to the record's byte counters as bytes flow
// (one writer: its worker; relaxed atomics, read by the admin thread), so a long IDLE session's
// traffic shows while it lasts. Readers copy what they need under the lock (ForEach).
// Thread-safe; owned by the Server, outlives the workers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "relay/relay.h"

namespace imapgate::session {

// One relayed session.
struct SessionRecord {
  std::string id;              // as in the logs
  std::string user;            // as the client gave it
  std::string client_address;  // the real client (PROXY protocol when trusted)
  std::string shard;
  std::string backend;         // backend name
  std::string app_password;    // the app password (device) the login used; "" when none
  int64_t started_unix_seconds = 0;
  relay::RelayByteCounters bytes;  // updated by the relay as bytes flow
};

class SessionRegistry {
 public:
  void Add(std::shared_ptr<SessionRecord> record);
  void Remove(const SessionRecord* record);
  // Calls fn for every live record, under the lock (fn must be quick and must not call back).
  void ForEach(const std::function<void(const SessionRecord&)>& fn) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<const SessionRecord*, std::shared_ptr<SessionRecord>> records_;
};

}  // namespace imapgate::session
