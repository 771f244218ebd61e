// Tests for upstream::BackendLogin against a scripted backend (scripted_backend.h): the LOGIN
// bytes (literals, with and without LITERAL+), capabilities after login, every failure outcome,
// the timeouts, STARTTLS (required, never opportunistic, plaintext after the OK discarded) and
// implicit TLS. Every test also checks that the completion never runs inside Start().

#include "upstream/backend_login.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/time_source.h"
#include "net/event_loop.h"
#include "scripted_backend.h"
#include "test_certs.h"
#include "tls/tls_context.h"

namespace imapgate::upstream {
namespace {

using namespace std::chrono_literals;
using Conn = ScriptedBackend::Conn;

constexpr char kLiteralPlusLogin[] = "A2 LOGIN {5+}\r\nalice {8+}\r\npassword\r\n";

class BackendLoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status().message();
    loop_ = std::move(*loop);
    target_ = TargetFor(backend_.port());
  }

  void TearDown() override { Finish(); }

  // Closes our side (the attempt, or the logged-in connection) and waits for the script to end.
  void Finish() {
    login_.reset();
    result_.reset();
    backend_.Join();
  }

  static BackendTarget TargetFor(uint16_t port) {
    BackendTarget t;
    auto address = net::ResolveAddress("127.0.0.1", port);
    EXPECT_TRUE(address.ok());
    if (address.ok()) t.address = *address;
    t.label = "127.0.0.1:" + std::to_string(port);
    t.server_name = "localhost";
    return t;
  }

  // Uses TLS towards the backend (mode kTls or kStartTls), verifying the test CA.
  void UseTls(BackendSecurityMode mode) {
    const auto& certs = testing::GetTestCerts();
    ASSERT_TRUE(certs.ok) << certs.error;
    auto client = tls::TlsClientContext::Create(certs.ca_cert, /*verify=*/true);
    ASSERT_TRUE(client.ok()) << client.status().message();
    client_ctx_ = std::move(*client);
    auto server = tls::TlsServerContext::Create(certs.server_cert, certs.server_key);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ctx_ = std::move(*server);
    target_.security = mode;
    target_.tls = client_ctx_.get();
  }

  void StartLogin(std::string_view user = "alice", std::string_view password = "password",
                  const ClientIdentity* client = nullptr) {
    StartWith(ClientOwnCredentials{SecretString(user), SecretString(password)}, client);
  }

  void StartWith(BackendCredentials credentials, const ClientIdentity* client = nullptr) {
    auto login = BackendLogin::Start(
        loop_.get(), time_, target_, std::move(credentials),
        [this](BackendLoginResult r) {
          ++done_calls_;
          result_ = std::move(r);
        },
        scratch_.data(), scratch_.size(), client);
    ASSERT_TRUE(login.ok()) << login.status().message();
    login_ = std::move(*login);
    ASSERT_NE(login_, nullptr);
    EXPECT_EQ(done_calls_, 0) << "the completion ran inside Start()";
  }

  // Turns the loop until the completion ran (about 5 s at most).
  bool WaitDone() {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!result_ && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
      if (!result_) std::this_thread::sleep_for(200us);
    }
    return result_.has_value();
  }

  // Runs a backend that sends `greeting` and records in after_greeting_ what it receives next.
  void GreetOnly(std::string greeting) {
    backend_.Run([this, greeting](Conn& c) {
      c.Send(greeting);
      after_greeting_ = c.ReadUntilClose();
    });
  }

  // Waits and checks the outcome; `detail` must occur in result_->detail.
  void ExpectOutcome(BackendOutcome outcome, std::string_view detail = "") {
    ASSERT_TRUE(WaitDone());
    EXPECT_EQ(result_->outcome, outcome) << result_->detail;
    EXPECT_NE(result_->detail.find(detail), std::string::npos) << result_->detail;
    EXPECT_EQ(done_calls_, 1);
    if (outcome != BackendOutcome::kLoggedIn) {
      EXPECT_FALSE(result_->connection.open());
    }
  }

  std::unique_ptr<net::EventLoop> loop_;
  ScriptedBackend backend_;
  BackendTarget target_;
  std::shared_ptr<tls::TlsClientContext> client_ctx_;
  std::shared_ptr<tls::TlsServerContext> server_ctx_;
  std::vector<char> scratch_ = std::vector<char>(65536);
  const TimeSource* time_ = &RealTimeSource::Get();
  BackendLoginPtr login_;
  std::optional<BackendLoginResult> result_;
  int done_calls_ = 0;
  std::string after_greeting_;  // what a GreetOnly backend received; read it after Finish()
};

// --- LOGIN ---------------------------------------------------------------------------------------

TEST_F(BackendLoginTest, LiteralPlusLoginWithCapabilitiesInTheOk) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    EXPECT_EQ(c.ReadLines(3), kLiteralPlusLogin);
    c.Send("A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
    EXPECT_EQ(c.ReadUntilClose(), "");  // nothing else: no CAPABILITY round trip
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->capabilities, "IMAP4rev1 IDLE");
  EXPECT_EQ(result_->leftover, "");
  ASSERT_TRUE(result_->connection.open());
  ASSERT_NE(result_->connection.watcher_ptr(), nullptr);
  EXPECT_EQ(result_->connection.transport().ProtocolName(), "none");
}

// --- ID forwarding (client_identity.h) -------------------------------------------------------

ClientIdentity TestIdentity() {
  ClientIdentity id;
  id.session_id = "s-0-1a";
  id.client = *net::ResolveAddress("192.0.2.7", 40001);
  id.local = *net::ResolveAddress("127.0.0.1", 993);
  id.tls = true;
  return id;
}

TEST_F(BackendLoginTest, BackendWithIdGetsTheClientIdentityBeforeLogin) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+ ID] hi\r\n");
    EXPECT_EQ(c.ReadLine(),
              "A4 ID (\"x-session-id\" \"s-0-1a\" \"x-originating-ip\" \"192.0.2.7\" "
              "\"x-originating-port\" \"40001\" \"x-connected-ip\" \"127.0.0.1\" \"x-connected-port\" "
              "\"993\" \"x-proxy-ttl\" \"5\" \"x-client-transport\" \"TLS\")\r\n");
    EXPECT_EQ(c.ReadLines(3), kLiteralPlusLogin);  // pipelined behind the ID, no round trip
    c.Send("* ID NIL\r\nA4 OK ID completed\r\nA2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
    c.ReadUntilClose();
  });
  ClientIdentity id = TestIdentity();
  StartLogin("alice", "password", &id);
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->leftover, "");  // the ID answer is consumed, not relayed to the client
}

TEST_F(BackendLoginTest, BackendWithoutIdGetsNoIdCommand) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    EXPECT_EQ(c.ReadLines(3), kLiteralPlusLogin);
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  ClientIdentity id = TestIdentity();
  StartLogin("alice", "password", &id);
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, IdRefusedByTheBackendDoesNotStopTheLogin) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 ID] hi\r\n");
    EXPECT_EQ(c.ReadLine().substr(0, 6), "A4 ID ");
    EXPECT_EQ(c.ReadLine(), "A2 LOGIN {5}\r\n");
    c.Send("A4 BAD not from you\r\n+ go ahead\r\n");
    EXPECT_EQ(c.ReadLine(), "alice {8}\r\n");
    c.Send("+ \r\n");
    EXPECT_EQ(c.ReadLine(), "password\r\n");
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  ClientIdentity id = TestIdentity();
  StartLogin("alice", "password", &id);
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, BytesAfterTheTaggedOkAreLeftOver) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    c.ReadLines(3);
    c.Send("A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n* 3 EXISTS\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->leftover, "* 3 EXISTS\r\n");
}

TEST_F(BackendLoginTest, WithoutLiteralPlusWaitsForEachContinuation) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A2 LOGIN {5}\r\n");
    EXPECT_TRUE(c.Quiet(50ms)) << "the user was sent before the continuation";
    c.Send("+ go ahead\r\n");
    EXPECT_EQ(c.ReadLine(), "alice {8}\r\n");
    EXPECT_TRUE(c.Quiet(50ms)) << "the password was sent before the continuation";
    c.Send("+ \r\n");
    EXPECT_EQ(c.ReadLine(), "password\r\n");
    c.Send("A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->capabilities, "IMAP4rev1 IDLE");
}

TEST_F(BackendLoginTest, CredentialsTravelVerbatimAsLiterals) {
  const std::string user = "al\"ice x";
  const std::string password = "p\\a\"ss\x01\xC3\xA9 {3}";
  backend_.Run([user, password](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    std::string expected = "A2 LOGIN {" + std::to_string(user.size()) + "+}\r\n" + user + " {" +
                           std::to_string(password.size()) + "+}\r\n" + password + "\r\n";
    EXPECT_EQ(c.ReadLines(3), expected);
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartLogin(user, password);
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, OkWithoutCapabilitiesAsksForThem) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] hi\r\n");
    EXPECT_EQ(c.ReadLines(3), kLiteralPlusLogin);
    c.Send("A2 OK Logged in\r\n");
    EXPECT_EQ(c.ReadLine(), "A3 CAPABILITY\r\n");
    c.Send("* CAPABILITY IMAP4rev1 IDLE MOVE\r\nA3 OK done\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->capabilities, "IMAP4rev1 IDLE MOVE");  // not the pre-login list
}

TEST_F(BackendLoginTest, NoAuthenticationFailedIsAuthFailed) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    c.ReadLines(3);
    c.Send("A2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kAuthFailed);
}

TEST_F(BackendLoginTest, NoUnavailableIsUnavailable) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    c.ReadLines(3);
    c.Send("A2 NO [UNAVAILABLE] Mailbox is being migrated\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable);
}

TEST_F(BackendLoginTest, BadAnswerToLoginIsUnavailable) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    c.ReadLines(3);
    c.Send("A2 BAD what\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable);
}

// --- Greetings that end the attempt before any credential is sent --------------------------------

TEST_F(BackendLoginTest, PreauthGreetingIsFatal) {
  GreetOnly("* PREAUTH [CAPABILITY IMAP4rev1] logged in as nobody\r\n");
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "PREAUTH");
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

TEST_F(BackendLoginTest, NonImapGreetingIsFatal) {
  GreetOnly("HTTP/1.1 200 OK\r\n");
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable);
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

TEST_F(BackendLoginTest, ByeGreetingIsFatal) {
  GreetOnly("* BYE Too many connections\r\n");
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "BYE");
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

TEST_F(BackendLoginTest, LoginDisabledGreetingIsFatal) {
  GreetOnly("* OK [CAPABILITY IMAP4rev1 LITERAL+ LOGINDISABLED] hi\r\n");
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "LOGINDISABLED");
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

TEST_F(BackendLoginTest, LiteralInGreetingIsFatal) {
  GreetOnly("* OK {5}\r\n");
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable);
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

TEST_F(BackendLoginTest, OverlongCompleteLineIsFatal) {
  target_.max_line_bytes = 100;
  target_.login_timeout = 1s;  // if the line is accepted, fail fast (on the detail)
  GreetOnly("* OK " + std::string(500, 'x') + "\r\n");
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "too long");
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

TEST_F(BackendLoginTest, OverlongUnterminatedLineIsFatal) {
  target_.max_line_bytes = 100;
  GreetOnly("* OK " + std::string(500, 'x'));
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "too long");
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

// --- Connection faults and timeouts
// ----------------------------------------------------------------

TEST_F(BackendLoginTest, ConnectionRefusedIsUnavailable) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);  // bound, never listened, closed: nothing accepts on this port
  target_ = TargetFor(ntohs(addr.sin_port));
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable);
}

TEST_F(BackendLoginTest, SilentBackendHitsLoginTimeout) {
  target_.login_timeout = 100ms;
  backend_.Run([](Conn& c) { c.ReadUntilClose(); });
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "login timeout");
}

TEST_F(BackendLoginTest, SilentBackendPastTheConnectTimeoutIsALoginTimeout) {
  // The connect is only seen complete when the greeting arrives; a backend that accepted and
  // says nothing must still be reported as a login timeout, not a connect timeout.
  target_.connect_timeout = 50ms;
  target_.login_timeout = 300ms;
  backend_.Run([](Conn& c) { c.ReadUntilClose(); });
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "login timeout");
}

TEST_F(BackendLoginTest, TheLoginDeadlineIsMeasuredOnTheInjectedClock) {
  // The timer only wakes the login up; whether the deadline passed is read from the TimeSource.
  ManualTimeSource manual;
  time_ = &manual;
  target_.connect_timeout = 20ms;
  target_.login_timeout = 40ms;
  backend_.Run([](Conn& c) { c.ReadUntilClose(); });  // accepts, never greets
  StartLogin();
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) {
    event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_FALSE(result_.has_value()) << "timed out on the real clock: " << result_->detail;
  manual.Advance(1s);
  ExpectOutcome(BackendOutcome::kUnavailable, "login timeout");
}

TEST_F(BackendLoginTest, BackendClosingDuringLoginIsUnavailable) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    c.ReadLines(3);
  });  // returns: the connection closes without an answer
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "closed");
}

TEST_F(BackendLoginTest, DestroyingTheAttemptCancelsItSilently) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1] hi\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  for (int i = 0; i < 50; ++i) {
    event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
    std::this_thread::sleep_for(200us);
  }
  login_.reset();
  for (int i = 0; i < 20; ++i) event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
  EXPECT_EQ(done_calls_, 0);
}

// --- Credential wipe and the credentials variant -----------------------------------------------

// Turns the loop until `flag` is set by the backend's script (about 5 s at most).
bool TurnUntil(net::EventLoop* loop, const std::atomic<bool>& flag) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!flag && std::chrono::steady_clock::now() < deadline) {
    event_base_loop(loop->base(), EVLOOP_NONBLOCK);
    if (!flag) std::this_thread::sleep_for(200us);
  }
  return flag;
}

TEST_F(BackendLoginTest, CredentialsAreWipedAsSoonAsTheLiteralPlusLoginIsSent) {
  std::atomic<bool> got_login{false}, checked{false};
  backend_.Run([&](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    EXPECT_EQ(c.ReadLines(3), "A2 LOGIN {5+}\r\nalice {9+}\r\npa55-w0rd\r\n");
    got_login = true;
    while (!checked) std::this_thread::sleep_for(200us);
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartLogin("alice", "pa55-w0rd");
  EXPECT_TRUE(login_->RetainsCredentials("pa55-w0rd"));
  ASSERT_TRUE(TurnUntil(loop_.get(), got_login));
  // The answer has not come yet: only the wipe after sending can have removed them.
  EXPECT_FALSE(login_->RetainsCredentials("pa55-w0rd"));
  EXPECT_FALSE(result_.has_value());
  checked = true;
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, CredentialsAreWipedAsSoonAsThePasswordLiteralIsSent) {
  std::atomic<bool> got_login{false}, checked{false};
  backend_.Run([&](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A2 LOGIN {5}\r\n");
    c.Send("+ \r\n");
    EXPECT_EQ(c.ReadLine(), "alice {9}\r\n");
    c.Send("+ \r\n");
    EXPECT_EQ(c.ReadLine(), "pa55-w0rd\r\n");
    got_login = true;
    while (!checked) std::this_thread::sleep_for(200us);
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartLogin("alice", "pa55-w0rd");
  ASSERT_TRUE(TurnUntil(loop_.get(), got_login));
  EXPECT_FALSE(login_->RetainsCredentials("pa55-w0rd"));
  checked = true;
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

MasterUserCredentials AliceMaster(MasterUserCredentials::Form form) {
  MasterUserCredentials m;
  m.form = form;
  m.user = SecretString("alice");
  m.master_user = SecretString("proxy");
  m.master_password = SecretString("m-secret");
  return m;
}

TEST_F(BackendLoginTest, MasterUserLogsInWithTheSeparatorForm) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    EXPECT_EQ(c.ReadLines(3), "A2 LOGIN {11+}\r\nalice*proxy {8+}\r\nm-secret\r\n");
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartWith(AliceMaster(MasterUserCredentials::Form::kLoginSeparator));
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, MasterUserLogsInWithSaslPlainAndTheClientAsAuthzid) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n");
    // base64("alice\0proxy\0m-secret")
    EXPECT_EQ(c.ReadLine(), "A2 AUTHENTICATE PLAIN YWxpY2UAcHJveHkAbS1zZWNyZXQ=\r\n");
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartWith(AliceMaster(MasterUserCredentials::Form::kSaslPlainAuthzid));
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, MasterUserSaslFormNeedsSaslIrAndAuthPlain) {
  GreetOnly("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n");
  StartWith(AliceMaster(MasterUserCredentials::Form::kSaslPlainAuthzid));
  ExpectOutcome(BackendOutcome::kUnavailable, "SASL-IR");
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

// --- Bearer tokens (XOAUTH2 / OAUTHBEARER from the client) -------------------------------------

BackendCredentials Bearer() { return BearerTokenCredentials{SecretString("alice"), SecretString("ya29.tok")}; }
// base64("user=alice^Aauth=Bearer ya29.tok^A^A") and base64("n,a=alice,^Aauth=Bearer ya29.tok^A^A")
constexpr char kXoauth2Alice[] = "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LnRvawEB";
constexpr char kOauthBearerAlice[] = "bixhPWFsaWNlLAFhdXRoPUJlYXJlciB5YTI5LnRvawEB";

TEST_F(BackendLoginTest, BearerTokenGoesWithXoauth2AndSaslIr) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER AUTH=XOAUTH2 LOGINDISABLED] hi\r\n");
    EXPECT_EQ(c.ReadLine(), std::string("A2 AUTHENTICATE XOAUTH2 ") + kXoauth2Alice + "\r\n");
    c.Send("A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
    c.ReadUntilClose();
  });
  StartWith(Bearer());
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->capabilities, "IMAP4rev1 IDLE");
}

TEST_F(BackendLoginTest, BearerTokenGoesWithOauthBearerWhenXoauth2IsNotOffered) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] hi\r\n");
    EXPECT_EQ(c.ReadLine(), std::string("A2 AUTHENTICATE OAUTHBEARER ") + kOauthBearerAlice + "\r\n");
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartWith(Bearer());
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, BearerTokenWithoutSaslIrWaitsForTheContinuation) {
  std::atomic<bool> got_command{false}, checked{false};
  backend_.Run([&](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A2 AUTHENTICATE XOAUTH2\r\n");
    got_command = true;
    while (!checked) std::this_thread::sleep_for(200us);
    c.Send("+ \r\n");
    EXPECT_EQ(c.ReadLine(), std::string(kXoauth2Alice) + "\r\n");
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartWith(Bearer());
  ASSERT_TRUE(TurnUntil(loop_.get(), got_command));
  EXPECT_TRUE(login_->RetainsCredentials("ya29.tok"));  // still to be sent
  checked = true;
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, BearerTokenIsWipedAsSoonAsItIsSent) {
  std::atomic<bool> got_command{false}, checked{false};
  backend_.Run([&](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n");
    EXPECT_EQ(c.ReadLine(), std::string("A2 AUTHENTICATE XOAUTH2 ") + kXoauth2Alice + "\r\n");
    got_command = true;
    while (!checked) std::this_thread::sleep_for(200us);
    c.Send("A2 OK [CAPABILITY IMAP4rev1] ok\r\n");
    c.ReadUntilClose();
  });
  StartWith(Bearer());
  EXPECT_TRUE(login_->RetainsCredentials(kXoauth2Alice));
  ASSERT_TRUE(TurnUntil(loop_.get(), got_command));
  EXPECT_FALSE(login_->RetainsCredentials(kXoauth2Alice));
  EXPECT_FALSE(login_->RetainsCredentials(kOauthBearerAlice));
  checked = true;
  ExpectOutcome(BackendOutcome::kLoggedIn);
}

TEST_F(BackendLoginTest, RefusedXoauth2TokenAcknowledgesTheErrorChallengeAndFails) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n");
    EXPECT_EQ(c.ReadLine(), std::string("A2 AUTHENTICATE XOAUTH2 ") + kXoauth2Alice + "\r\n");
    c.Send("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");  // {"status":"401"}
    EXPECT_EQ(c.ReadLine(), "\r\n");             // the empty acknowledgement
    c.Send("A2 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
    c.ReadUntilClose();
  });
  StartWith(Bearer());
  ExpectOutcome(BackendOutcome::kAuthFailed, "rejected credentials");
}

TEST_F(BackendLoginTest, RefusedOauthBearerTokenAcknowledgesWithKvsep) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] hi\r\n");
    EXPECT_EQ(c.ReadLine(), std::string("A2 AUTHENTICATE OAUTHBEARER ") + kOauthBearerAlice + "\r\n");
    c.Send("+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n");
    EXPECT_EQ(c.ReadLine(), "AQ==\r\n");  // base64(^A), RFC 7628 §3.2.3
    c.Send("A2 NO [AUTHENTICATIONFAILED] no\r\n");
    c.ReadUntilClose();
  });
  StartWith(Bearer());
  ExpectOutcome(BackendOutcome::kAuthFailed);
}

TEST_F(BackendLoginTest, ASecondErrorChallengeIsUnavailable) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n");
    c.ReadLine();
    c.Send("+ e30=\r\n");
    EXPECT_EQ(c.ReadLine(), "\r\n");
    c.Send("+ e30=\r\n");
    c.ReadUntilClose();
  });
  StartWith(Bearer());
  ExpectOutcome(BackendOutcome::kUnavailable, "unexpected continuation");
}

TEST_F(BackendLoginTest, BearerTokenToABackendWithoutXoauth2OrOauthBearerFails) {
  GreetOnly("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN LITERAL+] hi\r\n");
  StartWith(Bearer());
  ExpectOutcome(BackendOutcome::kUnavailable, "backend does not offer XOAUTH2/OAUTHBEARER");
  Finish();
  EXPECT_EQ(after_greeting_, "");  // neither the token nor a LOGIN went out
}

// --- TLS
// -------------------------------------------------------------------------------------------

TEST_F(BackendLoginTest, StartTlsRequiredButNotAdvertisedIsFatal) {
  UseTls(BackendSecurityMode::kStartTls);
  GreetOnly("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "STARTTLS");
  Finish();
  EXPECT_EQ(after_greeting_, "");  // neither STARTTLS nor, above all, LOGIN in cleartext
}

TEST_F(BackendLoginTest, StartTlsRefusedIsFatal) {
  UseTls(BackendSecurityMode::kStartTls);
  backend_.Run([this](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A0 STARTTLS\r\n");
    c.Send("A0 NO not today\r\n");
    after_greeting_ = c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable);
  Finish();
  EXPECT_EQ(after_greeting_, "");
}

TEST_F(BackendLoginTest, StartTlsUpgradesDiscardsPlaintextAndLogsIn) {
  UseTls(BackendSecurityMode::kStartTls);
  backend_.Run([this](Conn& c) {
    // LOGINDISABLED before TLS is normal; the list is fetched again inside TLS.
    c.Send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A0 STARTTLS\r\n");
    // A man in the middle appends, in plaintext, a forged answer to the CAPABILITY command that
    // follows the upgrade. If it were read, LOGINDISABLED would end the attempt.
    c.Send("A0 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 LOGINDISABLED\r\nA1 OK forged\r\n");
    ASSERT_TRUE(c.StartTls(server_ctx_->get()));
    EXPECT_EQ(c.ReadLine(), "A1 CAPABILITY\r\n");
    c.Send("* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN\r\nA1 OK done\r\n");
    EXPECT_EQ(c.ReadLines(3), kLiteralPlusLogin);
    c.Send("A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->capabilities, "IMAP4rev1 IDLE");
  ASSERT_TRUE(result_->connection.open());
  EXPECT_EQ(result_->connection.transport().ProtocolName(), "TLSv1.3");
}

TEST_F(BackendLoginTest, StartTlsWithUntrustedNameIsFatal) {
  UseTls(BackendSecurityMode::kStartTls);
  target_.server_name = "imap.example.com";  // the certificate is for localhost
  backend_.Run([this](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A0 STARTTLS\r\n");
    c.Send("A0 OK Begin TLS\r\n");
    EXPECT_FALSE(c.StartTls(server_ctx_->get()));
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kUnavailable, "TLS");
}

TEST_F(BackendLoginTest, ImplicitTlsLogsIn) {
  UseTls(BackendSecurityMode::kTls);
  backend_.Run([this](Conn& c) {
    ASSERT_TRUE(c.StartTls(server_ctx_->get()));
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    EXPECT_EQ(c.ReadLines(3), kLiteralPlusLogin);
    c.Send("A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
    c.ReadUntilClose();
  });
  StartLogin();
  ExpectOutcome(BackendOutcome::kLoggedIn);
  EXPECT_EQ(result_->capabilities, "IMAP4rev1 IDLE");
  EXPECT_EQ(result_->connection.transport().ProtocolName(), "TLSv1.3");
}

}  // namespace
}  // namespace imapgate::upstream
