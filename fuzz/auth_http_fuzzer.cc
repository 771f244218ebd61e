// Fuzz target for the nginx auth_http codec (auth/auth_http.h). The input is a list of
// "Name: value" lines; the first byte picks the HTTP status. Checks, beyond "no crash":
//  - the answer's kind follows the status and Auth-Status rules; a failure message is printable
//    ASCII within its bound; Auth-Wait within its bound; a route has both server and port;
//  - request headers built from the same bytes never carry CR or LF, and the escaped user and
//    password carry no space, '%' other than as an escape, or control byte.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_http.h"

namespace a = imapgate::auth;

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  int status = (data[0] & 1) ? 200 : 100 + data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::pair<std::string, imapgate::SecretString>> headers;
  std::vector<std::string_view> lines;
  while (!in.empty() && headers.size() < 64) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    lines.push_back(line);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    headers.emplace_back(std::string(line.substr(0, colon)), imapgate::SecretString(value));
  }
  a::AuthHttpAnswer ans = a::ParseAuthHttpAnswer(status, headers);
  if (status != 200) Check(ans.kind == a::AuthHttpAnswer::Kind::kInvalid);
  if (ans.kind == a::AuthHttpAnswer::Kind::kFail) {
    Check(!ans.message.empty() && ans.message.size() <= a::kMaxAuthMessageBytes);
    for (char c : ans.message) Check(c >= 0x20 && c < 0x7f);
  }
  if (ans.kind != a::AuthHttpAnswer::Kind::kInvalid) {
    Check(ans.server.has_value() == ans.port.has_value());
    if (ans.port) Check(*ans.port >= 1);
    if (ans.wait_seconds) Check(*ans.wait_seconds >= 0 && *ans.wait_seconds <= a::kMaxAuthWaitSeconds);
    for (char c : ans.error_code) Check(c >= 0x20 && c < 0x7f);
    Check(ans.error_code.size() <= a::kMaxAuthErrorCodeBytes);
  }

  a::AuthHttpQuery q;
  imapgate::SecretString pass(lines.empty() ? std::string_view() : lines[0]);
  q.pass = &pass;
  q.user = lines.size() > 1 ? std::string(lines[1]) : "";
  q.method = lines.size() > 2 ? std::string(lines[2]) : "plain";
  q.client_ip = lines.size() > 3 ? std::string(lines[3]) : "";
  q.client_host = lines.size() > 4 ? std::string(lines[4]) : "";
  q.ssl = (data[0] & 2) != 0;
  q.ssl_cipher = q.client_host;
  if (lines.size() > 5) q.extra_headers.emplace_back(std::string(lines[5]), std::string(lines.back()));
  auto built = a::BuildAuthHttpHeaders(q);
  Check(built.size() >= 6 && built[1].first == "Auth-User" && built[2].first == "Auth-Pass");
  for (size_t k = 0; k < built.size(); ++k) {
    const auto& [name, value] = built[k];
    Check(!name.empty());
    for (char c : name) Check(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f && c != ':');
    for (char c : value.view()) Check(static_cast<unsigned char>(c) >= 0x20 || c == '\t');
    if (k == 1 || k == 2) {
      std::string_view v = value.view();
      for (size_t i = 0; i < v.size(); ++i) {
        auto c = static_cast<unsigned char>(v[i]);
        Check(c > 0x20);
        if (c == '%') {
          Check(i + 2 < v.size());
          for (size_t k = i + 1; k <= i + 2; ++k) Check((v[k] >= '0' && v[k] <= '9') || (v[k] >= 'A' && v[k] <= 'F'));
        }
      }
    }
  }
  return 0;
}
