// Session: one client connection of the load generator, an explicit state machine driven by
// the worker's libevent loop.
//
// Script per mode: connect, [TLS | plaintext greeting + STARTTLS + TLS], greeting, then
//   handshake: stop after the TLS handshake (waits for a ticket first when resuming without one);
//   login:     LOGIN, LOGOUT;
//   idle:      LOGIN, SELECT INBOX, IDLE until "+", held until Release(), DONE, LOGOUT;
//   fetch:     LOGIN, SELECT INBOX, warm until Go(), UID FETCH while the worker grants ops, LOGOUT;
//   noop:      LOGIN, warm until Go(), NOOP while the worker grants ops, LOGOUT.
// The worker owns every session: when one ends it tells the worker once (ok or a FailReason),
// frees its socket, SSL and event at once, and the worker deletes the object later from its
// loop, so a pointer never dangles inside a callback chain. A held session keeps only its fd,
// its SSL (whose buffers BoringSSL frees when empty), one event and a few words.
// Loop thread only.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "bench/loadgen/response_scanner.h"
#include "bench/loadgen/stats.h"

struct event;

namespace imapgate::bench {

class Worker;

class Session {
 public:
  enum class State {
    kConnecting,
    kHandshake,
    kWaitTicket,
    kGreeting,
    kStarttls,
    kLogin,
    kSelect,
    kIdleSent,
    kHeld,
    kDoneSent,
    kWarm,
    kOp,
    kLogout,
    kDead
  };

  // index picks the user (round-robin) and the source address.
  Session(Worker* worker, uint64_t index);
  ~Session();
  // Opens the socket and connects (an immediate failure ends the session at once).
  void Start();
  // idle: leaves IDLE (DONE) and logs out.
  void Release();
  // fetch/noop: starts issuing operations.
  void Go();
  // Ends the session now as failed with reason (no-op if it already ended).
  void Abort(FailReason reason);

  State state() const { return state_; }
  uint64_t deadline_us() const { return deadline_us_; }
  size_t slot = 0;      // position in the worker's live list
  bool waited = false;  // reached held (idle) or warm (fetch/noop)

 private:
  static void OnEventCallback(int fd, short what, void* arg);
  void OnEvent(short what);
  void Arm(bool read, bool write);
  void OnConnected();
  bool NewSsl();
  void StartTls();
  void SendLogin();
  void DriveHandshake();
  void ReadInput();
  void HandleLine(std::string_view line);
  void OnGreeting(const LineInfo& info);
  void OnTagged(const LineInfo& info);
  void SendCommand(std::string_view body);
  void Send(std::string_view data);
  void Flush();
  void NextOp();
  void Logout();
  void Succeed();
  void Fail(FailReason reason);
  void Finish(bool ok, FailReason reason);
  FailReason StateFailReason() const;
  bool IsTls() const { return ssl_ != nullptr; }

  Worker* worker_;
  uint64_t index_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  event* event_ = nullptr;
  short armed_ = 0;
  bool handshake_wants_write_ = false;
  State state_ = State::kConnecting;
  bool starttls_done_ = false;
  bool bye_seen_ = false;
  uint32_t tag_counter_ = 0;
  char tag_[12] = {};
  uint8_t tag_len_ = 0;
  uint64_t start_us_ = 0;
  uint64_t op_start_us_ = 0;
  uint64_t deadline_us_ = 0;
  uint64_t literal_bytes_ = 0;
  ResponseScanner scanner_;
  std::string out_;  // bytes not yet accepted by the socket / SSL_write
};

}  // namespace imapgate::bench
