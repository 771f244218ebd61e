#include "imap/command_parser.h"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace imapgate::imap {
namespace {

using std::string_literals::operator""s;

// A flat, comparable record of one event and what came with it.
struct Outcome {
  ParseEvent event;
  std::string tag;
  std::string name;
  std::vector<std::pair<TokenKind, std::string>> args;
  std::string message;
  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "{event=" << static_cast<int>(o.event) << " tag=" << o.tag << " name=" << o.name
      << " args=" << o.args.size() << " message=" << o.message << "}";
}

Outcome Record(CommandParser& p, ParseEvent e) {
  Outcome o{e, "", "", {}, ""};
  if (e == ParseEvent::kCommand) {
    Command c = p.TakeCommand();
    o.tag = c.tag;
    o.name = c.name;
    for (const Token& t : c.args) o.args.emplace_back(t.kind, std::string(t.value.view()));
  } else if (e == ParseEvent::kBad || e == ParseEvent::kFatal) {
    o.tag = p.error().tag;
    o.message = p.error().message;
  } else if (e == ParseEvent::kSaslResponse) {
    o.name = std::string(p.TakeSaslResponse().view());
  }
  return o;
}

// Drains events until kNeedMore or kFatal (the kNeedMore itself is not recorded).
void Drain(CommandParser& p, std::vector<Outcome>* out) {
  for (;;) {
    ParseEvent e = p.Next();
    if (e == ParseEvent::kNeedMore) return;
    out->push_back(Record(p, e));
    if (e == ParseEvent::kFatal) return;
  }
}

std::vector<Outcome> ParseChunks(const std::vector<std::string>& chunks, ParserLimits limits = {}) {
  CommandParser p(limits);
  std::vector<Outcome> out;
  for (const std::string& c : chunks) {
    p.Feed(c);
    Drain(p, &out);
    if (!out.empty() && out.back().event == ParseEvent::kFatal) break;  // sticky: report once
  }
  return out;
}

std::vector<Outcome> ParseAll(const std::string& input, ParserLimits limits = {}) {
  return ParseChunks({input}, limits);
}

std::vector<Outcome> ParseBytewise(const std::string& input, ParserLimits limits = {}) {
  std::vector<std::string> chunks;
  for (char c : input) chunks.emplace_back(1, c);
  return ParseChunks(chunks, limits);
}

// Parses exactly one unit and returns its event.
Outcome One(const std::string& input, ParserLimits limits = {}) {
  std::vector<Outcome> out = ParseAll(input, limits);
  EXPECT_EQ(out.size(), 1u) << "input produced " << out.size() << " events";
  return out.empty() ? Outcome{ParseEvent::kNeedMore, "", "", {}, ""} : out[0];
}

TEST(CommandParserTest, SimpleCommandWithCrlf) {
  Outcome o = One("a1 capability\r\n");
  EXPECT_EQ(o.event, ParseEvent::kCommand);
  EXPECT_EQ(o.tag, "a1");
  EXPECT_EQ(o.name, "CAPABILITY");
  EXPECT_TRUE(o.args.empty());
}

TEST(CommandParserTest, BareLfIsALineEnd) {
  Outcome o = One("a1 NOOP\n");
  EXPECT_EQ(o.event, ParseEvent::kCommand);
  EXPECT_EQ(o.name, "NOOP");
}

TEST(CommandParserTest, PartialLineNeedsMore) {
  CommandParser p;
  p.Feed("a1 NOO");
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  p.Feed("P\r");
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  p.Feed("\n");
  EXPECT_EQ(p.Next(), ParseEvent::kCommand);
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(CommandParserTest, AtomsQuotedAndLists) {
  Outcome o = One("t ID (\"name\" \"x\\\"y\\\\z\" \"v\" NIL) ab]c\r\n");
  ASSERT_EQ(o.event, ParseEvent::kCommand);
  using K = TokenKind;
  std::vector<std::pair<TokenKind, std::string>> want = {
      {K::kListStart, ""}, {K::kQuoted, "name"}, {K::kQuoted, "x\"y\\z"}, {K::kQuoted, "v"},
      {K::kAtom, "NIL"},   {K::kListEnd, ""},    {K::kAtom, "ab]c"}};
  EXPECT_EQ(o.args, want);
}

TEST(CommandParserTest, EmptyQuotedAndEmptyList) {
  Outcome o = One("t X \"\" ()\r\n");
  ASSERT_EQ(o.event, ParseEvent::kCommand);
  ASSERT_EQ(o.args.size(), 3u);
  EXPECT_EQ(o.args[0], std::make_pair(TokenKind::kQuoted, ""s));
  EXPECT_EQ(o.args[1].first, TokenKind::kListStart);
  EXPECT_EQ(o.args[2].first, TokenKind::kListEnd);
}

TEST(CommandParserTest, Utf8InQuotedIsAccepted) {
  Outcome o = One("t LOGIN \"j\xC3\xBCrgen\" \"\xE2\x82\xAC\xF0\x9F\x98\x80\"\r\n");
  ASSERT_EQ(o.event, ParseEvent::kCommand);
  EXPECT_EQ(o.args[0].second, "j\xC3\xBCrgen");
}

TEST(CommandParserTest, InvalidUtf8InQuotedIsBad) {
  for (std::string bad :
       {"\xC3"s, "\xC0\xAF"s, "\xED\xA0\x80"s, "\xF4\x90\x80\x80"s, "\xFF"s, "\x80"s}) {
    Outcome o = One("t LOGIN \"a" + bad + "\" p\r\n");
    EXPECT_EQ(o.event, ParseEvent::kBad);
    EXPECT_EQ(o.tag, "t");
    EXPECT_EQ(o.message, "Invalid UTF-8 in quoted string");
  }
}

TEST(CommandParserTest, CrAndNulInQuotedAreBad) {
  Outcome cr = One("t LOGIN \"a\rb\" p\r\n");
  EXPECT_EQ(cr.event, ParseEvent::kBad);
  EXPECT_EQ(cr.message, "Invalid characters in quoted string");
  Outcome nul = One("t LOGIN \"a\0b\" p\r\n"s);
  EXPECT_EQ(nul.event, ParseEvent::kBad);
  EXPECT_EQ(nul.message, "Invalid characters in quoted string");
}

TEST(CommandParserTest, LfInQuotedEndsTheLineAndIsUnterminated) {
  std::vector<Outcome> out = ParseAll("t LOGIN \"a\nb\" p\r\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event, ParseEvent::kBad);
  EXPECT_EQ(out[0].message, "Unterminated quoted string");
  EXPECT_EQ(out[1].event, ParseEvent::kBad);  // 'b" p' has no valid tag
  EXPECT_EQ(out[1].tag, "*");
}

TEST(CommandParserTest, BadEscapeInQuoted) {
  Outcome o = One("t LOGIN \"a\\nb\" p\r\n");
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.message, "Invalid escape in quoted string");
}

TEST(CommandParserTest, UnterminatedQuoted) {
  Outcome o = One("t LOGIN \"abc\r\n");
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.message, "Unterminated quoted string");
}

TEST(CommandParserTest, BareCrInLineIsBad) {
  Outcome o = One("t NOOP\rx\r\n");
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.tag, "t");
  Outcome o2 = One("t LOGIN a\rb c\r\n");
  EXPECT_EQ(o2.event, ParseEvent::kBad);
  EXPECT_EQ(o2.message, "Invalid characters in command");
}

TEST(CommandParserTest, NonAsciiOutsideStringsIsBad) {
  Outcome o = One("t LOGIN j\xC3\xBCrgen p\r\n");
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.message, "Invalid characters in command");
  Outcome ctl = One("t LOGIN a\x01 p\r\n");
  EXPECT_EQ(ctl.event, ParseEvent::kBad);
}

TEST(CommandParserTest, MissingOrMalformedTagIsBadWithStar) {
  for (std::string line : {"\r\n"s, " NOOP\r\n"s, "a+b NOOP\r\n"s, "a(b NOOP\r\n"s, "* NOOP\r\n"s,
                           "\"a\" NOOP\r\n"s, "a{ NOOP\r\n"s, "a\\b NOOP\r\n"s, "a%b NOOP\r\n"s}) {
    Outcome o = One(line);
    EXPECT_EQ(o.event, ParseEvent::kBad) << line;
    EXPECT_EQ(o.tag, "*") << line;
  }
}

TEST(CommandParserTest, TagBound) {
  ParserLimits limits;
  limits.max_tag_bytes = 8;
  EXPECT_EQ(One("abcdefgh NOOP\r\n", limits).event, ParseEvent::kCommand);
  Outcome o = One("abcdefghi NOOP\r\n", limits);
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.tag, "*");
  EXPECT_EQ(o.message, "Tag too long");
}

TEST(CommandParserTest, TagMayContainBracket) { EXPECT_EQ(One("a]1 NOOP\r\n").tag, "a]1"); }

TEST(CommandParserTest, MissingCommandKeepsTag) {
  Outcome o = One("a1\r\n");
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.tag, "a1");
  EXPECT_EQ(o.message, "Missing command");
  EXPECT_EQ(One("a1 \r\n").message, "Missing command");
}

TEST(CommandParserTest, SpacingIsStrict) {
  for (std::string line : {"a NOOP \r\n"s, "a LOGIN  u p\r\n"s, "a ID ( \"a\" NIL)\r\n"s,
                           "a ID (\"a\" NIL )\r\n"s, "a LOGIN u p \r\n"s}) {
    Outcome o = One(line);
    EXPECT_EQ(o.event, ParseEvent::kBad) << line;
    EXPECT_EQ(o.tag, "a");
  }
}

TEST(CommandParserTest, ParenthesesBalanceAndDepth) {
  EXPECT_EQ(One("a X ((((((((x))))))))\r\n").event, ParseEvent::kCommand);  // depth 8
  Outcome deep = One("a X (((((((((x)))))))))\r\n");                        // depth 9
  EXPECT_EQ(deep.event, ParseEvent::kBad);
  EXPECT_EQ(deep.message, "Parentheses nested too deeply");
  EXPECT_EQ(One("a X (x\r\n").message, "Unbalanced parentheses");
  EXPECT_EQ(One("a X x)\r\n").message, "Unbalanced parentheses");
  EXPECT_EQ(One("a X (\r\n").message, "Unbalanced parentheses");
}

TEST(CommandParserTest, TokenBound) {
  ParserLimits limits;
  limits.max_tokens = 4;
  EXPECT_EQ(One("a X 1 2 3 4\r\n", limits).event, ParseEvent::kCommand);
  Outcome o = One("a X 1 2 3 4 5\r\n", limits);
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.message, "Too many arguments");
  EXPECT_EQ(One("a X (1 2 3)\r\n", limits).event, ParseEvent::kBad);  // 5 tokens with parens
}

TEST(CommandParserTest, LineBoundExactAndOver) {
  ParserLimits limits;
  limits.max_line_bytes = 16;
  EXPECT_EQ(One("a X 123456789012\r\n", limits).event, ParseEvent::kCommand);  // 16 bytes
  Outcome o = One("a X 1234567890123\r\n", limits);                            // 17 bytes
  EXPECT_EQ(o.event, ParseEvent::kFatal);
  EXPECT_EQ(o.message, "Command line too long");
  EXPECT_EQ(o.tag, "a");
}

TEST(CommandParserTest, OverlongLineIsFatalWithoutWaitingForLineEnd) {
  ParserLimits limits;
  limits.max_line_bytes = 100;
  CommandParser p(limits);
  p.Feed(std::string(100, 'a'));
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  p.Feed("a");
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
  EXPECT_EQ(p.error().message, "Command line too long");
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(CommandParserTest, FatalIsSticky) {
  CommandParser p;
  p.Feed("a LOGIN {99999999}\r\n");
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
  p.Feed("b NOOP\r\n");
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(CommandParserTest, SynchronizingLiteralEmitsContinuationOnce) {
  CommandParser p;
  p.Feed("a LOGIN {4}\r\n");
  EXPECT_EQ(p.Next(), ParseEvent::kContinuationNeeded);
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  p.Feed("us");
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  p.Feed("er pass\r\n");
  ASSERT_EQ(p.Next(), ParseEvent::kCommand);
  Command c = p.TakeCommand();
  ASSERT_EQ(c.args.size(), 2u);
  EXPECT_EQ(c.args[0].kind, TokenKind::kLiteral);
  EXPECT_EQ(c.args[0].value.view(), "user");
  EXPECT_EQ(c.args[1].value.view(), "pass");
}

TEST(CommandParserTest, TwoSynchronizingLiterals) {
  std::vector<Outcome> out = ParseAll("a LOGIN {4}\r\nuser {6}\r\nsecret\r\n");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].event, ParseEvent::kContinuationNeeded);
  EXPECT_EQ(out[1].event, ParseEvent::kContinuationNeeded);
  ASSERT_EQ(out[2].event, ParseEvent::kCommand);
  EXPECT_EQ(out[2].args[1], std::make_pair(TokenKind::kLiteral, "secret"s));
}

TEST(CommandParserTest, NonSynchronizingLiteralHasNoContinuation) {
  std::vector<Outcome> out = ParseAll("a LOGIN {4+}\r\nuser {6+}\r\nsecret\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event, ParseEvent::kCommand);
  EXPECT_EQ(out[0].args[0].second, "user");
}

TEST(CommandParserTest, LiteralPayloadThatLooksLikeACommandIsNotACommand) {
  std::vector<Outcome> out = ParseAll("a LOGIN {10+}\r\nb LOGOUT\r\n {3+}\r\np\r\n\r\nc NOOP\r\n");
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].event, ParseEvent::kCommand);
  EXPECT_EQ(out[0].name, "LOGIN");
  EXPECT_EQ(out[0].args[0], std::make_pair(TokenKind::kLiteral, "b LOGOUT\r\n"s));
  EXPECT_EQ(out[0].args[1], std::make_pair(TokenKind::kLiteral, "p\r\n"s));
  EXPECT_EQ(out[1].name, "NOOP");
  EXPECT_EQ(out[1].tag, "c");
}

TEST(CommandParserTest, InvalidCommandStillConsumesItsLiteral) {
  std::vector<Outcome> out = ParseAll("a LOGIN x{9+}\r\nb LOGOUT\r\nc NOOP\r\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event, ParseEvent::kBad);
  EXPECT_EQ(out[0].tag, "a");
  EXPECT_EQ(out[1].name, "NOOP");  // never "LOGOUT"
}

TEST(CommandParserTest, MarkerAfterUnterminatedQuoteStillFramesTheLiteral) {
  std::vector<Outcome> out = ParseAll("a LOGIN \"x {9+}\r\nb LOGOUT\r\nc NOOP\r\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event, ParseEvent::kBad);
  EXPECT_EQ(out[1].name, "NOOP");
}

TEST(CommandParserTest, OversizedNonSyncLiteralIsFatalAndPayloadNeverParsed) {
  ParserLimits limits;
  limits.max_literal_bytes = 10;
  std::vector<Outcome> out = ParseAll("a LOGIN {11+}\r\nb LOGOUT\r\nc NOOP\r\n", limits);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event, ParseEvent::kFatal);
  EXPECT_EQ(out[0].message, "Literal too large");
  EXPECT_EQ(out[0].tag, "a");
}

TEST(CommandParserTest, LiteralBoundExact) {
  ParserLimits limits;
  limits.max_literal_bytes = 10;
  std::vector<Outcome> out = ParseAll("a LOGIN {10+}\r\n0123456789 p\r\n", limits);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event, ParseEvent::kCommand);
}

TEST(CommandParserTest, OversizedSyncLiteralIsFatalWithoutContinuation) {
  ParserLimits limits;
  limits.max_literal_bytes = 10;
  std::vector<Outcome> out = ParseAll("a LOGIN {11}\r\n", limits);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event, ParseEvent::kFatal);
}

TEST(CommandParserTest, SumOfLiteralsIsBounded) {
  ParserLimits limits;
  limits.max_literal_bytes = 10;
  std::vector<Outcome> out = ParseAll("a LOGIN {6+}\r\n012345 {5+}\r\n01234\r\n", limits);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event, ParseEvent::kFatal);
  EXPECT_EQ(out[0].message, "Literal too large");
}

TEST(CommandParserTest, MalformedOrHugeMarkersAreFatal) {
  for (std::string line :
       {"a LOGIN {12\r\n"s, "a LOGIN {}\r\n"s, "a LOGIN {+}\r\n"s, "a LOGIN {12+\r\n"s,
        "a LOGIN {\r\n"s, "a LOGIN {12345678901}\r\n"s, "a LOGIN {99999999999999999999999}\r\n"s,
        "a LOGIN {4294967296+}\r\n"s}) {
    std::vector<Outcome> out = ParseAll(line + "b LOGOUT\r\n");
    ASSERT_EQ(out.size(), 1u) << line;
    EXPECT_EQ(out[0].event, ParseEvent::kFatal) << line;
    EXPECT_EQ(out[0].tag, "a");
  }
}

TEST(CommandParserTest, LiteralMarkerNotAtLineEndIsBad) {
  Outcome o = One("a LOGIN {3} x\r\n");
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.message, "Invalid characters in command");
}

TEST(CommandParserTest, NulInLiteralIsBad) {
  Outcome o = One("a LOGIN {3+}\r\na\0b p\r\n"s);
  EXPECT_EQ(o.event, ParseEvent::kBad);
  EXPECT_EQ(o.message, "Invalid characters in literal");
}

TEST(CommandParserTest, LiteralMayHoldAnyOtherByte) {
  Outcome o = One("a LOGIN {4+}\r\n\r\n\xFF\x01 p\r\n");
  ASSERT_EQ(o.event, ParseEvent::kCommand);
  EXPECT_EQ(o.args[0].second, "\r\n\xFF\x01");
}

TEST(CommandParserTest, ZeroLengthLiteral) {
  std::vector<Outcome> out = ParseAll("a LOGIN {0}\r\n p\r\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event, ParseEvent::kContinuationNeeded);
  ASSERT_EQ(out[1].event, ParseEvent::kCommand);
  EXPECT_EQ(out[1].args[0], std::make_pair(TokenKind::kLiteral, ""s));
}

TEST(CommandParserTest, LineBudgetCountsAllTextPartsOfAUnit) {
  ParserLimits limits;
  limits.max_line_bytes = 20;
  // "a LOGIN {1+}" (12) + CRLF (2) + " p" (2) = 16: fits.
  EXPECT_EQ(ParseAll("a LOGIN {1+}\r\nu p\r\n", limits)[0].event, ParseEvent::kCommand);
  // 12 + 2 + " 1234567" (8) = 22: too long, although each line alone fits.
  std::vector<Outcome> out = ParseAll("a LOGIN {1+}\r\nu 1234567\r\n", limits);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event, ParseEvent::kFatal);
  EXPECT_EQ(out[0].message, "Command line too long");
}

TEST(CommandParserTest, ManyEmptyLiteralsHitTheLineBudget) {
  ParserLimits limits;
  limits.max_line_bytes = 64;
  std::string input = "a X";
  for (int i = 0; i < 40; ++i) input += " {0+}\r\n";
  std::vector<Outcome> out = ParseAll(input + "\r\n", limits);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event, ParseEvent::kFatal);
}

TEST(CommandParserTest, PipelinedCommands) {
  std::vector<Outcome> out = ParseAll("a NOOP\r\nb CAPABILITY\nc LOGOUT\r\n");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].tag, "a");
  EXPECT_EQ(out[1].tag, "b");
  EXPECT_EQ(out[2].tag, "c");
}

TEST(CommandParserTest, BadUnitDoesNotStopParsing) {
  std::vector<Outcome> out = ParseAll("a LOGIN \"x\r\nb NOOP\r\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event, ParseEvent::kBad);
  EXPECT_EQ(out[1].event, ParseEvent::kCommand);
}

TEST(CommandParserTest, ResumableBytewiseAndRandomSplits) {
  const std::string inputs[] = {
      "a1 LOGIN {4}\r\nuser \"pa\\\"ss\"\r\nb ID (\"name\" \"x\" \"v\" NIL)\r\n",
      "a LOGIN {10+}\r\nb LOGOUT\r\n {3+}\r\np\r\n\r\nc NOOP\r\nd \"bad\r\n",
      "t AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\nx NOOP\r\n",
      "a X (((a) b) {2}\r\n()) \"\xC3\xA9\"\r\nz {12\r\nq NOOP\r\n",
  };
  std::mt19937 rng(1234);
  for (const std::string& input : inputs) {
    const std::vector<Outcome> whole = ParseAll(input);
    ASSERT_FALSE(whole.empty());
    EXPECT_EQ(ParseBytewise(input), whole);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::string> chunks;
      size_t i = 0;
      while (i < input.size()) {
        size_t n = std::uniform_int_distribution<size_t>(1, 7)(rng);
        chunks.push_back(input.substr(i, n));
        i += n;
      }
      EXPECT_EQ(ParseChunks(chunks), whole);
    }
  }
}

TEST(CommandParserTest, SaslResponseMode) {
  CommandParser p;
  p.Feed("a AUTHENTICATE PLAIN\r\n");
  ASSERT_EQ(p.Next(), ParseEvent::kCommand);
  p.TakeCommand();
  p.ExpectSaslResponse();
  p.Feed("AGFsaWNl");
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  p.Feed("AHNlY3JldA== {5}\r\nb NOOP\r\n");
  ASSERT_EQ(p.Next(), ParseEvent::kSaslResponse);
  EXPECT_EQ(p.TakeSaslResponse().view(), "AGFsaWNlAHNlY3JldA== {5}");  // raw; no literal framing
  ASSERT_EQ(p.Next(), ParseEvent::kCommand);                           // back to commands
  EXPECT_EQ(p.TakeCommand().tag, "b");
}

TEST(CommandParserTest, SaslResponseCancelAndEmptyAndBareLf) {
  CommandParser p;
  p.ExpectSaslResponse();
  p.Feed("*\n");
  ASSERT_EQ(p.Next(), ParseEvent::kSaslResponse);
  EXPECT_EQ(p.TakeSaslResponse().view(), "*");
  p.ExpectSaslResponse();
  p.Feed("\r\n");
  ASSERT_EQ(p.Next(), ParseEvent::kSaslResponse);
  EXPECT_EQ(p.TakeSaslResponse().view(), "");
}

TEST(CommandParserTest, SaslResponseOverBoundIsFatal) {
  ParserLimits limits;
  limits.max_line_bytes = 8;
  CommandParser p(limits);
  p.ExpectSaslResponse();
  p.Feed("12345678\r");
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  p.Feed("\n");
  EXPECT_EQ(p.Next(), ParseEvent::kSaslResponse);
  p.ExpectSaslResponse();
  p.Feed("123456789");
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
  EXPECT_EQ(p.error().message, "SASL response too long");
}

TEST(CommandParserTest, TakeBufferedAfterPipelinedLogin) {
  CommandParser p;
  const std::string rest = "b SELECT INBOX\r\nc FETCH 1 (BODY[] {3+}\r\nabc)\r\nd NO";
  p.Feed("a LOGIN user pass\r\n" + rest);
  ASSERT_EQ(p.Next(), ParseEvent::kCommand);
  EXPECT_EQ(p.TakeCommand().name, "LOGIN");
  EXPECT_EQ(p.buffered_bytes(), rest.size());
  WipingBytes taken = p.TakeBuffered();
  EXPECT_EQ(std::string(taken.begin(), taken.end()), rest);
  EXPECT_EQ(p.buffered_bytes(), 0u);
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
}

TEST(CommandParserTest, TakeBufferedMidUnitReturnsRawBytes) {
  CommandParser p;
  p.Feed("a LOGIN {4}\r\nus");
  EXPECT_EQ(p.Next(), ParseEvent::kContinuationNeeded);
  EXPECT_EQ(p.Next(), ParseEvent::kNeedMore);
  WipingBytes taken = p.TakeBuffered();
  EXPECT_EQ(std::string(taken.begin(), taken.end()), "a LOGIN {4}\r\nus");
  p.Feed("b NOOP\r\n");  // the parser starts afresh
  EXPECT_EQ(p.Next(), ParseEvent::kCommand);
}

TEST(CommandParserTest, BufferedBytesAfterStartTlsShowsInjection) {
  CommandParser p;
  p.Feed("a STARTTLS\r\nb NOOP\r\n");
  ASSERT_EQ(p.Next(), ParseEvent::kCommand);
  EXPECT_EQ(p.TakeCommand().name, "STARTTLS");
  EXPECT_EQ(p.buffered_bytes(), 8u);
}

TEST(CommandParserTest, BufferStaysBoundedUnderFlood) {
  ParserLimits limits;
  limits.max_line_bytes = 64;
  limits.max_literal_bytes = 32;
  CommandParser p(limits);
  p.Feed("a X {32+}\r\n");
  for (int i = 0; i < 10 && p.Next() == ParseEvent::kNeedMore; ++i) {
    EXPECT_LE(p.buffered_bytes(), limits.max_line_bytes + limits.max_literal_bytes + 2);
    p.Feed("0123456789");
  }
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
}

TEST(CommandParserTest, ErrorMessagesNeverEchoClientBytes) {
  std::vector<Outcome> out = ParseAll("SECRETTAG LOGIN \"SECRET\\x\" p\r\n{SECRET}\r\n");
  for (const Outcome& o : out) EXPECT_EQ(o.message.find("SECRET"), std::string::npos);
}

// --- The ID bound (RFC 2971 maximums) and error codes -----------------------------------------

// An ID with `pairs` pairs of 30-octet keys and `value_bytes`-octet quoted values.
std::string IdLine(const std::string& tag, size_t pairs, size_t value_bytes = 1024,
                   const std::string& verb = "ID") {
  std::string line = tag + " " + verb + " (";
  for (size_t i = 0; i < pairs; ++i) {
    std::string key = "k" + std::to_string(i);
    key.resize(30, 'k');
    if (i > 0) line += ' ';
    line += "\"" + key + "\" \"" + std::string(value_bytes, 'v') + "\"";
  }
  return line + ")\r\n";
}

TEST(CommandParserTest, MaximalIdIsACommandInOneChunkOrBytewise) {
  const std::string id = IdLine("a", 30);
  ASSERT_GT(id.size(), 31000u);
  ASSERT_LT(id.size(), 32768u);
  for (const auto& out : {ParseAll(id), ParseBytewise(id)}) {
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].event, ParseEvent::kCommand);
    EXPECT_EQ(out[0].name, "ID");
    EXPECT_EQ(out[0].args.size(), 62u);  // ( 60 strings )
  }
  // Lower-case verb, and the longest tag.
  EXPECT_EQ(One(IdLine(std::string(64, 't'), 30, 1024, "id")).event, ParseEvent::kCommand);
}

TEST(CommandParserTest, IdPastItsBoundIsFatalWithTheLineCode) {
  CommandParser p;
  p.Feed(IdLine("a", 31));  // ~32.9 KB
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
  EXPECT_EQ(p.error().code, ParseErrorCode::kLineTooLong);
  EXPECT_EQ(p.error().message, "Command line too long");
  EXPECT_EQ(p.error().tag, "a");
}

TEST(CommandParserTest, OtherCommandsKeepTheGeneralLineBound) {
  // 8193 bytes of a non-ID command: fatal, even though an ID could be four times longer.
  for (const std::string verb : {"NOOP", "LOGIN", "IDX", "XID"}) {
    const std::string line = "a " + verb + " " + std::string(8192, 'x');
    CommandParser p;
    p.Feed(line.substr(0, 8192));
    EXPECT_EQ(p.Next(), ParseEvent::kNeedMore) << verb;
    p.Feed(line.substr(8192));
    EXPECT_EQ(p.Next(), ParseEvent::kFatal) << verb;
    EXPECT_EQ(p.error().code, ParseErrorCode::kLineTooLong) << verb;
  }
  // A line that does not even start with a tag cannot be an ID.
  CommandParser p;
  p.Feed(std::string(8193, 'a'));
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
}

TEST(CommandParserTest, IdBoundBelowTheLineBoundMeansTheLineBound) {
  ParserLimits limits;
  limits.max_line_bytes = 100;
  limits.max_id_line_bytes = 50;
  EXPECT_EQ(One("a ID (\"k\" \"" + std::string(80, 'v') + "\")\r\n", limits).event, ParseEvent::kCommand);
  EXPECT_EQ(One("a ID (\"k\" \"" + std::string(100, 'v') + "\")\r\n", limits).event, ParseEvent::kFatal);
}

TEST(CommandParserTest, IdLiteralsShareTheIdBudget) {
  ParserLimits limits;
  limits.max_line_bytes = 64;
  limits.max_literal_bytes = 64;
  limits.max_id_line_bytes = 256;
  // Three 60-byte literals (180 bytes, more than max_literal_bytes in total): fits the ID budget.
  std::string ok = "a ID (\"k1\" {60+}\r\n" + std::string(60, 'v') + " \"k2\" {60+}\r\n" +
                   std::string(60, 'v') + " \"k3\" {60+}\r\n" + std::string(60, 'v') + ")\r\n";
  EXPECT_EQ(One(ok, limits).event, ParseEvent::kCommand);
  // The same literals on a LOGIN: over max_literal_bytes.
  Outcome login = ParseAll("a LOGIN {60+}\r\n" + std::string(60, 'u') + " {60+}\r\n" + std::string(60, 'p') + "\r\n",
                           limits)[0];
  EXPECT_EQ(login.event, ParseEvent::kFatal);
  EXPECT_EQ(login.message, "Literal too large");
  // A single literal is still bounded by max_literal_bytes, ID or not.
  CommandParser p(limits);
  p.Feed("a ID (\"k\" {65+}\r\n");
  EXPECT_EQ(p.Next(), ParseEvent::kFatal);
  EXPECT_EQ(p.error().code, ParseErrorCode::kLiteralTooLarge);
  // Text and literals together past the ID budget.
  std::string big = "a ID (";
  for (int i = 0; i < 5; ++i) big += "\"k" + std::to_string(i) + "\" {60+}\r\n" + std::string(60, 'v') + " ";
  big += "\"z\" NIL)\r\n";
  Outcome o = ParseAll(big, limits).back();
  EXPECT_EQ(o.event, ParseEvent::kFatal);
}

TEST(CommandParserTest, EveryErrorCarriesItsCode) {
  struct Case {
    std::string input;
    ParseEvent event;
    ParseErrorCode code;
  };
  const Case cases[] = {
      {"a NOOP " + std::string(9000, 'x') + "\r\n", ParseEvent::kFatal, ParseErrorCode::kLineTooLong},
      {"a LOGIN {99999}\r\n", ParseEvent::kFatal, ParseErrorCode::kLiteralTooLarge},
      {"a LOGIN {12\r\n", ParseEvent::kFatal, ParseErrorCode::kInvalidLiteral},
      {"a SELECT (\r\n", ParseEvent::kBad, ParseErrorCode::kSyntax},
  };
  for (const Case& c : cases) {
    CommandParser p;
    p.Feed(c.input);
    EXPECT_EQ(p.Next(), c.event) << c.input.substr(0, 20);
    EXPECT_EQ(p.error().code, c.code) << c.input.substr(0, 20);
  }
  CommandParser sasl;
  sasl.ExpectSaslResponse();
  sasl.Feed(std::string(9000, 'A'));
  EXPECT_EQ(sasl.Next(), ParseEvent::kFatal);
  EXPECT_EQ(sasl.error().code, ParseErrorCode::kSaslResponseTooLong);
}

}  // namespace
}  // namespace imapgate::imap
