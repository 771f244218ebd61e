// The Dovecot auth_policy wire format (pure): what imapgate POSTs to a policy server such as
// PowerDNS weakforced or OX Abuse Shield, and the reading of its answer.
//
// Compatibility (Dovecot 2.3 src/auth/auth-policy.c, and its documentation page "Authentication
// Policy"): the request is `POST <url>?command=allow` (before authentication) or
// `?command=report` (after it), Content-Type application/json, with a flat JSON object whose
// attribute values are strings — here Dovecot's default attributes plus fail_type, in Dovecot's
// sorted key order — then, in reports only, "success" and "policy_reject" as booleans, then
// "tls" as a boolean:
//   {"device_id":"...","fail_type":"","login":"carol","protocol":"imap","pwhash":"0a3",
//    "remote":"192.0.2.7","session_id":"...","success":false,"policy_reject":false,"tls":true}
// The answer is `{"status": N, "msg": "..."}`: N < 0 rejects (msg is the reason), 0 allows, and
// N > 0 delays the login N seconds. Unknown members are ignored, as Dovecot does.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "common/status.h"

namespace imapgate::ratelimit {

// Bounds.
inline constexpr size_t kMaxPolicyAnswerBytes = 4096;      // the answer's body
inline constexpr size_t kMaxPolicyMessageBytes = 256;      // "msg", printable ASCII only
inline constexpr size_t kMaxPolicyFieldBytes = 1024;       // each string field of a request
inline constexpr int kDefaultPolicyHashTruncateBits = 12;  // Dovecot's auth_policy_hash_truncate
inline constexpr int kMaxPolicyHashBits = 256;             // SHA-256

// The two requests of the protocol.
enum class PolicyCommand { kAllow, kReport };

// PolicyRequest: the facts about one login sent to the policy server. Values; any thread.
struct PolicyRequest {
  std::string login;      // the user name as the client sent it (Dovecot's requested_username)
  std::string remote;     // the real client address (after PROXY / trusted ID forwarding)
  std::string device_id;  // the client's ID fields, flattened ("" when none)
  std::string protocol = "imap";
  std::string session_id;
  std::string fail_type;       // reports: "credentials", "account", "internal", "policy", ... or ""
  bool tls = false;            // the client connection is TLS
  bool success = false;        // reports only: the login succeeded
  bool policy_reject = false;  // reports only: the policy server refused it
};

// PolicyPasswordHash: Dovecot's pwhash, the lower-case hex of SHA-256(nonce ‖ user ‖ NUL ‖
// password) truncated to its first `truncate_bits` bits, right-aligned in ceil(bits / 8) bytes
// (Dovecot's buffer_truncate_rshift_bits): 12 bits give 4 hex digits, the first always '0'.
// truncate_bits <= 0 or >= 256 gives the whole digest (64 digits), as in Dovecot. Every
// temporary copy of the password is wiped. Pure; any thread.
std::string PolicyPasswordHash(std::string_view nonce, std::string_view user,
                               const SecretString& password, int truncate_bits);

// The request target for `command` on a URL whose own target is `base` ("/" or "/p?x=1"):
// "?command=allow" is appended, or "command=allow" after a trailing '&' (Dovecot's rule), or
// "&command=allow" when `base` already has a query.
std::string PolicyCommandTarget(std::string_view base, PolicyCommand command);

// The JSON body for `request` with the given pwhash; the report fields only for kReport.
// Fails (kInvalidArgument, naming the field, never its value) when a string field is longer than
// kMaxPolicyFieldBytes. Strings are JSON-escaped (ill-formed UTF-8 becomes U+FFFD).
StatusOr<std::string> BuildPolicyRequestBody(const PolicyRequest& request, std::string_view pwhash,
                                             PolicyCommand command);

// PolicyAnswer: the server's answer as sent.
struct PolicyAnswer {
  int64_t status = 0;
  std::string message;  // "" when absent or empty; printable ASCII, <= kMaxPolicyMessageBytes
};

// Reads the policy server's answer. Anything but HTTP 2xx with a JSON object of at most
// kMaxPolicyAnswerBytes holding an integer "status" (32-bit, as Dovecot's str_to_int) and, if
// present, a string "msg" of printable ASCII within its bound, is an error (kUnavailable; the
// message never quotes the body).
StatusOr<PolicyAnswer> ParsePolicyAnswer(int http_status, std::string_view body);

// PolicyVerdict: what a login does after an allow check.
struct PolicyVerdict {
  enum class Kind {
    kAllow,
    kReject,  // message: the server's reason (may be empty)
    kDelay,   // delay: how long to hold the login before going on (1 s .. max_delay)
    kFailed,  // the hook failed (connect, timeout, HTTP error, bad answer); error says how
  };
  Kind kind = Kind::kFailed;
  std::string message;
  std::chrono::seconds delay{0};
  std::string error;  // for operators; never a password, pwhash or body

  static PolicyVerdict Allow() {
    return PolicyVerdict{Kind::kAllow, {}, std::chrono::seconds(0), {}};
  }
  static PolicyVerdict Failed(std::string why) {
    return PolicyVerdict{Kind::kFailed, {}, std::chrono::seconds(0), std::move(why)};
  }
};

// The verdict for an answer: status < 0 rejects with its message, 0 allows, > 0 delays that many
// seconds capped at max_delay (a max_delay of 0 turns delays into plain allows).
PolicyVerdict VerdictFromAnswer(const PolicyAnswer& answer, std::chrono::seconds max_delay);

}  // namespace imapgate::ratelimit
