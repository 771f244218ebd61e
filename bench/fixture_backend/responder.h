// ImapResponder: the protocol brain of the FIXTURE backend (imapgate-fixture-backend).
//
// A FIXTURE, not a mail server: it exists only for capacity tests where real Dovecot (a
// process per session) cannot hold 50k sessions. Pure: tokens of one command in, response
// bytes appended to `out`, and whether to close. One mailbox, INBOX, with one fixed message
// (UID 1). Any user whose password equals the configured one may log in.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace imapgate::bench {

constexpr char kFixtureGreeting[] = "* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] fixture ready\r\n";

// The fixed message: `bytes` long, valid RFC 5322 headers and a body of short CRLF lines.
std::string MakeFixtureMessage(size_t bytes);

class ImapResponder {
 public:
  enum class Action { kContinue, kClose };
  enum class State { kNotAuthenticated, kAuthenticated, kSelected, kIdling, kLoggedOut };

  // password and message are shared by every connection and outlive the responder.
  ImapResponder(const std::string* password, const std::string* message)
      : password_(password), message_(message) {}

  // Answers one command (tokens[0] = tag, tokens[1] = name; in IDLE, a lone "DONE").
  Action Respond(const std::vector<std::string>& tokens, std::string* out);
  State state() const { return state_; }

 private:
  void Fetch(const std::string& tag, bool uid, const std::vector<std::string>& tokens,
             std::string* out);

  const std::string* password_;
  const std::string* message_;
  State state_ = State::kNotAuthenticated;
  std::string idle_tag_;
};

}  // namespace imapgate::bench
