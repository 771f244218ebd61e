// Tests for frontend::ClientFrontend, the pre-auth state machine: greeting and capabilities by
// phase, the pre-auth commands, the security transitions (LOGIN refused before TLS, STARTTLS
// injection, the upgrade and its state reset), every bound (error budget, line, literal, byte
// budget, timeouts) and the login handoff (request, rejection, TakeConnection).
//
// See frontend_fixture.h: the test is the client on one end of a socketpair.

#include "frontend/client_frontend.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "imap/sasl.h"
#include "frontend_fixture.h"

namespace imapgate::frontend {
namespace {

using namespace std::chrono_literals;

constexpr char kCleartextCaps[] = "IMAP4rev1 ID LITERAL+ STARTTLS LOGINDISABLED";

std::string AsString(const WipingBytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

// --- Plaintext (STARTTLS listener) -------------------------------------------------------------

TEST_F(ClientFrontendTest, CleartextGreetingOffersStartTlsAndNoAuth) {
  StartFrontend(/*implicit_tls=*/false);
  ASSERT_TRUE(Receive("\r\n"));
  EXPECT_EQ(received_, std::string("* OK [CAPABILITY ") + kCleartextCaps + "] imapgate ready\r\n");
  EXPECT_FALSE(Received("AUTH="));
  EXPECT_EQ(frontend_->TlsVersion(), "none");
  EXPECT_EQ(delegate_.handshakes_ok, 0);
}

TEST_F(ClientFrontendTest, CapabilityBeforeTlsListsCleartextCaps) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  TakeReceived();
  Send("c1 CAPABILITY\r\n");
  ASSERT_TRUE(Receive("c1 OK"));
  EXPECT_EQ(received_,
            std::string("* CAPABILITY ") + kCleartextCaps + "\r\nc1 OK Capability completed\r\n");
}

TEST_F(ClientFrontendTest, NoopAndIdAreAnswered) {
  StartFrontend(false);
  Send("n1 NOOP\r\ni1 ID (\"name\" \"test-client\")\r\ni2 ID NIL\r\n");
  ASSERT_TRUE(Receive("i2 OK"));
  EXPECT_TRUE(Received("n1 OK NOOP completed\r\n"));
  EXPECT_TRUE(Received("* ID (\"name\" \"imapgate\")\r\ni1 OK ID completed\r\n"));
  EXPECT_FALSE(Received("test-client"));  // nothing of the client's ID is echoed
  EXPECT_FALSE(delegate_.ended.has_value());
}

TEST_F(ClientFrontendTest, LogoutSaysByeAndEnds) {
  StartFrontend(false);
  Send("z LOGOUT\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kLogout);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("* BYE Logging out\r\nz OK Logout completed\r\n")) << received_;
  EXPECT_EQ(delegate_.ended_calls, 1);
}

TEST_F(ClientFrontendTest, LoginBeforeTlsIsRefusedWithPrivacyRequired) {
  StartFrontend(false);
  Send("l1 LOGIN alice secret\r\n");
  ASSERT_TRUE(Receive("l1 "));
  ASSERT_TRUE(Receive("\r\n"));
  EXPECT_TRUE(Received("l1 NO [PRIVACYREQUIRED]")) << received_;
  PumpFor(20ms);
  EXPECT_TRUE(delegate_.logins.empty());
  EXPECT_FALSE(delegate_.ended.has_value());
  EXPECT_EQ(delegate_.cleartext_refused, 1);  // counted for imapgate_cleartext_logins_refused_total
}

TEST_F(ClientFrontendTest, AuthenticateBeforeTlsIsRefusedWithPrivacyRequired) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  TakeReceived();
  Send("a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\na2 AUTHENTICATE PLAIN\r\n");
  ASSERT_TRUE(Receive("a2 NO"));
  EXPECT_TRUE(Received("a1 NO [PRIVACYREQUIRED]")) << received_;
  EXPECT_TRUE(Received("a2 NO [PRIVACYREQUIRED]")) << received_;
  EXPECT_FALSE(Received("+ "));  // no SASL continuation in cleartext
  PumpFor(20ms);
  EXPECT_TRUE(delegate_.logins.empty());
  EXPECT_EQ(delegate_.cleartext_refused, 2);
}

TEST_F(ClientFrontendTest, UnknownCommandGetsBad) {
  StartFrontend(false);
  Send("s1 SELECT INBOX\r\n");
  ASSERT_TRUE(Receive("s1 BAD"));
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));  // one BAD does not end the session
  EXPECT_FALSE(delegate_.ended.has_value());
}

TEST_F(ClientFrontendTest, ErrorBudgetEndsSessionWithBye) {
  options_.max_bad_commands = 3;
  StartFrontend(false);
  Send("b1 FOO\r\nb2 BAR\r\n");
  ASSERT_TRUE(Receive("b2 BAD"));
  PumpFor(10ms);
  EXPECT_FALSE(delegate_.ended.has_value());
  EXPECT_FALSE(Received("* BYE"));
  Send("b3 LOGIN a b\r\n");  // LOGIN refused before TLS counts as well
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kBadCommands);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("b3 NO [PRIVACYREQUIRED]"));
  EXPECT_TRUE(Received("* BYE Too many invalid commands\r\n")) << received_;
}

TEST_F(ClientFrontendTest, OverlongLineEndsSession) {
  options_.parser.max_line_bytes = 64;
  StartFrontend(false);
  Send("t1 NOOP " + std::string(200, 'x') + "\r\nt2 NOOP\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kLineTooLong);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received(" BAD ")) << received_;
  EXPECT_TRUE(Received("* BYE ")) << received_;
  EXPECT_FALSE(Received("t2 OK"));
}

TEST_F(ClientFrontendTest, OversizedLiteralEndsSessionAndPayloadIsNeverACommand) {
  options_.parser.max_literal_bytes = 16;
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  // The "payload" is a command: if it were parsed, the client would get a LOGOUT answer.
  Send("l2 LOGIN {100+}\r\nx LOGOUT\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kLiteralTooLarge);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("l2 BAD")) << received_;
  EXPECT_TRUE(Received("* BYE ")) << received_;
  EXPECT_FALSE(Received("x OK")) << received_;
  EXPECT_FALSE(Received("x BAD")) << received_;
  EXPECT_FALSE(Received("Logging out")) << received_;
}

TEST_F(ClientFrontendTest, PreauthByteBudgetEndsSession) {
  options_.max_preauth_bytes = 100;
  StartFrontend(false);
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  std::string many;
  for (int i = 0; i < 20; ++i) many += "n" + std::to_string(i + 2) + " NOOP\r\n";
  Send(many);
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kPreauthBytes);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("* BYE Too much data before login\r\n")) << received_;
  EXPECT_FALSE(Received("n21 OK"));
}

TEST_F(ClientFrontendTest, PreauthTimeoutSaysBye) {
  options_.preauth_timeout = 50ms;
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  EXPECT_FALSE(delegate_.ended.has_value());
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kTimeout);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("* BYE Pre-authentication timeout\r\n")) << received_;
}

TEST_F(ClientFrontendTest, ClientEofEndsWithClientClosed) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  shutdown(peer_.get(), SHUT_WR);
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kClientClosed);
}

TEST_F(ClientFrontendTest, ShutdownSaysBye) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  frontend_->Shutdown("Server shutting down");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kShutdown);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("* BYE Server shutting down\r\n"));
}

TEST_F(ClientFrontendTest, SynchronizingLiteralGetsContinuation) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  TakeReceived();
  Send("l1 LOGIN {5}\r\n");
  ASSERT_TRUE(Receive("+ "));
  EXPECT_EQ(received_.substr(0, 2), "+ ");
  TakeReceived();
  Send("alice {6}\r\n");
  ASSERT_TRUE(Receive("+ "));
  TakeReceived();
  Send("secret\r\n");
  ASSERT_TRUE(Receive("l1 NO [PRIVACYREQUIRED]"));  // still cleartext
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, SlowReaderReceivesEveryAnswer) {
  // A tiny send buffer and a client that does not read: the frontend's writes return EAGAIN
  // and it must keep the rest until the socket drains.
  StartFrontend(false, /*sndbuf=*/4096);
  std::string commands;
  constexpr int kCount = 600;
  for (int i = 0; i < kCount; ++i) commands += "t" + std::to_string(i) + " NOOP\r\n";
  Send(commands);
  size_t expected_bytes = 0;
  for (int i = 0; i < kCount; ++i)
    expected_bytes += ("t" + std::to_string(i) + " OK NOOP completed\r\n").size();
  for (int i = 0; i < 50; ++i) PumpOnce();  // no ReadAvailable: the client is slow
  int queued = 0;
  ASSERT_EQ(ioctl(peer_.get(), FIONREAD, &queued), 0);
  EXPECT_LT(static_cast<size_t>(queued), expected_bytes);  // the frontend really had to wait
  ASSERT_TRUE(Receive("t" + std::to_string(kCount - 1) + " OK NOOP completed\r\n"));
  size_t answers = 0;
  for (size_t pos = 0; (pos = received_.find(" OK NOOP completed\r\n", pos)) != std::string::npos;
       ++pos) {
    ++answers;
  }
  EXPECT_EQ(answers, static_cast<size_t>(kCount));
  EXPECT_FALSE(delegate_.ended.has_value());
}

// --- STARTTLS -----------------------------------------------------------------------------------

TEST_F(ClientFrontendTest, StartTlsWithPipelinedCommandIsRefused) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  Send("a STARTTLS\r\nb NOOP\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kStartTlsInjection);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("* BYE ")) << received_;
  EXPECT_FALSE(Received("b OK")) << received_;
  EXPECT_FALSE(Received("a OK")) << received_;
  EXPECT_EQ(delegate_.handshakes_ok, 0);
}

TEST_F(ClientFrontendTest, StartTlsUpgradesAndResetsPreTlsState) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  Send("c0 CAPABILITY\r\n");
  ASSERT_TRUE(Receive("c0 OK"));
  TakeReceived();
  Send("a STARTTLS\r\n");
  ASSERT_TRUE(Receive("\r\n"));
  EXPECT_EQ(received_, "a OK Begin TLS negotiation now\r\n");
  TakeReceived();

  ASSERT_TRUE(ClientHandshake());
  ASSERT_TRUE(PumpUntil([&] { return delegate_.handshakes_ok == 1; }));
  EXPECT_EQ(frontend_->TlsVersion(), "TLSv1.3");
  ASSERT_EQ(delegate_.tls_events.size(), 1u);
  EXPECT_TRUE(delegate_.tls_events[0].starttls);  // counted as a STARTTLS upgrade
  EXPECT_EQ(delegate_.tls_events[0].version, "tls1_3");
  PumpFor(10ms);
  EXPECT_EQ(received_, "");  // no second greeting after STARTTLS: the client speaks first

  Send("c1 CAPABILITY\r\n");
  ASSERT_TRUE(Receive("c1 OK"));
  EXPECT_TRUE(Received("AUTH=PLAIN")) << received_;
  EXPECT_FALSE(Received("STARTTLS")) << received_;
  EXPECT_FALSE(Received("LOGINDISABLED")) << received_;
  TakeReceived();

  Send("a2 STARTTLS\r\n");
  ASSERT_TRUE(Receive("a2 BAD"));

  Send("l1 LOGIN alice secret\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice");
  EXPECT_EQ(delegate_.logins[0].password.view(), "secret");
}

TEST_F(ClientFrontendTest, CommandRightBehindTheClientFinishedIsAnswered) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  Send("a STARTTLS\r\n");
  ASSERT_TRUE(Receive("Begin TLS negotiation now\r\n"));
  TakeReceived();
  // ClientHandshake returns as soon as the client sent its Finished; the command follows it at
  // once, before the frontend has turned the loop to complete its side.
  ASSERT_TRUE(ClientHandshake());
  Send("c1 CAPABILITY\r\n");
  ASSERT_TRUE(Receive("c1 OK"));
  EXPECT_EQ(delegate_.handshakes_ok, 1);
}

TEST_F(ClientFrontendTest, StartTlsOnImplicitTlsIsBad) {
  StartImplicitTls();
  Send("s STARTTLS\r\n");
  ASSERT_TRUE(Receive("s BAD"));
  EXPECT_FALSE(delegate_.ended.has_value());
}

// --- Implicit TLS -------------------------------------------------------------------------------

TEST_F(ClientFrontendTest, ImplicitTlsGreetingOffersAuthPlainWithoutStartTls) {
  StartFrontend(/*implicit_tls=*/true);
  ASSERT_TRUE(ClientHandshake());
  ASSERT_TRUE(Receive("ready\r\n"));
  EXPECT_EQ(received_,
            "* OK [CAPABILITY IMAP4rev1 ID LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN] imapgate ready\r\n");
  EXPECT_EQ(delegate_.handshakes_ok, 1);
  EXPECT_EQ(frontend_->TlsVersion(), "TLSv1.3");
  ASSERT_EQ(delegate_.tls_events.size(), 1u);
  EXPECT_EQ(delegate_.tls_events[0].version, "tls1_3");
  EXPECT_FALSE(delegate_.tls_events[0].starttls);
  EXPECT_FALSE(delegate_.tls_events[0].resumed);
}

TEST_F(ClientFrontendTest, GarbageInsteadOfClientHelloFailsTls) {
  StartFrontend(true);
  Send("a1 CAPABILITY\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kTlsFailed);
  EXPECT_EQ(delegate_.handshakes_failed, 1);
  ASSERT_EQ(delegate_.tls_events.size(), 1u);
  EXPECT_EQ(delegate_.tls_events[0].failure, "other");  // not TLS at all
}

TEST_F(ClientFrontendTest, SilentClientHitsHandshakeTimeout) {
  options_.tls_handshake_timeout = 50ms;
  StartFrontend(true);
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kTimeout);
  EXPECT_EQ(delegate_.handshakes_ok, 0);
  // A handshake cut by its timeout is a failed handshake, reason "timeout".
  EXPECT_EQ(delegate_.handshakes_failed, 1);
  ASSERT_EQ(delegate_.tls_events.size(), 1u);
  EXPECT_EQ(delegate_.tls_events[0].failure, "timeout");
}

TEST_F(ClientFrontendTest, LoginAfterTlsIsRequestedAndNothingMoreIsRead) {
  StartImplicitTls();
  Send("l1 LOGIN alice \"pass word\"\r\n");
  ASSERT_TRUE(WaitLogin());
  ASSERT_EQ(delegate_.logins.size(), 1u);
  EXPECT_EQ(delegate_.logins[0].tag, "l1");
  EXPECT_EQ(delegate_.logins[0].mechanism, "LOGIN");
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice");
  EXPECT_EQ(delegate_.logins[0].password.view(), "pass word");
  Send("n1 NOOP\r\n");
  PumpFor(30ms);
  EXPECT_EQ(received_, "");  // awaiting the owner: no answer to l1, and n1 not processed
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_TRUE(Received("l1 NO [AUTHENTICATIONFAILED] ")) << received_;
  EXPECT_LT(received_.find("l1 NO"), received_.find("n1 OK"));
}

TEST_F(ClientFrontendTest, RejectedLoginResumesReadingUntilAttemptsRunOut) {
  options_.max_auth_attempts = 2;
  StartImplicitTls();
  Send("l1 LOGIN alice wrong\r\n");
  ASSERT_TRUE(WaitLogin(1));
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(Receive("l1 NO [AUTHENTICATIONFAILED]"));
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_FALSE(delegate_.ended.has_value());

  Send("l2 LOGIN alice wrong-again\r\n");
  ASSERT_TRUE(WaitLogin(2));
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kAuthAttempts);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("l2 NO [AUTHENTICATIONFAILED]")) << received_;
  EXPECT_TRUE(Received("* BYE Too many authentication failures\r\n")) << received_;
}

TEST_F(ClientFrontendTest, UnavailableBackendIsNotAnAuthFailure) {
  options_.max_auth_attempts = 1;
  StartImplicitTls();
  Send("l1 LOGIN alice secret\r\n");
  ASSERT_TRUE(WaitLogin(1));
  frontend_->LoginRejected(LoginRejection::kUnavailable);
  ASSERT_TRUE(Receive("l1 NO [UNAVAILABLE]"));
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_FALSE(delegate_.ended.has_value());
}

TEST_F(ClientFrontendTest, LoginRejectedWithoutPendingLoginIsIgnored) {
  StartImplicitTls();
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  PumpFor(10ms);
  EXPECT_EQ(received_, "");
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
}

TEST_F(ClientFrontendTest, TakeConnectionHandsOverOutputAndPipelinedInput) {
  StartImplicitTls();
  Send("l1 LOGIN alice secret\r\nn1 NOOP\r\ns1 SELECT INBOX\r\n");
  ASSERT_TRUE(WaitLogin());
  auto taken = frontend_->TakeConnection("IMAP4rev1 IDLE");
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  ClientConnection conn = std::move(*taken);
  EXPECT_EQ(conn.connection.queued_output(), "l1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
  EXPECT_EQ(AsString(conn.pipelined_input), "n1 NOOP\r\ns1 SELECT INBOX\r\n");
  ASSERT_TRUE(conn.connection.open());
  ASSERT_NE(conn.connection.watcher_ptr(), nullptr);
  EXPECT_EQ(conn.connection.transport().ProtocolName(), "TLSv1.3");
  // Handed over still registered for reading (the relay needs no epoll_ctl to take it).
  EXPECT_TRUE(conn.connection.watcher().wants_read());
  // The frontend is inert: more client bytes and loop turns reach nobody, nothing is answered,
  // and the ownerless watcher disarms itself instead of firing on every loop turn.
  Send("n2 NOOP\r\n");
  PumpFor(20ms);
  EXPECT_EQ(received_, "");
  EXPECT_FALSE(delegate_.ended.has_value());
  EXPECT_FALSE(conn.connection.watcher().wants_read());
  frontend_.reset();  // the connection outlives the frontend
  EXPECT_EQ(conn.connection.Flush(), net::IoStatus::kOk);
  ASSERT_TRUE(Receive("Logged in\r\n"));
}

TEST_F(ClientFrontendTest, AuthenticatePlainWithInitialResponse) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].tag, "a1");
  EXPECT_EQ(delegate_.logins[0].mechanism, "PLAIN");
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice");
  EXPECT_EQ(delegate_.logins[0].password.view(), "secret");
  EXPECT_FALSE(Received("+ "));
}

TEST_F(ClientFrontendTest, AuthenticatePlainWithContinuation) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  EXPECT_TRUE(delegate_.logins.empty());
  Send("YWxpY2UAYWxpY2UAc2VjcmV0\r\n");  // authzid == authcid is allowed
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].tag, "a1");
  EXPECT_EQ(delegate_.logins[0].mechanism, "PLAIN");
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice");
  EXPECT_EQ(delegate_.logins[0].password.view(), "secret");
}

TEST_F(ClientFrontendTest, AuthenticateCancelledIsBad) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  Send("*\r\n");
  ASSERT_TRUE(Receive("a1 BAD"));
  Send("n1 NOOP\r\n");  // back to commands
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AuthenticateWithInvalidBase64IsBad) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  Send("!!!not-base64!!!\r\n");
  ASSERT_TRUE(Receive("a1 BAD"));
  Send("a2 AUTHENTICATE PLAIN %%%%\r\n");
  ASSERT_TRUE(Receive("a2 BAD"));
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AuthenticateAsAnotherUserIsRefused) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n");  // authzid bob, authcid alice
  ASSERT_TRUE(Receive("a1 NO [AUTHENTICATIONFAILED]"));
  PumpFor(10ms);
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, RefusedAuthzidCountsAsAFailedAuthentication) {
  options_.max_auth_attempts = 2;
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n");
  ASSERT_TRUE(Receive("a1 NO [AUTHENTICATIONFAILED]"));
  Send("a2 AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kAuthAttempts);
  EXPECT_TRUE(Received("* BYE Too many authentication failures")) << received_;
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AuthenticateUnsupportedMechanismIsRefused) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE CRAM-MD5\r\n");
  ASSERT_TRUE(Receive("a1 NO"));
  EXPECT_FALSE(Received("+ "));
  EXPECT_TRUE(delegate_.logins.empty());
}

// --- SASL mechanisms (issue B) ----------------------------------------------------------------

std::string B64(std::string_view s) { return imap::EncodeBase64(s); }

TEST_F(ClientFrontendTest, AllowedMechanismsAreAdvertisedAfterTlsOnly) {
  options_.sasl_mechanisms = {"PLAIN", "XOAUTH2", "OAUTHBEARER"};
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  EXPECT_EQ(TakeReceived(), std::string("* OK [CAPABILITY ") + kCleartextCaps + "] imapgate ready\r\n");
  Send("c0 CAPABILITY\r\n");
  ASSERT_TRUE(Receive("c0 OK"));
  EXPECT_FALSE(Received("AUTH=")) << received_;
  EXPECT_FALSE(Received("SASL-IR")) << received_;
  TakeReceived();
  Send("s STARTTLS\r\n");
  ASSERT_TRUE(Receive("s OK"));
  TakeReceived();
  ASSERT_TRUE(ClientHandshake());
  Send("c1 CAPABILITY\r\n");
  ASSERT_TRUE(Receive("c1 OK"));
  EXPECT_EQ(TakeReceived(),
            "* CAPABILITY IMAP4rev1 ID LITERAL+ SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n"
            "c1 OK Capability completed\r\n");
}

TEST_F(ClientFrontendTest, ImplicitTlsGreetingListsTheConfiguredMechanisms) {
  options_.sasl_mechanisms = {"XOAUTH2"};
  StartFrontend(true);
  ASSERT_TRUE(ClientHandshake());
  ASSERT_TRUE(Receive("ready\r\n"));
  EXPECT_EQ(received_, "* OK [CAPABILITY IMAP4rev1 ID LITERAL+ SASL-IR AUTH=XOAUTH2] imapgate ready\r\n");
}

TEST_F(ClientFrontendTest, AnUnknownMechanismInTheOptionsIsRefusedAtCreate) {
  options_.sasl_mechanisms = {"PLAIN", "CRAM-MD5"};
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  net::UniqueFd keep(fds[1]);
  auto f = ClientFrontend::Create(loop_.get(), net::UniqueFd(fds[0]), options_, &delegate_, scratch_.data(),
                                  scratch_.size());
  EXPECT_FALSE(f.ok());
}

TEST_F(ClientFrontendTest, AMechanismNotAllowedIsRefusedWithCannotAndCountedBad) {
  options_.sasl_mechanisms = {"PLAIN"};
  options_.max_bad_commands = 2;
  StartImplicitTls();
  Send("a1 AUTHENTICATE LOGIN\r\n");
  ASSERT_TRUE(Receive("a1 NO [CANNOT] Unsupported authentication mechanism\r\n")) << received_;
  EXPECT_FALSE(Received("+ "));
  Send("a2 AUTHENTICATE XOAUTH2 " + B64("user=alice\x01" "auth=Bearer tok\x01\x01") + "\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kBadCommands);
  EXPECT_TRUE(Received("a2 NO [CANNOT]")) << received_;
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AuthenticateLoginAsksForUserThenPassword) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE LOGIN\r\n");
  ASSERT_TRUE(Receive("+ VXNlcm5hbWU6\r\n")) << received_;
  EXPECT_EQ(TakeReceived(), "+ VXNlcm5hbWU6\r\n");
  Send(B64("alice") + "\r\n");
  ASSERT_TRUE(Receive("+ UGFzc3dvcmQ6\r\n")) << received_;
  EXPECT_TRUE(delegate_.logins.empty());
  Send(B64("secret") + "\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].tag, "a1");
  EXPECT_EQ(delegate_.logins[0].mechanism, "SASL-LOGIN");
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice");
  EXPECT_EQ(delegate_.logins[0].password.view(), "secret");
  EXPECT_FALSE(delegate_.logins[0].bearer);
  EXPECT_TRUE(delegate_.logins[0].authzid.empty());
}

TEST_F(ClientFrontendTest, AuthenticateLoginWithInitialResponseCarriesTheUser) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE LOGIN " + B64("alice") + "\r\n");
  ASSERT_TRUE(Receive("+ UGFzc3dvcmQ6\r\n")) << received_;
  EXPECT_FALSE(Received("VXNlcm5hbWU6"));
  Send(B64("secret") + "\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].mechanism, "SASL-LOGIN");
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice");
  EXPECT_EQ(delegate_.logins[0].password.view(), "secret");
}

TEST_F(ClientFrontendTest, AuthenticateLoginCancelledAtEachContinuation) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE LOGIN\r\n");
  ASSERT_TRUE(Receive("+ VXNlcm5hbWU6\r\n"));
  Send("*\r\n");
  ASSERT_TRUE(Receive("a1 BAD AUTHENTICATE cancelled\r\n")) << received_;
  Send("a2 AUTHENTICATE LOGIN\r\n");
  ASSERT_TRUE(Receive("+ VXNlcm5hbWU6\r\n"));
  Send(B64("alice") + "\r\n");
  ASSERT_TRUE(Receive("+ UGFzc3dvcmQ6\r\n"));
  Send("*\r\n");
  ASSERT_TRUE(Receive("a2 BAD AUTHENTICATE cancelled\r\n")) << received_;
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_TRUE(delegate_.logins.empty());
  // A cancelled exchange leaves nothing behind: the next LOGIN exchange starts from the user.
  Send("a3 AUTHENTICATE LOGIN " + B64("bob") + "\r\n");
  ASSERT_TRUE(Receive("+ UGFzc3dvcmQ6\r\n"));
  Send(B64("pw") + "\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].user.view(), "bob");
}

TEST_F(ClientFrontendTest, AuthenticateLoginWithBadBase64OrEmptyFieldsIsBad) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE LOGIN\r\n");
  ASSERT_TRUE(Receive("+ VXNlcm5hbWU6\r\n"));
  Send("YWxpY2U\r\n");  // missing padding
  ASSERT_TRUE(Receive("a1 BAD Invalid base64 in SASL response\r\n")) << received_;
  Send("a2 AUTHENTICATE LOGIN =\r\n");  // empty user name
  ASSERT_TRUE(Receive("a2 BAD Invalid SASL LOGIN user name\r\n")) << received_;
  Send("a3 AUTHENTICATE LOGIN " + B64("alice") + "\r\n");
  ASSERT_TRUE(Receive("+ UGFzc3dvcmQ6\r\n"));
  Send(B64(std::string("se\0cret", 7)) + "\r\n");
  ASSERT_TRUE(Receive("a3 BAD Invalid SASL LOGIN password\r\n")) << received_;
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AuthenticateXoauth2WithAndWithoutInitialResponse) {
  options_.sasl_mechanisms = {"XOAUTH2"};
  StartImplicitTls();
  const std::string msg = B64("user=alice@example.com\x01" "auth=Bearer ya29.tok\x01\x01");
  Send("a1 AUTHENTICATE XOAUTH2 " + msg + "\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_FALSE(Received("+ "));
  EXPECT_EQ(delegate_.logins[0].tag, "a1");
  EXPECT_EQ(delegate_.logins[0].mechanism, "XOAUTH2");
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice@example.com");
  EXPECT_EQ(delegate_.logins[0].password.view(), "ya29.tok");
  EXPECT_TRUE(delegate_.logins[0].bearer);
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(Receive("a1 NO"));
  TakeReceived();
  Send("a2 AUTHENTICATE XOAUTH2\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  Send(msg + "\r\n");
  ASSERT_TRUE(WaitLogin(2));
  EXPECT_EQ(delegate_.logins[1].tag, "a2");
  EXPECT_EQ(delegate_.logins[1].password.view(), "ya29.tok");
  EXPECT_TRUE(delegate_.logins[1].bearer);
}

TEST_F(ClientFrontendTest, AuthenticateOauthBearerWithAndWithoutInitialResponse) {
  options_.sasl_mechanisms = {"OAUTHBEARER"};
  StartImplicitTls();
  const std::string msg =
      B64("n,a=alice@example.com,\x01host=imap.example.com\x01port=993\x01" "auth=Bearer tok\x01\x01");
  Send("a1 AUTHENTICATE OAUTHBEARER " + msg + "\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].mechanism, "OAUTHBEARER");
  EXPECT_EQ(delegate_.logins[0].user.view(), "alice@example.com");
  EXPECT_EQ(delegate_.logins[0].password.view(), "tok");
  EXPECT_TRUE(delegate_.logins[0].authzid.empty());  // the authzid is the user, not another one
  EXPECT_TRUE(delegate_.logins[0].bearer);
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(Receive("a1 NO"));
  Send("a2 AUTHENTICATE OAUTHBEARER\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  Send(msg + "\r\n");
  ASSERT_TRUE(WaitLogin(2));
  EXPECT_EQ(delegate_.logins[1].tag, "a2");
  EXPECT_TRUE(delegate_.logins[1].bearer);
}

TEST_F(ClientFrontendTest, BearerMechanismsCancelledAndMalformedAreBad) {
  options_.sasl_mechanisms = {"XOAUTH2", "OAUTHBEARER"};
  StartImplicitTls();
  Send("a1 AUTHENTICATE XOAUTH2\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  Send("*\r\n");
  ASSERT_TRUE(Receive("a1 BAD AUTHENTICATE cancelled\r\n"));
  Send("a2 AUTHENTICATE OAUTHBEARER\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  Send("*\r\n");
  ASSERT_TRUE(Receive("a2 BAD AUTHENTICATE cancelled\r\n"));
  Send("a3 AUTHENTICATE XOAUTH2 " + B64("user=alice\x01" "auth=Basic dTpw\x01\x01") + "\r\n");
  ASSERT_TRUE(Receive("a3 BAD Invalid SASL XOAUTH2 message\r\n")) << received_;
  Send("a4 AUTHENTICATE OAUTHBEARER " + B64("p=tls-unique,a=alice,\x01" "auth=Bearer t\x01\x01") + "\r\n");
  ASSERT_TRUE(Receive("a4 BAD Invalid SASL OAUTHBEARER message\r\n")) << received_;
  Send("a5 AUTHENTICATE OAUTHBEARER !!!!\r\n");
  ASSERT_TRUE(Receive("a5 BAD")) << received_;
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, PlainCancelledAfterTheEmptyChallengeAndMalformedMessage) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN " + B64("alice") + "\r\n");  // no NULs
  ASSERT_TRUE(Receive("a1 BAD Invalid SASL PLAIN message\r\n")) << received_;
  Send("a2 AUTHENTICATE PLAIN =\r\n");
  ASSERT_TRUE(Receive("a2 BAD Invalid SASL PLAIN message\r\n")) << received_;
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AuthzidIsPassedOnWhenAllowed) {
  options_.allow_authzid = true;
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN " + B64(std::string("bob\0master\0mpw", 14)) + "\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].mechanism, "PLAIN");
  EXPECT_EQ(delegate_.logins[0].authzid.view(), "bob");
  EXPECT_EQ(delegate_.logins[0].user.view(), "master");
  EXPECT_EQ(delegate_.logins[0].password.view(), "mpw");
}

TEST_F(ClientFrontendTest, AnAuthzidEqualToTheUserIsNoAuthzid) {
  options_.allow_authzid = true;
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN " + B64(std::string("alice\0alice\0pw", 14)) + "\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_TRUE(delegate_.logins[0].authzid.empty());
}

TEST_F(ClientFrontendTest, TheImapLoginCommandIsMechanismLogin) {
  options_.sasl_mechanisms = {"XOAUTH2"};  // the list governs AUTHENTICATE only
  StartImplicitTls();
  Send("l1 LOGIN alice secret\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_EQ(delegate_.logins[0].mechanism, "LOGIN");
  EXPECT_FALSE(delegate_.logins[0].bearer);
}

TEST_F(ClientFrontendTest, AnOversizedSaslResponseIsBadAndEndsTheSession) {
  options_.parser.max_line_bytes = 256;
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN\r\n");
  ASSERT_TRUE(Receive("+ \r\n"));
  Send(std::string(400, 'A') + "\r\nn1 NOOP\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kProtocolError);
  ASSERT_TRUE(WaitPeerEof());
  EXPECT_TRUE(Received("a1 BAD SASL response too long\r\n* BYE SASL response too long\r\n")) << received_;
  EXPECT_FALSE(Received("n1 OK"));
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AnOversizedLoginPasswordLineEndsTheSession) {
  options_.parser.max_line_bytes = 256;
  StartImplicitTls();
  Send("a1 AUTHENTICATE LOGIN " + B64("alice") + "\r\n");
  ASSERT_TRUE(Receive("+ UGFzc3dvcmQ6\r\n"));
  Send(std::string(300, 'A'));  // no line end yet: the bound holds on a partial line too
  ASSERT_TRUE(WaitEnded());
  EXPECT_TRUE(Received("a1 BAD SASL response too long")) << received_;
  EXPECT_TRUE(delegate_.logins.empty());
}

TEST_F(ClientFrontendTest, AuthenticateBeforeTlsIsRefusedForEveryMechanism) {
  options_.sasl_mechanisms = {"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"};
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  TakeReceived();  // the greeting's "LITERAL+ " is no continuation
  Send("a1 AUTHENTICATE LOGIN\r\na2 AUTHENTICATE XOAUTH2\r\na3 AUTHENTICATE OAUTHBEARER\r\n");
  ASSERT_TRUE(Receive("a3 NO"));
  EXPECT_TRUE(Received("a1 NO [PRIVACYREQUIRED]"));
  EXPECT_TRUE(Received("a2 NO [PRIVACYREQUIRED]"));
  EXPECT_TRUE(Received("a3 NO [PRIVACYREQUIRED]"));
  EXPECT_FALSE(Received("+ "));
  EXPECT_EQ(delegate_.cleartext_refused, 3);
}

// --- Issue I: hardening ---------------------------------------------------------------------

// An RFC 2971 maximal ID: 30 pairs of 30-octet keys and 1024-octet values (~31.8 KB).
std::string MaximalId(const std::string& tag, size_t pairs = 30) {
  std::string line = tag + " ID (";
  for (size_t i = 0; i < pairs; ++i) {
    std::string key = "k" + std::to_string(i);
    key.resize(30, 'k');
    if (i > 0) line += ' ';
    line += "\"" + key + "\" \"" + std::string(1024, 'v') + "\"";
  }
  return line + ")\r\n";
}

TEST_F(ClientFrontendTest, MaximalIdBeforeLoginIsAnsweredAndLoginFollows) {
  StartImplicitTls();
  const std::string id = MaximalId("i1");
  ASSERT_GT(id.size(), options_.parser.max_line_bytes);  // longer than any other command may be
  Send(id);
  ASSERT_TRUE(Receive("i1 OK ID completed\r\n")) << received_;
  Send("l1 LOGIN alice secret\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_FALSE(delegate_.ended.has_value());
}

TEST(FrontendDefaultsTest, AMaximalIdAndALoginFitThePreauthByteBudget) {
  // The defaults must agree: the ID bound is above the line bound, and a maximal ID plus a
  // LOGIN with the longest user and password fits the bytes allowed before login.
  FrontendOptions o;
  EXPECT_GT(o.parser.max_id_line_bytes, o.parser.max_line_bytes);
  EXPECT_GE(o.parser.max_id_line_bytes, MaximalId(std::string(64, 't')).size() - 2);
  EXPECT_GE(o.max_preauth_bytes, o.parser.max_id_line_bytes + 2 + 2048);
}

TEST_F(ClientFrontendTest, IdWithTooManyPairsIsStillBad) {
  StartImplicitTls();
  std::string id = "i1 ID (";
  for (int i = 0; i < 31; ++i) id += (i ? " \"k" : "\"k") + std::to_string(i) + "\" \"v\"";
  Send(id + ")\r\n");
  ASSERT_TRUE(Receive("i1 BAD Too many ID parameters\r\n")) << received_;
  EXPECT_FALSE(delegate_.ended.has_value());
}

TEST_F(ClientFrontendTest, IdPastTheIdBoundEndsTheSession) {
  StartImplicitTls();
  Send(MaximalId("i1", 31));  // ~32.9 KB: past the 32 KiB ID bound
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kLineTooLong);
}

TEST_F(ClientFrontendTest, NonIdCommandPastTheLineBoundStillEndsTheSession) {
  StartImplicitTls();
  Send("n1 NOOP " + std::string(9000, 'x') + "\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kLineTooLong);
}

TEST_F(ClientFrontendTest, FailedStartTlsUpgradeEndsWithoutCrashing) {
  // No TLS context: the TLS transport cannot be made after the transport was released. The
  // frontend must end the session without touching the (null) transport.
  options_.tls = nullptr;
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  Send("a STARTTLS\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kInternalError);
  EXPECT_EQ(delegate_.ended_calls, 1);
  EXPECT_EQ(frontend_->fd(), -1);
  ASSERT_TRUE(WaitPeerEof());  // the socket was closed
  PumpFor(10ms);
  EXPECT_EQ(delegate_.ended_calls, 1);
}

// Writes to the frontend's own socket until the kernel takes no more, so that whatever the
// frontend writes next stays queued until the client reads.
void FillSocket(int fd) {
  std::string junk(4096, 'j');
  while (send(fd, junk.data(), junk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
  }
}

TEST_F(ClientFrontendTest, TakeConnectionIsRefusedWhileAPreauthTimeoutByeIsFlushed) {
  ManualTimeSource clock;
  options_.time = &clock;
  options_.preauth_timeout = 60s;
  StartFrontend(true);
  clock.Advance(59s);  // the connection has 1 s of pre-auth time left
  ASSERT_TRUE(ClientHandshake());
  ASSERT_TRUE(Receive("ready\r\n"));
  Send("l1 LOGIN alice secret\r\n");
  ASSERT_TRUE(WaitLogin());
  ASSERT_TRUE(frontend_->AwaitingLogin());
  FillSocket(frontend_->fd());  // the client does not read: the BYE will stay queued
  ASSERT_TRUE(PumpWithoutReadingUntil([&] { return !frontend_->AwaitingLogin(); }));
  EXPECT_FALSE(delegate_.ended.has_value());  // closing: the BYE is still being flushed
  // The backend login succeeds now: the closing session must not become a relay.
  auto taken = frontend_->TakeConnection("IMAP4rev1");
  EXPECT_FALSE(taken.ok());
  EXPECT_NE(frontend_->fd(), -1);  // the frontend still owns the connection
  // The client drains its socket: the frontend finishes its close as a timeout.
  char buf[65536];
  ASSERT_TRUE(PumpWithoutReadingUntil([&] {
    while (recv(peer_.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
    return delegate_.ended.has_value();
  }));
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kTimeout);
}

TEST_F(ClientFrontendTest, TakeConnectionAfterTheSessionEndedIsRefused) {
  StartImplicitTls();
  frontend_->Shutdown("Server shutting down");
  ASSERT_TRUE(WaitEnded());
  EXPECT_FALSE(frontend_->TakeConnection("IMAP4rev1").ok());
}

TEST_F(ClientFrontendTest, StartTlsDoesNotRestartThePreauthTimer) {
  ManualTimeSource clock;
  options_.time = &clock;
  options_.preauth_timeout = 60s;
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  clock.Advance(59s);  // STARTTLS at 59 s: one second of the connection's budget is left
  Send("a STARTTLS\r\n");
  ASSERT_TRUE(Receive("Begin TLS negotiation now\r\n"));
  (void)ClientHandshake();  // on a loaded machine the deadline may even cut the handshake
  // Not 60 s from the STARTTLS (the test would give up after 3 s): the BYE comes at 60 s.
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kTimeout);
}

TEST_F(ClientFrontendTest, ImplicitTlsHandshakeCountsTowardsThePreauthTime) {
  ManualTimeSource clock;
  options_.time = &clock;
  options_.preauth_timeout = 60s;
  StartFrontend(true);
  clock.Advance(59900ms);  // 100 ms left: the handshake may finish or be cut, never extend it
  (void)ClientHandshake();
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kTimeout);
}

TEST_F(ClientFrontendTest, RepliesToAClientThatDoesNotReadAreBounded) {
  // A client that sends many commands and never reads: the frontend stops answering (and
  // reading) once max_queued_reply_bytes wait, instead of queueing a reply per command.
  options_.max_queued_reply_bytes = 4096;
  StartFrontend(false, /*sndbuf=*/4096);
  ASSERT_TRUE(Receive("ready\r\n"));
  TakeReceived();
  std::string commands;
  constexpr int kCount = 1500;  // ~25 KB of commands, ~150 KB of replies
  for (int i = 0; i < kCount; ++i) commands += "c" + std::to_string(i) + " CAPABILITY\r\n";
  Send(commands);
  for (int i = 0; i < 300; ++i) PumpOnce();  // no ReadAvailable: the client does not read
  EXPECT_LE(frontend_->queued_output_bytes(), options_.max_queued_reply_bytes + 200);
  int in_kernel = 0;
  ASSERT_EQ(ioctl(peer_.get(), FIONREAD, &in_kernel), 0);
  EXPECT_LT(static_cast<size_t>(in_kernel), 64u * 1024);
  EXPECT_FALSE(delegate_.ended.has_value());
  // Once the client reads, every command is answered, in order.
  ASSERT_TRUE(Receive("c" + std::to_string(kCount - 1) + " OK Capability completed\r\n"));
  size_t answers = 0;
  for (size_t pos = 0; (pos = received_.find(" OK Capability completed\r\n", pos)) != std::string::npos;
       ++pos) {
    ++answers;
  }
  EXPECT_EQ(answers, static_cast<size_t>(kCount));
}

TEST_F(ClientFrontendTest, AClientThatNeverReadsStillHitsThePreauthTimeout) {
  options_.max_queued_reply_bytes = 4096;
  options_.preauth_timeout = 100ms;
  StartFrontend(false, /*sndbuf=*/4096);
  std::string commands;
  constexpr int kCount = 1500;
  for (int i = 0; i < kCount; ++i) commands += "c" + std::to_string(i) + " CAPABILITY\r\n";
  Send(commands);
  const auto until = std::chrono::steady_clock::now() + 400ms;  // past the pre-auth timeout
  PumpWithoutReadingUntil([&] { return std::chrono::steady_clock::now() > until; });
  // The client finally reads: it gets the BYE, and not the answers to all it sent.
  ASSERT_TRUE(Receive("* BYE Pre-authentication timeout\r\n")) << received_.size();
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kTimeout);
  EXPECT_FALSE(Received("c" + std::to_string(kCount - 1) + " OK"));
}

TEST_F(ClientFrontendTest, StartTlsInjectionStillInTheKernelIsRefused) {
  // The frontend reads exactly the STARTTLS line (a 12-byte scratch buffer): the injected
  // command is not in the parser's buffer but still in the socket. Only the kernel peek sees it.
  scratch_.resize(12);
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  TakeReceived();
  Send("a STARTTLS\r\nb NOOP\r\n");
  ASSERT_TRUE(WaitEnded());
  EXPECT_EQ(*delegate_.ended, FrontendEnd::kStartTlsInjection);
  EXPECT_FALSE(Received("a OK")) << received_;
  EXPECT_EQ(delegate_.handshakes_ok, 0);
}

bool Contains(const std::vector<char>& haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

TEST_F(ClientFrontendTest, ScratchBufferIsWipedAfterEachCleartextRead) {
  StartFrontend(false);
  ASSERT_TRUE(Receive("ready\r\n"));
  Send("l1 LOGIN alice s3cr3t-pw\r\n");
  ASSERT_TRUE(Receive("l1 NO [PRIVACYREQUIRED]"));
  EXPECT_FALSE(Contains(scratch_, "s3cr3t-pw"));
  EXPECT_FALSE(Contains(scratch_, "LOGIN"));
}

TEST_F(ClientFrontendTest, ScratchBufferIsWipedAfterEachTlsRead) {
  StartImplicitTls();
  Send("l1 LOGIN alice s3cr3t-pw\r\n");
  ASSERT_TRUE(WaitLogin());
  EXPECT_FALSE(Contains(scratch_, "s3cr3t-pw"));
  Send("n1 NOOP\r\n");  // read while the login is pending: pipelined, kept in the parser only
  PumpFor(20ms);
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_FALSE(Contains(scratch_, "s3cr3t-pw"));
  EXPECT_FALSE(Contains(scratch_, "n1 NOOP"));
}

// --- Login steps: SASL continuation and a step's own timeout (login/login_pipeline.h) --------

TEST_F(ClientFrontendTest, ALoginStepCanAskTheClientForAContinuation) {
  StartImplicitTls();
  Send("a1 AUTHENTICATE PLAIN AGFsaWNlAHB3\r\n");
  ASSERT_TRUE(WaitLogin());
  frontend_->SendContinuation("Y2hhbGxlbmdl");
  ASSERT_TRUE(Receive("+ Y2hhbGxlbmdl\r\n")) << received_;
  EXPECT_TRUE(delegate_.continuations.empty());
  Send("cmVzcG9uc2U=\r\nn1 NOOP\r\n");
  ASSERT_TRUE(PumpUntil([&] { return !delegate_.continuations.empty(); }));
  EXPECT_EQ(delegate_.continuations[0], "cmVzcG9uc2U=");
  PumpFor(20ms);
  EXPECT_EQ(TakeReceived(), "+ Y2hhbGxlbmdl\r\n");  // back to waiting: n1 is not processed yet
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_TRUE(Received("a1 NO [AUTHENTICATIONFAILED]")) << received_;
}

TEST_F(ClientFrontendTest, AContinuationWithoutAPendingLoginIsIgnored) {
  StartImplicitTls();
  frontend_->SendContinuation("eA==");
  Send("n1 NOOP\r\n");
  ASSERT_TRUE(Receive("n1 OK"));
  EXPECT_FALSE(Received("+ eA=="));
}

TEST_F(ClientFrontendTest, ALongLoginStepExtendsThePreauthTimeout) {
  options_.preauth_timeout = 50ms;
  StartImplicitTls();
  Send("l1 LOGIN alice secret\r\n");
  ASSERT_TRUE(WaitLogin());
  frontend_->ExtendTimeout(5s);  // a push approval may take longer than the pre-login budget
  PumpFor(200ms);
  EXPECT_FALSE(delegate_.ended.has_value());
  EXPECT_FALSE(Received("* BYE"));
  frontend_->LoginRejected(LoginRejection::kAuthFailed);
  ASSERT_TRUE(Receive("l1 NO"));
}

}  // namespace
}  // namespace imapgate::frontend
