// HttpResponseParser: a pure, resumable, bounded HTTP/1.0 and HTTP/1.1 response parser.
//
// Feed() takes bytes as they arrive, in any split; the parser keeps what it needs between calls
// (a partial line, in wiping storage: header values may be secrets). It reads the status line,
// the headers (names case-insensitive; obsolete line folding, bare CR, bad names refused), then
// the body framed by Transfer-Encoding: chunked, by Content-Length, by nothing (1xx, 204, 304,
// a HEAD request) or by the end of the stream (neither header: Finish() ends it). Interim 1xx
// responses (not 101) are skipped. Bounds: status line plus headers (and chunked trailers) in
// max_header_bytes, at most max_header_count headers, body at most max_body_bytes. Error
// messages never quote a header value. One object per response; single-threaded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"

namespace imapgate::httpc {

struct HttpResponseLimits {
  size_t max_header_bytes = 16384;
  size_t max_header_count = 64;
  size_t max_body_bytes = 65536;
};

class HttpResponseParser {
 public:
  enum class State { kNeedMore, kDone, kError };
  enum class Error { kNone, kMalformed, kTooLarge, kTruncated };

  // head_request: the response to a HEAD has no body whatever its headers say.
  explicit HttpResponseParser(HttpResponseLimits limits = {}, bool head_request = false)
      : limits_(limits), head_request_(head_request) {}

  // Consumes bytes of `in` up to the end of the response; `*consumed` says how many (fewer than
  // in.size() only when the response ended before the input did). kDone and kError are final.
  State Feed(std::string_view in, size_t* consumed);
  // The peer closed its stream: completes a body read until close (kDone); any other response
  // not yet complete is kError (kTruncated).
  State Finish();

  State state() const { return state_; }
  Error error() const { return error_; }
  // Why it failed, for logs (never a header value).
  const std::string& error_message() const { return error_message_; }
  // True once any byte was fed (a response was started).
  bool started() const { return started_; }

  int status() const { return status_; }
  int version_minor() const { return version_minor_; }
  const std::vector<std::pair<std::string, SecretString>>& headers() const { return headers_; }
  std::vector<std::pair<std::string, SecretString>> TakeHeaders() { return std::move(headers_); }
  // The body so far; complete once kDone.
  std::string_view body() const { return std::string_view(body_.data(), body_.size()); }
  SecretString TakeBody();
  // Whether the connection may carry another request after this response (valid at kDone).
  bool keep_alive() const { return keep_alive_; }

 private:
  enum class Phase { kStatusLine, kHeaders, kBodyLength, kBodyClose, kChunkSize, kChunkData, kChunkDataEnd,
                     kTrailers, kDone };
  State Fail(Error e, std::string message);
  // Collects one line (without CRLF) into line_; false when more input is needed.
  bool TakeLine(std::string_view in, size_t* pos, size_t limit, bool* too_long, bool* bad);
  bool ParseStatusLine();
  bool ParseHeaderLine();
  bool StartBody();
  bool AppendBody(std::string_view bytes);

  HttpResponseLimits limits_;
  bool head_request_;
  State state_ = State::kNeedMore;
  Error error_ = Error::kNone;
  std::string error_message_;
  Phase phase_ = Phase::kStatusLine;
  bool started_ = false;
  size_t header_bytes_ = 0;
  WipingStringBase line_;
  int status_ = 0;
  int version_minor_ = 0;
  std::vector<std::pair<std::string, SecretString>> headers_;
  WipingStringBase body_;
  size_t remaining_ = 0;  // body or chunk bytes still to read
  bool keep_alive_ = false;
};

}  // namespace imapgate::httpc
