// The push-approval hook's wire format (pure): the JSON body imapgate POSTs for a login that
// needs a push approval, and the reading of the service's answer.
//
// Request (POST, Content-Type: application/json):
//   {"user": "carol@demo.test", "session_id": "...", "client_ip": "192.0.2.7", "client_port": 50123,
//    "tls_version": "TLSv1.3", "sni": "imap.example.com", "mechanism": "PLAIN", "attempt": 1,
//    "client_id": {"name": "Thunderbird", ...},  "transaction": "<from a pending answer>"}
// Answer (HTTP 200, JSON object, at most 4 KiB):
//   {"result": "allow" | "deny" | "pending", "transaction": "<opaque, <= 256 bytes>"}
// "pending" means: ask again after the poll interval (with the transaction), or the service may
// simply hold the request open until the user decides (long polling). Anything else — another
// HTTP status, bad JSON, an unknown result — is an error, and 2FA fails closed: the client gets
// NO [UNAVAILABLE]. The body never holds a password or code.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace imapgate::auth {

struct PushQuery {
  std::string user;
  std::string session_id;
  std::string client_ip;
  uint16_t client_port = 0;
  std::string tls_version;
  std::string sni;
  std::string mechanism;
  int attempt = 1;
  std::vector<std::pair<std::string, std::string>> client_id;  // the client's ID fields, if it sent any
  std::string transaction;                                     // "" on the first request
};

// The JSON body for `query`.
std::string BuildPushRequestBody(const PushQuery& query);

struct PushAnswer {
  enum class Result { kAllow, kDeny, kPending };
  Result result = Result::kDeny;
  std::string transaction;
};

// Reads the service's answer; an error Status for anything but a well-formed answer.
StatusOr<PushAnswer> ParsePushAnswer(int http_status, std::string_view body);

}  // namespace imapgate::auth
