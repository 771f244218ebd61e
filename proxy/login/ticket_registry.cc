#include "login/ticket_registry.h"

#include "login/login_pipeline.h"

#include <memory>

#include "net/event_loop.h"

namespace imapgate::login {

Ticket TicketRegistry::Issue(LoginPipeline* owner) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(Slot{});
  }
  Slot& s = slots_[slot];
  s.owner = owner;
  if (++s.generation == 0) s.generation = 1;  // skip 0 on wrap: it means "never issued"
  ++live_;
  return Ticket{slot, s.generation};
}

void TicketRegistry::Release(Ticket ticket) {
  if (Find(ticket) == nullptr) return;
  slots_[ticket.slot].owner = nullptr;
  free_.push_back(ticket.slot);
  --live_;
}

LoginPipeline* TicketRegistry::Find(Ticket ticket) const {
  if (ticket.generation == 0 || ticket.slot >= slots_.size()) return nullptr;
  const Slot& s = slots_[ticket.slot];
  return s.generation == ticket.generation ? s.owner : nullptr;
}

bool TicketRegistry::Deliver(Ticket ticket, Verdict verdict) {
  LoginPipeline* owner = Find(ticket);
  if (owner == nullptr) return false;
  return owner->OnTicketVerdict(ticket, std::move(verdict));
}

void PostVerdict(net::EventLoop* loop, TicketRegistry* registry, Ticket ticket, Verdict verdict) {
  // std::function needs a copyable closure; the verdict (move-only: it may hold SecretStrings)
  // travels in a shared_ptr that only this closure holds.
  auto boxed = std::make_shared<Verdict>(std::move(verdict));
  loop->Post([registry, ticket, boxed] { registry->Deliver(ticket, std::move(*boxed)); });
}

void PostToRequest(net::EventLoop* loop, TicketRegistry* registry, Ticket ticket,
                   std::function<void(StepRequest&)> fn) {
  loop->Post([registry, ticket, fn = std::move(fn)] {
    LoginPipeline* pipeline = registry->Find(ticket);
    if (pipeline == nullptr) return;
    if (StepRequest* request = pipeline->RequestForTicket(ticket)) fn(*request);
  });
}

}  // namespace imapgate::login
