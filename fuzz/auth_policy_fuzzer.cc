// Fuzz target for the Dovecot auth_policy codec (ratelimit/auth_policy.h). The first byte picks
// the HTTP status, the pwhash truncation and the command; the rest is the policy server's answer
// and, split at NUL bytes, the fields of a request. Checks, beyond "no crash":
//  - an accepted answer came with HTTP 2xx and a body within its bound; its status fits 32 bits;
//    its message is printable ASCII within its bound; the verdict follows the status's sign and
//    a delay lies in 1 s .. the cap;
//  - the request body built from the same bytes is valid JSON, an object holding every field;
//  - the pwhash is lower-case hex of 2 * ceil(bits / 8) digits (64 for 0), right-aligned.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "admin/json_reader.h"
#include "ratelimit/auth_policy.h"

namespace r = imapgate::ratelimit;

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  const int http_status = (sel & 1) ? 200 : (sel & 2) ? 204 : 100 + sel;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  auto answer = r::ParsePolicyAnswer(http_status, in);
  if (answer.ok()) {
    Check(http_status >= 200 && http_status <= 299);
    Check(in.size() <= r::kMaxPolicyAnswerBytes);
    Check(answer->status >= INT32_MIN && answer->status <= INT32_MAX);
    Check(answer->message.size() <= r::kMaxPolicyMessageBytes);
    for (char c : answer->message) Check(c >= 0x20 && c <= 0x7e);
    const auto cap = std::chrono::seconds(sel & 0x3f);
    r::PolicyVerdict v = r::VerdictFromAnswer(*answer, cap);
    if (answer->status < 0) {
      Check(v.kind == r::PolicyVerdict::Kind::kReject && v.message == answer->message);
    } else if (answer->status == 0 || cap.count() == 0) {
      Check(v.kind == r::PolicyVerdict::Kind::kAllow);
    } else {
      Check(v.kind == r::PolicyVerdict::Kind::kDelay);
      Check(v.delay.count() >= 1 && v.delay <= cap && v.delay.count() <= answer->status);
    }
  }

  std::vector<std::string_view> parts;
  while (parts.size() < 7) {
    size_t nul = in.find('\0');
    parts.push_back(in.substr(0, nul));
    if (nul == std::string_view::npos) break;
    in.remove_prefix(nul + 1);
  }
  parts.resize(7);
  r::PolicyRequest req;
  req.login = std::string(parts[0]);
  req.remote = std::string(parts[1]);
  req.device_id = std::string(parts[2]);
  req.session_id = std::string(parts[3]);
  req.fail_type = std::string(parts[4]);
  req.tls = (sel & 4) != 0;
  req.success = (sel & 8) != 0;
  imapgate::SecretString password(parts[5]);
  const int bits = static_cast<int>(sel >> 4) * 17;  // 0, 17, ..., 255
  const std::string pwhash = r::PolicyPasswordHash(parts[6], req.login, password, bits);
  const size_t want = bits == 0 ? 64 : 2 * ((static_cast<size_t>(bits) + 7) / 8);
  Check(pwhash.size() == want);
  for (char c : pwhash) Check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (bits % 8 != 0) {
    const int top = std::stoi(pwhash.substr(0, 2), nullptr, 16);
    Check(top < (1 << (bits % 8)));
  }

  const auto command = (sel & 8) ? r::PolicyCommand::kReport : r::PolicyCommand::kAllow;
  auto body = r::BuildPolicyRequestBody(req, pwhash, command);
  bool fits = true;
  for (const std::string* s :
       {&req.login, &req.remote, &req.device_id, &req.session_id, &req.fail_type}) {
    fits = fits && s->size() <= r::kMaxPolicyFieldBytes;
  }
  Check(body.ok() == fits);
  if (body.ok()) {
    imapgate::admin::JsonLimits limits;
    limits.max_bytes = 1 << 16;
    limits.max_string_bytes = 4 * r::kMaxPolicyFieldBytes;
    auto json = imapgate::admin::ParseJson(*body, limits);
    Check(json.ok() && json->is_object());
    for (const char* key :
         {"device_id", "fail_type", "login", "protocol", "pwhash", "remote", "session_id", "tls"}) {
      Check(json->Find(key) != nullptr);
    }
    Check(json->Find("pwhash")->string() == pwhash);
    Check((json->Find("success") != nullptr) == (command == r::PolicyCommand::kReport));
  }
  return 0;
}
