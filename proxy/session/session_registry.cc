#include "session/session_registry.h"

namespace imapgate::session {

void SessionRegistry::Add(std::shared_ptr<SessionRecord> record) {
  std::lock_guard<std::mutex> lock(mu_);
  const SessionRecord* key = record.get();
  records_.emplace(key, std::move(record));
}

void SessionRegistry::Remove(const SessionRecord* record) {
  std::lock_guard<std::mutex> lock(mu_);
  records_.erase(record);
}

void SessionRegistry::ForEach(const std::function<void(const SessionRecord&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, record] : records_) fn(*record);
}

size_t SessionRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_.size();
}

}  // namespace imapgate::session
