#include "auth/file_check.h"

namespace imapgate::auth {

FileCheck CheckUsersFile(const UserDatabase& db, std::string_view user, std::string_view secret) {
  FileCheck out;
  const UserRecord* record = db.Find(user);
  if (record == nullptr) {
    (void)VerifyPassword(db.dummy_hash(), secret);  // the same work as a known user
    out.kind = FileCheck::Kind::kUnknownUser;
    return out;
  }
  // App passwords first: fast hashes of random strings; each one is tried (no early exit on a
  // mismatch), and a match satisfies the second factor on its own.
  for (const AppPassword& app : record->app_passwords) {
    if (VerifyPassword(app.hash, secret) && out.kind != FileCheck::Kind::kAppPassword) {
      out.kind = FileCheck::Kind::kAppPassword;
      out.app_password = app.name;
    }
  }
  const SecondFactorPolicy policy = db.PolicyFor(*record);
  std::string_view password = secret;
  std::string_view code;
  bool code_missing = false;
  if (policy == SecondFactorPolicy::kTotp && out.kind != FileCheck::Kind::kAppPassword) {
    if (auto split = SplitOtpSuffix(secret, 6)) {
      password = split->password;
      code = split->code;
    } else {
      code_missing = true;  // still hash, so that the cost does not tell
    }
  }
  const bool password_ok = VerifyPassword(record->password, password);
  if (out.kind == FileCheck::Kind::kAppPassword) return out;
  if (!password_ok || code_missing) {
    out.kind = FileCheck::Kind::kBadPassword;
    return out;
  }
  out.kind = FileCheck::Kind::kPassword;
  out.backend_password = SecretString(password);
  out.code = SecretString(code);
  return out;
}

const char* FactorResultName(FactorResult result) {
  switch (result) {
    case FactorResult::kNotRequired: return "not_required";
    case FactorResult::kAppPassword: return "app_password";
    case FactorResult::kRemembered: return "remembered";
    case FactorResult::kTotpOk: return "totp_ok";
    case FactorResult::kTotpBad: return "totp_bad";
    case FactorResult::kTotpReplayed: return "totp_replayed";
    case FactorResult::kPushNeeded: return "push_needed";
  }
  return "unknown";
}

bool FactorPassed(FactorResult result) {
  return result == FactorResult::kNotRequired || result == FactorResult::kAppPassword ||
         result == FactorResult::kRemembered || result == FactorResult::kTotpOk;
}

std::array<uint8_t, 32> RememberedDeviceKey(const KeyedHasher& hasher, std::string_view user,
                                            std::string_view device) {
  return hasher.Hash({"remembered-device", user, device});
}

void RememberDevice(const SecondFactorState& state, std::string_view user, std::string_view device,
                    int64_t now_unix) {
  if (state.remembered == nullptr || state.remember_seconds <= 0 || state.hasher == nullptr) return;
  state.remembered->Put(RememberedDeviceKey(*state.hasher, user, device), 1, now_unix + state.remember_seconds);
}

FactorResult DecideSecondFactor(const FileCheck& check, const UserRecord& record, SecondFactorPolicy policy,
                                std::string_view user, std::string_view device, int64_t now_unix,
                                const SecondFactorState& state) {
  if (check.kind == FileCheck::Kind::kAppPassword) return FactorResult::kAppPassword;
  if (policy == SecondFactorPolicy::kNone) return FactorResult::kNotRequired;
  const bool remembered = state.remembered != nullptr && state.hasher != nullptr && state.remember_seconds > 0 &&
                          state.remembered->Get(RememberedDeviceKey(*state.hasher, user, device), now_unix);
  if (policy == SecondFactorPolicy::kPush) return remembered ? FactorResult::kRemembered : FactorResult::kPushNeeded;
  // TOTP: the code was split off by the check. A remembered device's client may resend its
  // stored password and old code for the window; anyone else needs a fresh, unused code.
  if (remembered) return FactorResult::kRemembered;
  if (record.totp_key.empty() || check.code.empty()) return FactorResult::kTotpBad;
  std::optional<uint64_t> counter = VerifyTotp(record.totp_key.view(), check.code.view(), now_unix, state.totp);
  if (!counter) return FactorResult::kTotpBad;
  if (state.replay != nullptr && !state.replay->Consume(user, *counter, now_unix)) return FactorResult::kTotpReplayed;
  RememberDevice(state, user, device, now_unix);
  return FactorResult::kTotpOk;
}

}  // namespace imapgate::auth
