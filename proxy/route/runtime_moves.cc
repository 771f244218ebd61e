#include "route/runtime_moves.h"

namespace imapgate::route {

bool RuntimeMoves::Set(const std::string& user, const std::string& shard) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = moves_.find(user);
  if (it != moves_.end()) {
    it->second = shard;
    return true;
  }
  if (moves_.size() >= kMaxMoves) return false;
  moves_.emplace(user, shard);
  return true;
}

std::optional<std::string> RuntimeMoves::Find(std::string_view user) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (moves_.empty()) return std::nullopt;
  auto it = moves_.find(std::string(user));
  if (it == moves_.end()) return std::nullopt;
  return it->second;
}

size_t RuntimeMoves::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return moves_.size();
}

}  // namespace imapgate::route
