#include "imap/stream_framing.h"

#include <string.h>

#include <algorithm>

namespace imapgate::imap {
namespace {

// zlib's flush marker: the LEN/NLEN of an empty stored block, the last bytes of every
// Z_SYNC_FLUSH / Z_FULL_FLUSH.
constexpr uint32_t kFlushMarker = 0x0000ffffu;
constexpr size_t kMaxStoredBlock = 65535;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// True if `s` starts with `word` (lowercase ASCII), compared case-insensitively.
bool StartsWithWord(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Lower(s[i]) != word[i]) return false;
  }
  return true;
}

// True if `s` is `word` followed by a space, or (for a whole line) by nothing.
bool IsWordThenSpace(std::string_view s, std::string_view word, bool whole_line) {
  if (!StartsWithWord(s, word)) return false;
  if (s.size() == word.size()) return whole_line;
  return s[word.size()] == ' ';
}

}  // namespace

const char* StreamPositionName(StreamPosition p) {
  switch (p) {
    case StreamPosition::kLineStart: return "line_start";
    case StreamPosition::kMidLine: return "mid_line";
    case StreamPosition::kInLiteral: return "in_literal";
    case StreamPosition::kCompressedFlush: return "compressed_flush";
    case StreamPosition::kCompressedBlock: return "compressed_block";
    case StreamPosition::kLost: return "lost";
  }
  return "unknown";
}

void StreamFraming::FromClient(const char* data, size_t n) {
  if (compressed_) return;  // opaque from here on; nothing of the client's stream matters
  Feed(Side::kClient, client_, data, n);
}

void StreamFraming::FromBackend(const char* data, size_t n) {
  if (compressed_) {
    WatchCompressed(data, n);
    return;
  }
  Feed(Side::kBackend, backend_, data, n);
}

void StreamFraming::Feed(Side side, Direction& d, const char* data, size_t n) {
  size_t i = 0;
  while (i < n && !d.lost) {
    if (d.literal_left > 0) {
      uint64_t take = std::min<uint64_t>(d.literal_left, n - i);
      d.literal_left -= take;
      i += static_cast<size_t>(take);
      continue;  // the line goes on after the literal
    }
    const char* lf = static_cast<const char*>(memchr(data + i, '\n', n - i));
    size_t end = lf ? static_cast<size_t>(lf - data) : n;
    const char* seg = data + i;
    size_t seg_len = end - i;
    if (!d.classified) {
      size_t copy = std::min(seg_len, kPrefixBytes - d.prefix_len);
      memcpy(d.prefix + d.prefix_len, seg, copy);
      d.prefix_len += copy;
      if (d.prefix_len == kPrefixBytes) Classify(side, d, false);
    }
    if (seg_len > 0 || lf) d.at_line_start = false;
    // Keep the last bytes of the line: a literal's "{123}" sits right before the LF.
    constexpr size_t kTail = sizeof d.tail;
    if (seg_len >= kTail) {
      memcpy(d.tail, seg + seg_len - kTail, kTail);
      d.tail_len = kTail;
    } else if (seg_len > 0) {
      size_t keep = std::min(d.tail_len, kTail - seg_len);
      memmove(d.tail, d.tail + d.tail_len - keep, keep);
      memcpy(d.tail + keep, seg, seg_len);
      d.tail_len = keep + seg_len;
    }
    if (!lf) return;
    i = end + 1;
    EndLine(side, d);
    if (compressed_) {  // the backend's OK to COMPRESS ended here: the rest is deflate
      if (side == Side::kBackend) WatchCompressed(data + i, n - i);
      return;
    }
  }
}

void StreamFraming::EndLine(Side side, Direction& d) {
  // Does the line end with a literal introduction: "{digits}" or "{digits+}" (then CR, LF)?
  size_t len = d.tail_len;
  if (len > 0 && d.tail[len - 1] == '\r') --len;
  bool literal = false;
  bool sync = true;
  uint64_t size = 0;
  if (len > 0 && d.tail[len - 1] == '}') {
    size_t p = len - 1;
    if (p > 0 && d.tail[p - 1] == '+') {
      --p;
      sync = false;
    }
    size_t digits_end = p;
    while (p > 0 && d.tail[p - 1] >= '0' && d.tail[p - 1] <= '9') --p;
    size_t digits = digits_end - p;
    if (digits > 0 && p > 0 && d.tail[p - 1] == '{') {
      if (digits > kMaxLiteralDigits) {
        d.lost = true;
        return;
      }
      for (size_t k = p; k < digits_end; ++k) size = size * 10 + static_cast<uint64_t>(d.tail[k] - '0');
      literal = true;
    } else if (digits > 0 && p == 0 && d.tail_len == sizeof d.tail) {
      d.lost = true;  // a run of digits longer than we keep: a literal we cannot size
      return;
    }
  }
  if (!d.classified) Classify(side, d, !literal);
  d.tail_len = 0;
  if (literal) {
    d.literal_left = size;  // the line continues after the payload
    d.literal_size = size;
    d.literal_sync = sync;
    return;
  }
  d.at_line_start = true;
  d.classified = false;
  d.prefix_len = 0;
  if (side == Side::kBackend && compress_pending_ && pending_compress_ok_) {
    compress_pending_ = false;
    pending_compress_ok_ = false;
    compressed_ = true;
  }
}

void StreamFraming::Classify(Side side, Direction& d, bool whole_line) {
  d.classified = true;
  std::string_view line(d.prefix, d.prefix_len);
  if (whole_line && !line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (side == Side::kBackend) {
    if (line.size() >= 2 && line[0] == '*' && line[1] == ' ') {
      if (IsWordThenSpace(line.substr(2), "bye", whole_line)) backend_said_bye_ = true;
      return;
    }
    size_t space = line.find(' ');
    if (space != std::string_view::npos && space > 0 && line[0] != '+') {
      std::string_view status = line.substr(space + 1);
      if (IsWordThenSpace(status, "no", whole_line) || IsWordThenSpace(status, "bad", whole_line)) {
        CancelRefusedLiteral(line.substr(0, space));
      }
    }
    if (!compress_pending_) return;
    std::string_view tag(compress_tag_, compress_tag_len_);
    if (line.size() <= tag.size() || line.substr(0, tag.size()) != tag || line[tag.size()] != ' ') return;
    std::string_view status = line.substr(tag.size() + 1);
    if (IsWordThenSpace(status, "ok", whole_line)) {
      pending_compress_ok_ = true;  // compression starts after this line's LF
    } else {
      compress_pending_ = false;  // NO or BAD: the stream stays plain
    }
    return;
  }
  // Client: exactly "<tag> COMPRESS DEFLATE".
  if (!whole_line) return;
  size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0) return;
  std::string_view rest = line.substr(space + 1);
  constexpr std::string_view kCommand = "compress deflate";
  if (rest.size() != kCommand.size() || !StartsWithWord(rest, kCommand)) return;
  compress_pending_ = true;
  pending_compress_ok_ = false;
  compress_tag_len_ = space;
  memcpy(compress_tag_, line.data(), space);
}

void StreamFraming::CancelRefusedLiteral(std::string_view tag) {
  Direction& c = client_;
  if (c.lost || c.literal_left == 0 || !c.literal_sync || c.literal_left != c.literal_size) return;
  std::string_view line(c.prefix, c.prefix_len);
  size_t space = line.find(' ');
  if (space == std::string_view::npos || line.substr(0, space) != tag) return;
  // The command ended with the server's refusal: the client's next bytes start a new line.
  c.literal_left = 0;
  c.at_line_start = true;
  c.classified = false;
  c.prefix_len = 0;
  c.tail_len = 0;
}

void StreamFraming::WatchCompressed(const char* data, size_t n) {
  size_t from = n > 4 ? n - 4 : 0;
  for (size_t k = from; k < n; ++k) {
    backend_last4_ = (backend_last4_ << 8) | static_cast<unsigned char>(data[k]);
  }
  backend_compressed_bytes_ += n;
}

StreamPosition StreamFraming::backend_position() const {
  if (compressed_) {
    // Before the backend's first compressed byte the stream is at its first block boundary.
    bool at_flush = backend_compressed_bytes_ == 0 ||
                    (backend_compressed_bytes_ >= 4 && backend_last4_ == kFlushMarker);
    return at_flush ? StreamPosition::kCompressedFlush : StreamPosition::kCompressedBlock;
  }
  if (backend_.lost) return StreamPosition::kLost;
  if (backend_.literal_left > 0) return StreamPosition::kInLiteral;
  return backend_.at_line_start ? StreamPosition::kLineStart : StreamPosition::kMidLine;
}

StreamPosition StreamFraming::client_position() const {
  if (compressed_) return StreamPosition::kCompressedBlock;  // not followed
  if (client_.lost) return StreamPosition::kLost;
  if (client_.literal_left > 0) return StreamPosition::kInLiteral;
  return client_.at_line_start ? StreamPosition::kLineStart : StreamPosition::kMidLine;
}

std::string StreamFraming::FrameInjection(std::string_view line) const {
  switch (backend_position()) {
    case StreamPosition::kLineStart:
      return std::string(line);
    case StreamPosition::kCompressedFlush: {
      if (line.size() > kMaxStoredBlock) return "";
      // A non-final stored block: header bits 000 padded to the byte, LEN, ~LEN, the bytes.
      uint16_t len = static_cast<uint16_t>(line.size());
      uint16_t nlen = static_cast<uint16_t>(~len);
      std::string block;
      block.reserve(5 + line.size());
      block.push_back('\0');
      block.push_back(static_cast<char>(len & 0xff));
      block.push_back(static_cast<char>(len >> 8));
      block.push_back(static_cast<char>(nlen & 0xff));
      block.push_back(static_cast<char>(nlen >> 8));
      block.append(line);
      return block;
    }
    default:
      return "";
  }
}

}  // namespace imapgate::imap
