#include "httpc/http_response_parser.h"
#include "common/ascii.h"

#include <algorithm>
#include <cstring>

namespace imapgate::httpc {
namespace {

constexpr size_t kMaxChunkLineBytes = 1024;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }


bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// True if the comma-separated list `v` holds `token` (case-insensitive).
bool ListHas(std::string_view v, std::string_view token) {
  while (!v.empty()) {
    size_t comma = v.find(',');
    if (AsciiEqualsIgnoreCase(Trim(v.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

HttpResponseParser::State HttpResponseParser::Fail(Error e, std::string message) {
  state_ = State::kError;
  error_ = e;
  error_message_ = std::move(message);
  return state_;
}

bool HttpResponseParser::TakeLine(std::string_view in, size_t* pos, size_t limit, bool* too_long, bool* bad) {
  size_t start = *pos;
  size_t lf = in.find('\n', start);
  size_t end = lf == std::string_view::npos ? in.size() : lf;
  if (line_.size() + (end - start) > limit) {
    *too_long = true;
    return false;
  }
  line_.append(in.data() + start, end - start);
  if (lf == std::string_view::npos) {
    *pos = in.size();
    return false;
  }
  *pos = lf + 1;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (line_.find('\r') != WipingStringBase::npos || line_.find('\0') != WipingStringBase::npos) *bad = true;
  return true;
}

bool HttpResponseParser::ParseStatusLine() {
  std::string_view l(line_.data(), line_.size());
  // "HTTP/1.x SSS[ reason]"
  if (l.size() < 12 || l.substr(0, 7) != "HTTP/1." || (l[7] != '0' && l[7] != '1') || l[8] != ' ') return false;
  for (int i = 9; i < 12; ++i) {
    if (l[i] < '0' || l[i] > '9') return false;
  }
  if (l.size() > 12 && l[12] != ' ') return false;
  for (char c : l.substr(12)) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  version_minor_ = l[7] - '0';
  status_ = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  return status_ >= 100 && status_ <= 599;
}

bool HttpResponseParser::ParseHeaderLine() {
  std::string_view l(line_.data(), line_.size());
  if (l[0] == ' ' || l[0] == '\t') return false;  // obsolete line folding
  size_t colon = l.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view name = l.substr(0, colon);
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  std::string_view value = Trim(l.substr(colon + 1));
  for (char c : value) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  headers_.emplace_back(std::string(name), SecretString(value));
  return true;
}

bool HttpResponseParser::StartBody() {
  // Framing and keep-alive from the headers.
  bool has_length = false;
  bool chunked = false;
  bool has_te = false;
  uint64_t length = 0;
  bool conn_close = false;
  bool conn_keep = false;
  for (const auto& [name, value] : headers_) {
    std::string_view v = value.view();
    if (AsciiEqualsIgnoreCase(name, "Content-Length")) {
      if (v.empty() || v.size() > 19) return Fail(Error::kMalformed, "bad Content-Length"), false;
      uint64_t n = 0;
      for (char c : v) {
        if (c < '0' || c > '9') return Fail(Error::kMalformed, "bad Content-Length"), false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (has_length && n != length) return Fail(Error::kMalformed, "conflicting Content-Length headers"), false;
      has_length = true;
      length = n;
    } else if (AsciiEqualsIgnoreCase(name, "Transfer-Encoding")) {
      if (has_te || !AsciiEqualsIgnoreCase(Trim(v), "chunked")) {
        return Fail(Error::kMalformed, "unsupported Transfer-Encoding"), false;
      }
      has_te = true;
      chunked = true;
    } else if (AsciiEqualsIgnoreCase(name, "Connection")) {
      if (ListHas(v, "close")) conn_close = true;
      if (ListHas(v, "keep-alive")) conn_keep = true;
    }
  }
  if (has_te && has_length) return Fail(Error::kMalformed, "both Transfer-Encoding and Content-Length"), false;
  keep_alive_ = version_minor_ == 1 ? !conn_close : (conn_keep && !conn_close);
  if (head_request_ || status_ == 204 || status_ == 304) {
    phase_ = Phase::kDone;
  } else if (chunked) {
    phase_ = Phase::kChunkSize;
  } else if (has_length) {
    if (length > limits_.max_body_bytes) return Fail(Error::kTooLarge, "response body too large"), false;
    remaining_ = static_cast<size_t>(length);
    phase_ = remaining_ == 0 ? Phase::kDone : Phase::kBodyLength;
  } else {
    keep_alive_ = false;  // the body ends when the connection does
    phase_ = Phase::kBodyClose;
  }
  return true;
}

bool HttpResponseParser::AppendBody(std::string_view bytes) {
  if (body_.size() + bytes.size() > limits_.max_body_bytes) {
    Fail(Error::kTooLarge, "response body too large");
    return false;
  }
  body_.append(bytes.data(), bytes.size());
  return true;
}

HttpResponseParser::State HttpResponseParser::Feed(std::string_view in, size_t* consumed) {
  size_t pos = 0;
  *consumed = 0;
  if (state_ != State::kNeedMore) return state_;
  if (!in.empty()) started_ = true;
  while (state_ == State::kNeedMore) {
    if (phase_ == Phase::kDone) {
      state_ = State::kDone;
      break;
    }
    if (pos == in.size()) break;
    bool too_long = false;
    bool bad = false;
    switch (phase_) {
      case Phase::kStatusLine:
      case Phase::kHeaders:
      case Phase::kTrailers: {
        size_t before = pos;
        // header_bytes_ already counts the part of the line held in line_.
        size_t budget = limits_.max_header_bytes - header_bytes_ + line_.size();
        bool got = TakeLine(in, &pos, budget, &too_long, &bad);
        if (too_long) return *consumed = pos, Fail(Error::kTooLarge, "response headers too large");
        header_bytes_ += pos - before;
        if (header_bytes_ > limits_.max_header_bytes) {
          return *consumed = pos, Fail(Error::kTooLarge, "response headers too large");
        }
        if (!got) break;
        if (bad) return *consumed = pos, Fail(Error::kMalformed, "bad byte in response header");
        if (phase_ == Phase::kStatusLine) {
          if (!ParseStatusLine()) return *consumed = pos, Fail(Error::kMalformed, "bad status line");
          if (status_ == 101) return *consumed = pos, Fail(Error::kMalformed, "unexpected 101 response");
          phase_ = Phase::kHeaders;
        } else if (line_.empty()) {
          if (phase_ == Phase::kTrailers) {
            phase_ = Phase::kDone;
          } else if (status_ < 200) {
            // An interim response: skip it, the final one follows.
            headers_.clear();
            phase_ = Phase::kStatusLine;
          } else if (!StartBody()) {
            return *consumed = pos, state_;
          }
        } else if (phase_ == Phase::kTrailers) {
          // Trailers are read and dropped (counted in the header bound).
        } else {
          if (headers_.size() >= limits_.max_header_count) {
            return *consumed = pos, Fail(Error::kTooLarge, "too many response headers");
          }
          if (!ParseHeaderLine()) return *consumed = pos, Fail(Error::kMalformed, "malformed response header");
        }
        SecureWipe(line_.data(), line_.size());
        line_.clear();
        break;
      }
      case Phase::kBodyLength:
      case Phase::kChunkData: {
        size_t n = std::min(remaining_, in.size() - pos);
        if (!AppendBody(in.substr(pos, n))) return *consumed = pos, state_;
        pos += n;
        remaining_ -= n;
        if (remaining_ == 0) phase_ = phase_ == Phase::kBodyLength ? Phase::kDone : Phase::kChunkDataEnd;
        break;
      }
      case Phase::kBodyClose: {
        if (!AppendBody(in.substr(pos))) return *consumed = pos, state_;
        pos = in.size();
        break;
      }
      case Phase::kChunkSize:
      case Phase::kChunkDataEnd: {
        bool got = TakeLine(in, &pos, kMaxChunkLineBytes, &too_long, &bad);
        if (too_long) return *consumed = pos, Fail(Error::kMalformed, "chunk size line too long");
        if (!got) break;
        std::string_view l(line_.data(), line_.size());
        if (bad) return *consumed = pos, Fail(Error::kMalformed, "bad byte in chunk framing");
        if (phase_ == Phase::kChunkDataEnd) {
          if (!l.empty()) return *consumed = pos, Fail(Error::kMalformed, "chunk not followed by CRLF");
          phase_ = Phase::kChunkSize;
        } else {
          std::string_view hex = Trim(l.substr(0, l.find(';')));
          if (hex.empty() || hex.size() > 8) return *consumed = pos, Fail(Error::kMalformed, "bad chunk size");
          size_t size = 0;
          for (char c : hex) {
            int d = (c >= '0' && c <= '9') ? c - '0' : (Lower(c) >= 'a' && Lower(c) <= 'f') ? Lower(c) - 'a' + 10 : -1;
            if (d < 0) return *consumed = pos, Fail(Error::kMalformed, "bad chunk size");
            size = size * 16 + static_cast<size_t>(d);
          }
          if (size > limits_.max_body_bytes - body_.size()) {
            return *consumed = pos, Fail(Error::kTooLarge, "response body too large");
          }
          remaining_ = size;
          phase_ = size == 0 ? Phase::kTrailers : Phase::kChunkData;
        }
        line_.clear();
        break;
      }
      case Phase::kDone:
        break;
    }
  }
  *consumed = pos;
  return state_;
}

HttpResponseParser::State HttpResponseParser::Finish() {
  if (state_ != State::kNeedMore) return state_;
  if (phase_ == Phase::kBodyClose) {
    phase_ = Phase::kDone;
    state_ = State::kDone;
    return state_;
  }
  if (phase_ == Phase::kDone) return state_ = State::kDone;
  return Fail(Error::kTruncated, started_ ? "connection closed before the response was complete"
                                          : "connection closed before any response");
}

SecretString HttpResponseParser::TakeBody() {
  SecretString s(std::string_view(body_.data(), body_.size()));
  SecureWipe(body_.data(), body_.size());
  body_.clear();
  return s;
}

}  // namespace imapgate::httpc
