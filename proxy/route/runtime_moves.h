// RuntimeMoves: users moved to another shard at runtime by an operator (POST
// /api/v1/users/U/move on any instance; issue C spreads it through the fleet), consulted before
// the router's own decision. The override file stays the record: a move lasts until the process
// restarts, and the operator writes it there too (or moves the user back).
//
// Thread-safe (one mutex; a lookup per login, never per byte); bounded to kMaxMoves users
// (beyond it a new move is refused). Names are normalized by the caller.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace imapgate::route {

class RuntimeMoves {
 public:
  static constexpr size_t kMaxMoves = 100'000;

  // Records that `user` now lives on `shard`; false when the table is full (a new user).
  bool Set(const std::string& user, const std::string& shard);
  // The shard `user` was moved to, if any.
  std::optional<std::string> Find(std::string_view user) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> moves_;
};

}  // namespace imapgate::route
