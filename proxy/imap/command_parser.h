// CommandParser: the pure, resumable, bounded framer and tokenizer for client IMAP commands.
//
// One parser decides framing (Apache James CVE-2022-28220): a "command unit" is a line plus the
// literals it announces ({n} synchronizing, {n+} non-synchronizing, RFC 7888). Framing is done
// first, on raw bytes; tokenizing runs only on a complete unit, so literal payloads are never
// read as commands, even when the command turns out to be invalid.
//
// Bytes in (Feed), events out (Next). No I/O, no clock, no allocation beyond the bounded buffer:
// after Next() returns kNeedMore the parser holds at most
// max(max_line_bytes, max_id_line_bytes) + max_literal_bytes + 2 bytes (one partial unit);
// between calls it also holds what Feed() appended since.
//
// Two line bounds: every command's text is bounded by max_line_bytes, except an ID command
// (RFC 2971), whose text plus literal payloads may reach max_id_line_bytes so that a client may
// send the RFC's maximum (30 pairs of 30-octet keys and 1024-octet values, ~31.8 KB). Whether a
// unit is an ID command is decided from its first bytes ("<tag> ID "), before more than
// max_line_bytes of it are accepted; any other command past max_line_bytes is fatal as before.
// Every buffer that may have held credentials is wiped when consumed or freed.
// Not thread-safe; one parser per client session, used on that session's worker.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"

namespace imapgate::imap {

// Bounds on client input. Every one is enforced and configurable.
struct ParserLimits {
  size_t max_line_bytes = 8192;     // a command's text, excluding literal payloads (RFC 7162 §4)
  // An ID command's text plus literal payloads. The RFC 2971 maximum is ~31.8 KB when quoted;
  // 32 KiB fits it with a 64-byte tag. Values below max_line_bytes mean max_line_bytes.
  size_t max_id_line_bytes = 32768;
  size_t max_literal_bytes = 8192;  // each literal's payload, and their sum in one command
  size_t max_tag_bytes = 64;        // RFC 9051 sets none; nginx uses 32
  size_t max_tokens = 128;          // tokens (atoms, strings, parentheses) in one command
};

enum class TokenKind { kAtom, kQuoted, kLiteral, kListStart, kListEnd };

// One argument token. For kAtom the value is the atom text as sent; for kQuoted it is the
// unescaped string; for kLiteral the payload. Values are SecretString: a LOGIN password is a token.
struct Token {
  TokenKind kind;
  SecretString value;
  bool is_string() const { return kind == TokenKind::kQuoted || kind == TokenKind::kLiteral; }
  // An astring (RFC 9051): an atom, a quoted string or a literal.
  bool is_astring() const { return kind == TokenKind::kAtom || is_string(); }
};

// A syntactically valid command: tag, upper-cased command name, and the argument tokens.
struct Command {
  std::string tag;
  std::string name;
  std::vector<Token> args;
};

enum class ParseEvent {
  kNeedMore,             // feed more bytes; nothing else to do
  kContinuationNeeded,   // a synchronizing literal was announced and is within bounds: the caller
                         // sends "+ Ready for literal data" and then feeds the payload
  kCommand,              // TakeCommand() returns a complete command
  kSaslResponse,         // (after ExpectSaslResponse) TakeSaslResponse() returns the line
  kBad,                  // the unit was consumed and is invalid: send "<tag> BAD <message>"
                         // (tag "*" when none was parsed); parsing can continue
  kFatal,                // framing cannot continue (line or literal over its bound, bad literal
                         // marker): send BAD with the message, then BYE and close. Sticky.
};

// What went wrong, as a code the caller can map without reading the message.
enum class ParseErrorCode {
  kNone,
  kSyntax,               // kBad: the unit was framed but is not a valid command
  kLineTooLong,          // kFatal: a command line over its bound (max_line_bytes, or the ID bound)
  kLiteralTooLarge,      // kFatal: a literal, or a command's literals, over max_literal_bytes
  kInvalidLiteral,       // kFatal: a malformed literal marker at a line end
  kSaslResponseTooLong,  // kFatal: a SASL continuation line over max_line_bytes
};

// Describes the last kBad or kFatal event. Messages are fixed texts, never client bytes.
struct ParseError {
  std::string tag;  // the offending command's tag if it parsed, else "*"
  std::string message;
  ParseErrorCode code = ParseErrorCode::kNone;
};

class CommandParser {
 public:
  explicit CommandParser(ParserLimits limits = {});

  // Appends bytes from the client. The parser keeps them until consumed by Next().
  void Feed(std::string_view bytes);

  // Returns the next event from the buffered bytes. Call until kNeedMore or kFatal.
  ParseEvent Next();

  // After kCommand: moves the command out.
  Command TakeCommand();
  // After kBad or kFatal.
  const ParseError& error() const { return error_; }

  // The next unit is a SASL continuation line (RFC 9051 AUTHENTICATE), not a command. It is a
  // single line of at most max_line_bytes, with no literals; Next() returns kSaslResponse.
  void ExpectSaslResponse();
  // After kSaslResponse: the line without its CRLF.
  SecretString TakeSaslResponse();

  // Bytes received but not yet consumed by an event (the STARTTLS injection check uses this).
  size_t buffered_bytes() const;
  // Moves out every unconsumed byte, raw, and empties the parser (for pipelining behind LOGIN).
  WipingBytes TakeBuffered();

 private:
  // One text line of the unit being framed (offsets relative to the unit start), and the
  // literal payload it announces, if any.
  struct FramedLine {
    size_t text_begin;
    size_t text_len;
    size_t literal_begin;
    size_t literal_len;
    bool has_literal;
  };

  ParseEvent NextSaslLine();
  ParseEvent Tokenize(size_t unit_len);
  ParseEvent Fail(ParseEvent event, ParseErrorCode code, std::string tag, std::string message);
  ParseEvent Fatal(ParseErrorCode code);
  // True if the unit being framed is an ID command (decided once, from its first line).
  bool UnitIsId();
  // The bound on the unit's text bytes (its literal payloads count too for an ID command).
  size_t TextLimit();
  // Wipes and drops the first n unconsumed bytes.
  void Consume(size_t n);
  void ResetFraming();
  const char* unit() const { return buffer_.data() + begin_; }

  ParserLimits limits_;
  ParseError error_;
  // Raw input: bytes [begin_, size) are unconsumed; bytes before begin_ are already wiped.
  WipingBytes buffer_;
  size_t begin_ = 0;
  // Framing state of the current unit, relative to begin_.
  std::vector<FramedLine> lines_;
  size_t line_begin_ = 0;         // start of the text line being scanned
  size_t scan_ = 0;               // next byte not yet examined
  size_t text_bytes_ = 0;         // text (and inner line ends) of completed lines
  size_t literal_total_ = 0;      // payload bytes announced so far in this unit
  size_t literal_remaining_ = 0;  // payload bytes still to arrive
  int unit_is_id_ = -1;           // -1: not decided yet for this unit
  bool expect_sasl_ = false;
  bool fatal_ = false;
  Command command_;
  SecretString sasl_response_;
};

}  // namespace imapgate::imap
