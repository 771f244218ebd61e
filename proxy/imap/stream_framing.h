// StreamFraming: follows both directions of a logged-in IMAP session just far enough to know
// where its lines and literals are, whether the backend said BYE, and when COMPRESS=DEFLATE
// (RFC 4978) starts. The relay asks it two questions before it writes a byte of its own to the
// client: is the backend's stream at a point where an untagged response may be inserted, and
// how must that response be framed (a plain line, or a deflate stored block once the stream is
// compressed).
//
// Pure and bounded: bytes in, no I/O, no allocation after construction. A literal's payload
// ({n} or {n+}, ~{n}) is skipped in O(1) whatever its size, so a message body with lines that
// look like "* BYE ..." is never read as a response. Per line only a short prefix (to classify
// it) and the last few bytes (to spot a literal) are kept. Where the framing cannot be followed
// (a literal length past 2^63, or bytes we cannot account for) it gives up for good: kLost, and
// the relay then writes nothing of its own into that stream.
//
// After COMPRESS is active the bytes are opaque. The backend's deflate stream is only watched
// for zlib's flush marker (00 00 FF FF, the end of the empty stored block of Z_SYNC_FLUSH or
// Z_FULL_FLUSH, which every IMAP server writes after each response): there, the next deflate
// block starts on a byte boundary, and a non-final stored block carrying "* BYE ...\r\n" is a
// valid continuation of the stream that any inflater decodes.
//
// Used by one Relay on its worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace imapgate::imap {

// Where one direction of the stream stands after the bytes seen so far.
enum class StreamPosition {
  kLineStart,        // between two lines (plaintext)
  kMidLine,          // inside a line, or right after a literal inside a command/response
  kInLiteral,        // inside a literal's payload
  kCompressedFlush,  // COMPRESS active; the stream ends at a deflate flush point
  kCompressedBlock,  // COMPRESS active; the stream ends inside a deflate block
  kLost,             // the framing could not be followed
};
const char* StreamPositionName(StreamPosition p);

class StreamFraming {
 public:
  // Longest line prefix kept to classify a line (tag + command/status); a tag longer than
  // this is not recognized (its COMPRESS command is then not seen: see FrameInjection).
  static constexpr size_t kPrefixBytes = 96;
  // Longest literal length accepted, in digits (more means kLost).
  static constexpr size_t kMaxLiteralDigits = 18;

  // Feeds bytes the client sent towards the backend (in order, including bytes it pipelined
  // behind LOGIN).
  void FromClient(const char* data, size_t n);
  // Feeds bytes the backend sent towards the client (in order, including anything imapgate
  // itself wrote to the client before the relay started, e.g. the LOGIN answer).
  void FromBackend(const char* data, size_t n);

  // True once the backend sent an untagged BYE at a line start (not inside a literal).
  bool backend_said_bye() const { return backend_said_bye_; }
  // True once the backend accepted a COMPRESS DEFLATE (both directions compressed after it).
  bool compressed() const { return compressed_; }
  StreamPosition backend_position() const;
  StreamPosition client_position() const;

  // The bytes to append to the backend→client stream so that the client reads `line` (a full
  // response line ending in CRLF) as the next response: the line itself at a line start, a
  // deflate stored block at a flush point, and "" where nothing can be inserted safely
  // (mid-line, inside a literal or a deflate block, or framing lost).
  std::string FrameInjection(std::string_view line) const;

 private:
  // The framing state of one direction.
  struct Direction {
    uint64_t literal_left = 0;  // payload bytes of the current literal still to come
    uint64_t literal_size = 0;  // the current literal's announced size
    bool literal_sync = false;  // {n}: the client waits for "+" (the server may refuse instead)
    bool at_line_start = true;
    bool lost = false;
    bool classified = false;    // this line's prefix was already looked at
    size_t prefix_len = 0;
    char prefix[kPrefixBytes];
    size_t tail_len = 0;        // last bytes of the current line (to spot "{123}" before LF)
    char tail[kMaxLiteralDigits + 4];
  };
  enum class Side { kClient, kBackend };

  void Feed(Side side, Direction& d, const char* data, size_t n);
  // Called at each LF: a literal introduction starts its payload, anything else ends the line.
  void EndLine(Side side, Direction& d);
  void Classify(Side side, Direction& d, bool whole_line);
  void WatchCompressed(const char* data, size_t n);
  // The backend answered `tag` with NO or BAD: if that refuses the client's synchronizing
  // literal before any of it was sent, the client will not send it.
  void CancelRefusedLiteral(std::string_view tag);

  Direction client_;
  Direction backend_;
  bool backend_said_bye_ = false;
  bool compressed_ = false;
  bool compress_pending_ = false;  // the client sent COMPRESS DEFLATE; its answer is awaited
  bool pending_compress_ok_ = false;  // the backend's OK to it is being read; deflate follows its LF
  size_t compress_tag_len_ = 0;
  char compress_tag_[kPrefixBytes];
  uint32_t backend_last4_ = 0;     // the last four compressed bytes from the backend
  size_t backend_compressed_bytes_ = 0;
};

}  // namespace imapgate::imap
