// Tests for upstream/client_identity.h: the ID command that carries the client's identity.

#include "upstream/client_identity.h"

#include <gtest/gtest.h>

namespace imapgate::upstream {
namespace {

net::SocketAddress Addr(const char* host, uint16_t port) { return *net::ResolveAddress(host, port); }

TEST(FormatIdCommandTest, CarriesEveryKeyDovecotReads) {
  ClientIdentity id{"gate-1-2a", Addr("203.0.113.9", 51234), Addr("10.0.0.1", 143), false};
  EXPECT_EQ(FormatIdCommand("A4", id),
            "A4 ID (\"x-session-id\" \"gate-1-2a\" \"x-originating-ip\" \"203.0.113.9\" "
            "\"x-originating-port\" \"51234\" \"x-connected-ip\" \"10.0.0.1\" \"x-connected-port\" \"143\" "
            "\"x-proxy-ttl\" \"5\" \"x-client-transport\" \"insecure\")\r\n");
}

TEST(FormatIdCommandTest, Ipv6AddressesAreWrittenWithoutBrackets) {
  ClientIdentity id{"s", Addr("2001:db8::7", 1), Addr("::1", 993), true};
  std::string cmd = FormatIdCommand("A4", id);
  EXPECT_NE(cmd.find("\"x-originating-ip\" \"2001:db8::7\""), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("\"x-connected-ip\" \"::1\""), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("\"x-client-transport\" \"TLS\""), std::string::npos) << cmd;
}

TEST(FormatIdCommandTest, SessionIdCannotBreakTheQuoting) {
  ClientIdentity id{"a\"b\\c\r\nd e(f)", Addr("192.0.2.1", 1), Addr("192.0.2.2", 2), true};
  std::string cmd = FormatIdCommand("A4", id);
  EXPECT_NE(cmd.find("\"x-session-id\" \"abcdef\""), std::string::npos) << cmd;
  EXPECT_EQ(cmd.find('\r'), cmd.size() - 2);  // the only CR is the final CRLF
}

TEST(FormatIdCommandTest, SessionIdIsCutToDovecotsLimit) {
  ClientIdentity id{std::string(100, 'x'), Addr("192.0.2.1", 1), Addr("192.0.2.2", 2), true};
  std::string cmd = FormatIdCommand("A4", id);
  EXPECT_NE(cmd.find("\"x-session-id\" \"" + std::string(kMaxSessionIdBytes, 'x') + "\""), std::string::npos);
  EXPECT_EQ(cmd.find(std::string(kMaxSessionIdBytes + 1, 'x')), std::string::npos);
}

TEST(FormatIdCommandTest, UnknownAddressesAreLeftOut) {
  ClientIdentity id{"s", net::SocketAddress(), net::SocketAddress(), true};
  EXPECT_EQ(FormatIdCommand("A4", id),
            "A4 ID (\"x-session-id\" \"s\" \"x-proxy-ttl\" \"5\" \"x-client-transport\" \"TLS\")\r\n");
}

}  // namespace
}  // namespace imapgate::upstream
