#include "ratelimit/auth_policy.h"

#include <algorithm>
#include <array>
#include <limits>

#include "admin/json_reader.h"
#include "admin/json_writer.h"
#include "tls/crypto.h"

namespace imapgate::ratelimit {

std::string PolicyPasswordHash(std::string_view nonce, std::string_view user,
                               const SecretString& password, int truncate_bits) {
  WipingStringBase input;
  input.reserve(nonce.size() + user.size() + 1 + password.size());
  input.append(nonce.data(), nonce.size());
  input.append(user.data(), user.size());
  input.push_back('\0');
  input.append(password.view().data(), password.size());
  std::array<uint8_t, tls::kSha256Bytes> digest =
      tls::Sha256(std::string_view(input.data(), input.size()));
  SecureWipe(input.data(), input.size());

  size_t bytes = digest.size();
  if (truncate_bits > 0 && truncate_bits < kMaxPolicyHashBits) {
    // Keep the first `truncate_bits` bits, right-aligned in ceil(bits/8) bytes: shift the kept
    // prefix right by the unused bits of its last byte, carrying between bytes.
    bytes = (static_cast<size_t>(truncate_bits) + 7) / 8;
    const unsigned rem = static_cast<unsigned>(truncate_bits) % 8;
    if (rem != 0) {
      for (size_t i = bytes - 1; i > 0; --i) {
        digest[i] = static_cast<uint8_t>((digest[i] >> (8 - rem)) |
                                         ((digest[i - 1] & (0xffu >> rem)) << rem));
      }
      digest[0] = static_cast<uint8_t>(digest[0] >> (8 - rem));
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (size_t i = 0; i < bytes; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  SecureWipe(digest.data(), digest.size());
  return out;
}

std::string PolicyCommandTarget(std::string_view base, PolicyCommand command) {
  std::string out(base.empty() ? std::string_view("/") : base);
  const char* name = command == PolicyCommand::kAllow ? "command=allow" : "command=report";
  if (!out.empty() && out.back() == '&') {
    out += name;
  } else if (out.find('?') != std::string::npos) {
    out += '&';
    out += name;
  } else {
    out += '?';
    out += name;
  }
  return out;
}

StatusOr<std::string> BuildPolicyRequestBody(const PolicyRequest& request, std::string_view pwhash,
                                             PolicyCommand command) {
  // Dovecot sorts its attributes by key; the same order here.
  const std::pair<const char*, std::string_view> fields[] = {
      {"device_id", request.device_id},
      {"fail_type", request.fail_type},
      {"login", request.login},
      {"protocol", request.protocol},
      {"pwhash", pwhash},
      {"remote", request.remote},
      {"session_id", request.session_id},
  };
  for (const auto& [key, value] : fields) {
    if (value.size() > kMaxPolicyFieldBytes) {
      return InvalidArgument(std::string("policy request field ") + key + " longer than " +
                             std::to_string(kMaxPolicyFieldBytes) + " bytes");
    }
  }
  admin::JsonWriter w;
  w.BeginObject();
  for (const auto& [key, value] : fields) w.Key(key).String(value);
  if (command == PolicyCommand::kReport) {
    w.Key("success").Bool(request.success);
    w.Key("policy_reject").Bool(request.policy_reject);
  }
  w.Key("tls").Bool(request.tls);
  w.EndObject();
  return w.Take();
}

StatusOr<PolicyAnswer> ParsePolicyAnswer(int http_status, std::string_view body) {
  if (http_status < 200 || http_status > 299) {
    return Unavailable("policy server answered HTTP " + std::to_string(http_status));
  }
  if (body.size() > kMaxPolicyAnswerBytes) return Unavailable("policy server answer too large");
  admin::JsonLimits limits;
  limits.max_bytes = kMaxPolicyAnswerBytes;
  limits.max_depth = 4;
  limits.max_string_bytes = kMaxPolicyAnswerBytes;
  limits.max_items = 64;
  StatusOr<admin::JsonValue> json = admin::ParseJson(body, limits);
  if (!json.ok()) return Unavailable("policy server answer: " + json.status().message());
  if (!json->is_object()) return Unavailable("policy server answer is not a JSON object");
  const admin::JsonValue* status = json->Find("status");
  if (status == nullptr || status->type() != admin::JsonValue::Type::kNumber ||
      !status->integer()) {
    return Unavailable("policy server answer has no integer \"status\"");
  }
  const int64_t n = *status->integer();
  if (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()) {
    return Unavailable("policy server answer's status is out of range");
  }
  PolicyAnswer answer;
  answer.status = n;
  if (const admin::JsonValue* msg = json->Find("msg")) {
    if (msg->type() != admin::JsonValue::Type::kString) {
      return Unavailable("policy server answer's msg is not a string");
    }
    const std::string& m = msg->string();
    if (m.size() > kMaxPolicyMessageBytes)
      return Unavailable("policy server answer's msg is too long");
    for (char c : m) {
      if (c < 0x20 || c > 0x7e)
        return Unavailable("policy server answer's msg is not printable ASCII");
    }
    answer.message = m;
  }
  return answer;
}

PolicyVerdict VerdictFromAnswer(const PolicyAnswer& answer, std::chrono::seconds max_delay) {
  if (answer.status < 0) {
    PolicyVerdict v;
    v.kind = PolicyVerdict::Kind::kReject;
    v.message = answer.message;
    return v;
  }
  if (answer.status == 0 || max_delay.count() <= 0) return PolicyVerdict::Allow();
  PolicyVerdict v;
  v.kind = PolicyVerdict::Kind::kDelay;
  v.delay = std::min(std::chrono::seconds(answer.status), max_delay);
  return v;
}

}  // namespace imapgate::ratelimit
