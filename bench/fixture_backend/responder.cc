#include "bench/fixture_backend/responder.h"

#include <algorithm>
#include <cctype>

namespace imapgate::bench {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void Tagged(std::string* out, const std::string& tag, const char* text) {
  out->append(tag).append(" ").append(text).append("\r\n");
}

// True if the sequence set (e.g. "1", "1:*", "1,3", "*") includes 1.
bool IncludesOne(const std::string& set) {
  size_t start = 0;
  while (start <= set.size()) {
    size_t comma = set.find(',', start);
    std::string part =
        set.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (part == "1" || part == "*" || part.rfind("1:", 0) == 0 || part.rfind("*:", 0) == 0) {
      return true;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

}  // namespace

std::string MakeFixtureMessage(size_t bytes) {
  std::string m =
      "From: fixture@example.test\r\nTo: user@example.test\r\nSubject: fixture message\r\n"
      "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <fixture@example.test>\r\n\r\n";
  const std::string line(70, 'x');
  while (m.size() + line.size() + 2 <= bytes) m.append(line).append("\r\n");
  while (m.size() < bytes) m.push_back('y');
  if (m.size() > bytes) m.resize(bytes);
  return m;
}

ImapResponder::Action ImapResponder::Respond(const std::vector<std::string>& tokens,
                                             std::string* out) {
  if (state_ == State::kIdling) {
    if (tokens.size() == 1 && Upper(tokens[0]) == "DONE") {
      state_ = State::kSelected;
      Tagged(out, idle_tag_, "OK IDLE terminated");
      return Action::kContinue;
    }
    out->append("* BAD expected DONE\r\n");
    return Action::kClose;
  }
  if (tokens.size() < 2) {
    out->append("* BAD missing command\r\n");
    return Action::kContinue;
  }
  const std::string& tag = tokens[0];
  std::string name = Upper(tokens[1]);
  bool authed = state_ == State::kAuthenticated || state_ == State::kSelected;
  if (name == "CAPABILITY") {
    out->append("* CAPABILITY IMAP4rev1 LITERAL+ IDLE\r\n");
    Tagged(out, tag, "OK CAPABILITY completed");
  } else if (name == "NOOP") {
    Tagged(out, tag, "OK NOOP completed");
  } else if (name == "ID") {
    out->append("* ID NIL\r\n");
    Tagged(out, tag, "OK ID completed");
  } else if (name == "LOGOUT") {
    out->append("* BYE fixture logging out\r\n");
    Tagged(out, tag, "OK LOGOUT completed");
    state_ = State::kLoggedOut;
    return Action::kClose;
  } else if (name == "LOGIN") {
    if (state_ != State::kNotAuthenticated) {
      Tagged(out, tag, "BAD already logged in");
    } else if (tokens.size() != 4) {
      Tagged(out, tag, "BAD LOGIN needs user and password");
    } else if (tokens[3] != *password_) {
      Tagged(out, tag, "NO [AUTHENTICATIONFAILED] Authentication failed.");
    } else {
      state_ = State::kAuthenticated;
      Tagged(out, tag, "OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Logged in");
    }
  } else if (!authed) {
    Tagged(out, tag, "BAD log in first");
  } else if (name == "SELECT" || name == "EXAMINE") {
    if (tokens.size() != 3 || Upper(tokens[2]) != "INBOX") {
      Tagged(out, tag, "NO [NONEXISTENT] only INBOX exists");
      return Action::kContinue;
    }
    out->append(
        "* FLAGS (\\Seen)\r\n* 1 EXISTS\r\n* 0 RECENT\r\n"
        "* OK [UIDVALIDITY 1] UIDs valid\r\n* OK [UIDNEXT 2] Predicted next UID\r\n");
    state_ = State::kSelected;
    Tagged(
        out, tag,
        name == "SELECT" ? "OK [READ-WRITE] SELECT completed" : "OK [READ-ONLY] EXAMINE completed");
  } else if (name == "IDLE") {
    idle_tag_ = tag;
    state_ = State::kIdling;
    out->append("+ idling\r\n");
  } else if (name == "FETCH" ||
             (name == "UID" && tokens.size() > 2 && Upper(tokens[2]) == "FETCH")) {
    if (state_ != State::kSelected) {
      Tagged(out, tag, "BAD no mailbox selected");
    } else {
      Fetch(tag, name == "UID", tokens, out);
    }
  } else {
    Tagged(out, tag, "BAD unknown command");
  }
  return Action::kContinue;
}

void ImapResponder::Fetch(const std::string& tag, bool uid, const std::vector<std::string>& tokens,
                          std::string* out) {
  size_t set_index = uid ? 3 : 2;
  if (tokens.size() <= set_index + 1) {
    Tagged(out, tag, "BAD FETCH needs a set and items");
    return;
  }
  if (IncludesOne(tokens[set_index])) {
    out->append("* 1 FETCH (UID 1 BODY[] {")
        .append(std::to_string(message_->size()))
        .append("}\r\n");
    out->append(*message_).append(")\r\n");
  }
  Tagged(out, tag, uid ? "OK UID FETCH completed" : "OK FETCH completed");
}

}  // namespace imapgate::bench
