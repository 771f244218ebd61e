#include "imap/preauth_command.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::imap {
namespace {

// Parses one complete command (which must be syntactically valid) and validates it.
PreAuthValidation Validate(const std::string& input, const IdLimits& id_limits = {}) {
  ParserLimits limits;
  limits.max_line_bytes = 64 * 1024;
  limits.max_literal_bytes = 64 * 1024;
  limits.max_tokens = 1024;
  CommandParser parser(limits);
  parser.Feed(input);
  ParseEvent e;
  while ((e = parser.Next()) == ParseEvent::kContinuationNeeded) {
  }
  EXPECT_EQ(e, ParseEvent::kCommand) << parser.error().message;
  if (e != ParseEvent::kCommand) return {};
  return ValidatePreAuthCommand(parser.TakeCommand(), id_limits);
}

std::string Bad(const std::string& input, const IdLimits& id_limits = {}) {
  PreAuthValidation v = Validate(input, id_limits);
  EXPECT_FALSE(v.command.has_value()) << input;
  return v.bad_reason;
}

TEST(PreAuthCommandTest, NoArgumentCommands) {
  struct Case {
    const char* line;
    PreAuthVerb verb;
  } cases[] = {{"a capability\r\n", PreAuthVerb::kCapability},
               {"a NOOP\r\n", PreAuthVerb::kNoop},
               {"a Logout\r\n", PreAuthVerb::kLogout},
               {"a STARTTLS\r\n", PreAuthVerb::kStartTls}};
  for (const Case& c : cases) {
    PreAuthValidation v = Validate(c.line);
    ASSERT_TRUE(v.command.has_value()) << c.line;
    EXPECT_EQ(v.command->verb, c.verb);
    EXPECT_EQ(v.command->tag, "a");
  }
}

TEST(PreAuthCommandTest, NoArgumentCommandsRejectArguments) {
  for (const char* line :
       {"a CAPABILITY x\r\n", "a NOOP 1\r\n", "a LOGOUT ()\r\n", "a STARTTLS \"x\"\r\n"}) {
    EXPECT_EQ(Bad(line), "Unexpected arguments");
  }
}

TEST(PreAuthCommandTest, LoginWithAtomsQuotedAndLiterals) {
  PreAuthValidation v = Validate("a LOGIN alice \"p a\\\"ss\"\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_EQ(v.command->verb, PreAuthVerb::kLogin);
  EXPECT_EQ(v.command->user.view(), "alice");
  EXPECT_EQ(v.command->password.view(), "p a\"ss");

  v = Validate("a LOGIN {5+}\r\nalice {6}\r\nsecret\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_EQ(v.command->user.view(), "alice");
  EXPECT_EQ(v.command->password.view(), "secret");
}

TEST(PreAuthCommandTest, LoginArity) {
  EXPECT_EQ(Bad("a LOGIN alice\r\n"), "LOGIN expects a user name and a password");
  EXPECT_EQ(Bad("a LOGIN\r\n"), "LOGIN expects a user name and a password");
  EXPECT_EQ(Bad("a LOGIN a b c\r\n"), "LOGIN expects a user name and a password");
  EXPECT_EQ(Bad("a LOGIN (a) b\r\n"), "LOGIN expects a user name and a password");
}

TEST(PreAuthCommandTest, LoginUserBound) {
  EXPECT_TRUE(Validate("a LOGIN " + std::string(320, 'u') + " p\r\n").command.has_value());
  EXPECT_EQ(Bad("a LOGIN " + std::string(321, 'u') + " p\r\n"), "User name too long");
}

TEST(PreAuthCommandTest, LoginPasswordBound) {
  EXPECT_TRUE(Validate("a LOGIN u {1024+}\r\n" + std::string(1024, 'p') + "\r\n").command);
  EXPECT_EQ(Bad("a LOGIN u {1025+}\r\n" + std::string(1025, 'p') + "\r\n"), "Password too long");
}

TEST(PreAuthCommandTest, LoginRejectsEmptyFields) {
  EXPECT_EQ(Bad("a LOGIN \"\" p\r\n"), "Empty user name or password");
  EXPECT_EQ(Bad("a LOGIN u {0+}\r\n\r\n"), "Empty user name or password");
}

TEST(PreAuthCommandTest, Authenticate) {
  PreAuthValidation v = Validate("a AUTHENTICATE plain\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_EQ(v.command->verb, PreAuthVerb::kAuthenticate);
  EXPECT_EQ(v.command->mechanism, "PLAIN");
  EXPECT_FALSE(v.command->initial_response.has_value());

  v = Validate("a AUTHENTICATE XOAUTH2 dXNlcj1h+/8=\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_EQ(v.command->mechanism, "XOAUTH2");
  ASSERT_TRUE(v.command->initial_response.has_value());
  EXPECT_EQ(v.command->initial_response->view(), "dXNlcj1h+/8=");

  v = Validate("a AUTHENTICATE PLAIN =\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_EQ(v.command->initial_response->view(), "=");
}

TEST(PreAuthCommandTest, AuthenticateMechanismIsNotCheckedAgainstAList) {
  PreAuthValidation v = Validate("a AUTHENTICATE scram-sha-256\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_EQ(v.command->mechanism, "SCRAM-SHA-256");
}

TEST(PreAuthCommandTest, AuthenticateRejects) {
  EXPECT_EQ(Bad("a AUTHENTICATE\r\n"),
            "AUTHENTICATE expects a mechanism and an optional initial response");
  EXPECT_EQ(Bad("a AUTHENTICATE PLAIN a b\r\n"),
            "AUTHENTICATE expects a mechanism and an optional initial response");
  EXPECT_EQ(Bad("a AUTHENTICATE \"PLAIN\"\r\n"), "Invalid SASL mechanism");
  EXPECT_EQ(Bad("a AUTHENTICATE PL.AIN\r\n"), "Invalid SASL mechanism");
  EXPECT_EQ(Bad("a AUTHENTICATE " + std::string(21, 'A') + "\r\n"), "Invalid SASL mechanism");
  EXPECT_EQ(Bad("a AUTHENTICATE PLAIN \"AAAA\"\r\n"), "Invalid initial response");
  EXPECT_EQ(Bad("a AUTHENTICATE PLAIN AA-A\r\n"), "Invalid initial response");
  EXPECT_EQ(Bad("a AUTHENTICATE PLAIN {4+}\r\nAAAA\r\n"), "Invalid initial response");
}

TEST(PreAuthCommandTest, IdNilAndEmptyList) {
  PreAuthValidation v = Validate("a ID nil\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_EQ(v.command->verb, PreAuthVerb::kId);
  EXPECT_TRUE(v.command->id_params.empty());
  v = Validate("a ID ()\r\n");
  ASSERT_TRUE(v.command.has_value());
  EXPECT_TRUE(v.command->id_params.empty());
}

TEST(PreAuthCommandTest, IdPairs) {
  PreAuthValidation v =
      Validate("a ID (\"name\" \"Thunderbird\" \"version\" NIL {2+}\r\nos \"Linux\")\r\n");
  ASSERT_TRUE(v.command.has_value());
  std::vector<std::pair<std::string, std::string>> want = {
      {"name", "Thunderbird"}, {"version", ""}, {"os", "Linux"}};
  EXPECT_EQ(v.command->id_params, want);
}

TEST(PreAuthCommandTest, IdRejectsMalformedLists) {
  EXPECT_EQ(Bad("a ID\r\n"), "ID expects NIL or a parenthesized list");
  EXPECT_EQ(Bad("a ID NIL NIL\r\n"), "ID expects NIL or a parenthesized list");
  EXPECT_EQ(Bad("a ID \"x\"\r\n"), "ID expects NIL or a parenthesized list");
  EXPECT_EQ(Bad("a ID (\"k\")\r\n"), "Invalid ID parameter list");
  EXPECT_EQ(Bad("a ID (k \"v\")\r\n"), "Invalid ID parameter list");    // key must be a string
  EXPECT_EQ(Bad("a ID (NIL \"v\")\r\n"), "Invalid ID parameter list");  // key must be a string
  EXPECT_EQ(Bad("a ID (\"k\" v)\r\n"), "Invalid ID parameter list");
  EXPECT_EQ(Bad("a ID (\"k\" (\"v\"))\r\n"), "Invalid ID parameter list");
  EXPECT_EQ(Bad("a ID (\"k\" \"v\") (\"k\" \"v\")\r\n"), "Invalid ID parameter list");
}

TEST(PreAuthCommandTest, IdPairBound) {
  std::string ok = "a ID (";
  for (int i = 0; i < 30; ++i) ok += (i ? " \"k" : "\"k") + std::to_string(i) + "\" \"v\"";
  EXPECT_TRUE(Validate(ok + ")\r\n").command.has_value());
  EXPECT_EQ(Bad(ok + " \"k30\" \"v\")\r\n"), "Too many ID parameters");
  IdLimits small;
  small.max_pairs = 1;
  EXPECT_EQ(Bad("a ID (\"a\" \"b\" \"c\" \"d\")\r\n", small), "Too many ID parameters");
}

TEST(PreAuthCommandTest, IdKeyAndValueBounds) {
  EXPECT_TRUE(Validate("a ID (\"" + std::string(30, 'k') + "\" \"v\")\r\n").command);
  EXPECT_EQ(Bad("a ID (\"" + std::string(31, 'k') + "\" \"v\")\r\n"), "ID key too long");
  EXPECT_TRUE(Validate("a ID (\"k\" \"" + std::string(1024, 'v') + "\")\r\n").command);
  EXPECT_EQ(Bad("a ID (\"k\" \"" + std::string(1025, 'v') + "\")\r\n"), "ID value too long");
}

TEST(PreAuthCommandTest, OtherCommandsAreNotAllowed) {
  for (const char* line : {"a SELECT INBOX\r\n", "a LIST \"\" x\r\n", "a XYZZY\r\n",
                           "a ENABLE UTF8=ACCEPT\r\n", "a COMPRESS DEFLATE\r\n"}) {
    EXPECT_EQ(Bad(line), "Command not allowed before login");
  }
}

}  // namespace
}  // namespace imapgate::imap
