// Fuzzes CommandParser framing and tokenizing plus pre-auth validation.
//
// Input layout: byte 0 picks the chunk sizes (1..64 by a small PRNG seeded from it), byte 1 picks
// small limits or the defaults and how often to switch into SASL-response mode; the rest is the
// client byte stream. Invariants: the parser never holds more than one bounded unit plus the
// last chunk, kFatal is sticky, every BAD has a tag and a fixed message, and the same stream
// gives the same events whatever the chunking.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "imap/command_parser.h"
#include "imap/preauth_command.h"

using imapgate::imap::CommandParser;
using imapgate::imap::ParseEvent;
using imapgate::imap::ParserLimits;

namespace {

#define CHECK(cond)       \
  do {                    \
    if (!(cond)) abort(); \
  } while (0)

// Runs the stream through one parser and returns a transcript of the events.
std::string Run(std::string_view stream, uint8_t chunk_seed, uint8_t mode, bool whole) {
  ParserLimits limits;
  if (mode & 1) {
    limits.max_line_bytes = 64;
    limits.max_id_line_bytes = 160;
    limits.max_literal_bytes = 32;
    limits.max_tag_bytes = 8;
    limits.max_tokens = 12;
  }
  const unsigned sasl_every = (mode >> 1) & 7;  // 0: never
  CommandParser parser(limits);
  std::string transcript;
  uint32_t rng = chunk_seed * 2654435761u + 1;
  size_t pos = 0;
  unsigned commands = 0;
  while (pos < stream.size()) {
    rng = rng * 1103515245u + 12345u;
    const size_t chunk = whole ? stream.size() : 1 + (rng >> 16) % 64;
    const size_t n = std::min(chunk, stream.size() - pos);
    parser.Feed(stream.substr(pos, n));
    pos += n;
    for (;;) {
      const ParseEvent e = parser.Next();
      if (e == ParseEvent::kNeedMore) {
        CHECK(parser.buffered_bytes() <=
              std::max(limits.max_line_bytes, limits.max_id_line_bytes) + limits.max_literal_bytes + 2);
        break;
      }
      transcript.push_back(static_cast<char>('0' + static_cast<int>(e)));
      if (e == ParseEvent::kFatal) {
        CHECK(parser.Next() == ParseEvent::kFatal);
        CHECK(!parser.error().tag.empty() && !parser.error().message.empty());
        transcript += parser.error().tag + "|" + parser.error().message;
        return transcript;
      }
      if (e == ParseEvent::kBad) {
        CHECK(!parser.error().tag.empty() && !parser.error().message.empty());
        transcript += parser.error().tag + "|" + parser.error().message;
      } else if (e == ParseEvent::kSaslResponse) {
        imapgate::SecretString line = parser.TakeSaslResponse();
        CHECK(line.size() <= limits.max_line_bytes);
        transcript.append(line.view());
      } else if (e == ParseEvent::kCommand) {
        imapgate::imap::Command command = parser.TakeCommand();
        CHECK(!command.tag.empty() && command.tag.size() <= limits.max_tag_bytes);
        CHECK(!command.name.empty());
        CHECK(command.args.size() <= limits.max_tokens);
        transcript += command.tag + " " + command.name;
        imapgate::imap::PreAuthValidation v =
            imapgate::imap::ValidatePreAuthCommand(std::move(command));
        CHECK(v.command.has_value() != !v.bad_reason.empty());
        if (sasl_every != 0 && ++commands % sasl_every == 0) parser.ExpectSaslResponse();
      }
    }
  }
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::string chunked = Run(stream, data[0], data[1], false);
  const std::string whole = Run(stream, data[0], data[1], true);
  CHECK(chunked == whole);
  return 0;
}
