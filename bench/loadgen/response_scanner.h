// ResponseScanner: splits an IMAP server's byte stream into response lines and literal payloads.
//
// Pure and resumable: feed whatever bytes arrived; Next() returns one event at a time (a
// complete line without its CRLF, a chunk of literal payload, need-more, or an error). A line
// wholly inside the input is returned as a view into it (no copy); only a line split across
// reads is copied into the scanner's own buffer, which ReleaseMemory() frees when the session
// goes idle. Bounded: a line longer than max_line or a literal larger than max_literal is an
// error. A line that ends in {n} / {n+} / ~{n} is followed by n literal bytes, reported as
// kLiteral chunks (never copied); the line after a literal continues the same response
// (response_start false). One scanner per connection; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace imapgate::bench {

constexpr size_t kMaxResponseLine = 64 * 1024;
constexpr uint64_t kMaxResponseLiteral = 64ull * 1024 * 1024;

class ResponseScanner {
 public:
  enum class Kind { kNeedMore, kLine, kLiteral, kError };
  struct Event {
    Kind kind = Kind::kNeedMore;
    std::string_view line;       // kLine: the line without CRLF; valid until the next call
    bool response_start = true;  // kLine: false for the text that follows a literal
    uint64_t literal_bytes = 0;  // kLiteral: payload bytes consumed by this event
  };

  ResponseScanner(size_t max_line = kMaxResponseLine, uint64_t max_literal = kMaxResponseLiteral)
      : max_line_(max_line), max_literal_(max_literal) {}

  // Scans in[*pos..]; advances *pos past what the event consumed. kNeedMore means every byte
  // was consumed (a partial line is kept inside). After kError the stream is unusable.
  Event Next(std::string_view in, size_t* pos);
  // True when no partial line or literal is pending.
  bool at_boundary() const { return partial_.empty() && literal_left_ == 0; }
  // Frees the partial-line buffer's memory if it is empty.
  void ReleaseMemory();

 private:
  Event FinishLine(std::string_view line);

  size_t max_line_;
  uint64_t max_literal_;
  std::string partial_;         // bytes of a line split across reads
  std::string line_holder_;     // a completed split line, viewed by the last event
  uint64_t literal_left_ = 0;   // payload bytes still to skip
  bool after_literal_ = false;  // the next line continues a response
};

// What a response line is. Case-insensitive on the status word.
struct LineInfo {
  enum class Type { kUntagged, kContinuation, kTagged };
  enum class Status { kNone, kOk, kNo, kBad, kBye, kPreauth };
  Type type = Type::kUntagged;
  std::string_view tag;  // kTagged only
  Status status = Status::kNone;
};

// Classifies a response line (response_start lines only; the tail after a literal is not one).
LineInfo ClassifyLine(std::string_view line);

// The literal announced at the end of a line: -1 if none, -2 if malformed or above max_literal,
// else its size. Accepts {n}, {n+} and ~{n}.
int64_t TrailingLiteralSize(std::string_view line, uint64_t max_literal = kMaxResponseLiteral);

}  // namespace imapgate::bench
