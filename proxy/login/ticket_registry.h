// TicketRegistry: generation-counted handles that let work done off the worker (password hashing
// on a pool, an HTTP answer on another thread) find its login again — or find nothing.
//
// A Ticket is two integers, safe to copy to any thread. Only the owning worker issues, releases
// and resolves tickets; a pool job posts its result to the worker's loop with the ticket, and
// the worker's Deliver() looks it up: if the login was cancelled or its session destroyed in the
// meantime, the slot was released (and perhaps reused under a new generation), and the late
// result is dropped without touching freed memory. Slots are recycled, so steady-state logins
// allocate nothing here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace imapgate::net {
class EventLoop;
}

namespace imapgate::login {

class LoginPipeline;
struct Verdict;

struct Ticket {
  uint32_t slot = 0;
  uint32_t generation = 0;  // 0 is never issued: a default Ticket resolves to nothing
};

class TicketRegistry {
 public:
  TicketRegistry() = default;
  TicketRegistry(const TicketRegistry&) = delete;
  TicketRegistry& operator=(const TicketRegistry&) = delete;

  // A fresh ticket that resolves to `owner` until released.
  Ticket Issue(LoginPipeline* owner);
  // The ticket resolves to nothing from now on; releasing twice (or a stale ticket) is harmless.
  void Release(Ticket ticket);
  // The owner, or null if the ticket was released (the login is gone).
  LoginPipeline* Find(Ticket ticket) const;
  // On the worker: hands a late result to its login if that login still waits for it; returns
  // false (and drops the verdict) otherwise.
  bool Deliver(Ticket ticket, Verdict verdict);
  // Tickets issued and not yet released.
  size_t live() const { return live_; }

 private:
  struct Slot {
    LoginPipeline* owner = nullptr;
    uint32_t generation = 0;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

// Thread-safe: from a pool thread, hands `verdict` to the login holding `ticket` on the worker
// that owns `loop` and `registry` (both outlive the worker's loop). Dropped on the worker if that
// login is gone. The verdict may hold secrets (backend credentials); it is moved, never copied.
void PostVerdict(net::EventLoop* loop, TicketRegistry* registry, Ticket ticket, Verdict verdict);

class StepRequest;
// Thread-safe: from a pool thread, runs `fn(request)` on the worker with the step request that
// holds `ticket` (an intermediate result, e.g. a password check that the step goes on from);
// dropped if that step ended or its login is gone. The step knows its request's type.
void PostToRequest(net::EventLoop* loop, TicketRegistry* registry, Ticket ticket,
                   std::function<void(StepRequest&)> fn);

}  // namespace imapgate::login
