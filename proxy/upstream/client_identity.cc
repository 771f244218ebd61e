#include "upstream/client_identity.h"

#include <cctype>

namespace imapgate::upstream {
namespace {

void AppendPair(std::string* out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  if (out->back() != '(') out->push_back(' ');
  out->push_back('"');
  out->append(key);
  out->append("\" \"");
  out->append(value);
  out->push_back('"');
}

std::string SafeSessionId(std::string_view id) {
  std::string out;
  for (char c : id) {
    if (out.size() == kMaxSessionIdBytes) break;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') out.push_back(c);
  }
  return out;
}

std::string PortString(const net::SocketAddress& a) {
  uint16_t port = a.Port();
  return port == 0 ? std::string() : std::to_string(port);
}

}  // namespace

std::string FormatIdCommand(std::string_view tag, const ClientIdentity& identity) {
  std::string out(tag);
  out.append(" ID (");
  AppendPair(&out, "x-session-id", SafeSessionId(identity.session_id));
  AppendPair(&out, "x-originating-ip", identity.client.Host());
  AppendPair(&out, "x-originating-port", PortString(identity.client));
  AppendPair(&out, "x-connected-ip", identity.local.Host());
  AppendPair(&out, "x-connected-port", PortString(identity.local));
  AppendPair(&out, "x-proxy-ttl", std::to_string(kInitialProxyTtl));
  AppendPair(&out, "x-client-transport", identity.tls ? "TLS" : "insecure");
  out.append(")\r\n");
  return out;
}

}  // namespace imapgate::upstream
