// The users-file check of one login: the slow part (hashes, on the hash pool) and the decision
// on the second factor that follows (on the worker). Pure: no I/O, no clock (time is passed in),
// thread-safe as documented per function.
//
//   CheckUsersFile (pool thread)  →  FileCheck  →  DecideSecondFactor (worker)  →  accept / reject /
//                                                                                   ask the push hook
//
// Timing: an unknown user costs one slow hash (the database's dummy hash, same scheme and cost
// as its users'), a known user one slow hash of their password plus the app passwords' (which
// are meant to be fast {SHA256} hashes of random strings), so the answer's timing does not say
// which names exist. Every failure is the same failure to the client: a wrong password, a wrong,
// replayed or missing code are not told apart (only the log's reason, never the secret, differs).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/expiring_cache.h"
#include "auth/totp.h"
#include "auth/user_database.h"
#include "common/secret.h"

namespace imapgate::auth {

// What the slow check found.
struct FileCheck {
  enum class Kind {
    kUnknownUser,   // not in the file (the dummy hash was checked)
    kBadPassword,   // neither the password (with its code split off, under TOTP) nor an app password
    kPassword,      // the password matched (`code` holds the split-off code under TOTP)
    kAppPassword,   // an app password matched: the second factor is satisfied on its own
  };
  Kind kind = Kind::kUnknownUser;
  SecretString backend_password;  // kPassword: the password without the code (what the backend knows)
  SecretString code;              // kPassword under TOTP: the 6 digits that followed the password
  std::string app_password;       // kAppPassword: its name (the device)
};

// On the hash pool: checks `secret` against `user` (a normalized name) in `db`. Under a TOTP
// policy the secret must be the password followed by the 6-digit code. Slow on purpose.
FileCheck CheckUsersFile(const UserDatabase& db, std::string_view user, std::string_view secret);

// Why a login passed or failed its second factor, for the 2FA metric and the log.
enum class FactorResult {
  kNotRequired,     // policy none
  kAppPassword,     // satisfied by an app password
  kRemembered,      // this (user, device) passed recently
  kTotpOk,
  kTotpBad,         // a wrong or expired code, or none
  kTotpReplayed,    // a code already used for this user
  kPushNeeded,      // the push hook must approve
};
const char* FactorResultName(FactorResult result);
// True when the login may go on (without asking the push hook).
bool FactorPassed(FactorResult result);

// The state the second factor keeps across logins (owned by the Server, shared by every worker;
// each member is thread-safe).
struct SecondFactorState {
  TotpReplayCache* replay = nullptr;
  ExpiringCache<uint8_t>* remembered = nullptr;  // key: RememberedDeviceKey(); null: off
  const KeyedHasher* hasher = nullptr;
  int64_t remember_seconds = 0;                  // 0: off
  TotpParams totp;
};

// The remembered-device key of (user, device): device is the client's address (or its ID).
std::array<uint8_t, 32> RememberedDeviceKey(const KeyedHasher& hasher, std::string_view user,
                                            std::string_view device);

// On the worker, after a kPassword or kAppPassword check: whether the second factor is met for
// `record` under `policy`, at `now_unix` seconds. A good TOTP code is consumed (the replay cache
// refuses it from then on) and remembers the device.
FactorResult DecideSecondFactor(const FileCheck& check, const UserRecord& record, SecondFactorPolicy policy,
                                std::string_view user, std::string_view device, int64_t now_unix,
                                const SecondFactorState& state);

// Records that (user, device) passed a second factor at now_unix (after a push approval too).
void RememberDevice(const SecondFactorState& state, std::string_view user, std::string_view device,
                    int64_t now_unix);

}  // namespace imapgate::auth
