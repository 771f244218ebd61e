// Fuzz target for the HTTP/1.x response parser (httpc/http_response_parser.h) and the URL parser
// (httpc/url.h). Checks, beyond "no crash":
//  - all at once, byte by byte and split at one point give the same answer (state, error, status,
//    body, keep-alive, bytes consumed);
//  - the bounds hold: body within max_body_bytes, headers within max_header_count;
//  - a URL that parses is within its bounds and starts its target with '/'.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "httpc/http_response_parser.h"
#include "httpc/url.h"

namespace h = imapgate::httpc;

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

struct Outcome {
  h::HttpResponseParser::State state;
  h::HttpResponseParser::Error error;
  int status;
  std::string body;
  bool keep_alive;
  size_t consumed;
  size_t headers;
};

// split 0: all at once; 1: byte by byte; k > 1: in two parts, the first k - 1 bytes long.
Outcome Run(std::string_view in, const h::HttpResponseLimits& limits, bool head, size_t split) {
  h::HttpResponseParser p(limits, head);
  size_t total = 0;
  h::HttpResponseParser::State s = h::HttpResponseParser::State::kNeedMore;
  for (size_t pos = 0; pos < in.size() && s == h::HttpResponseParser::State::kNeedMore;) {
    size_t n = in.size() - pos;
    if (split == 1) n = 1;
    if (split > 1 && pos == 0) n = std::min(split - 1, in.size());
    size_t used = 0;
    s = p.Feed(in.substr(pos, n), &used);
    Check(used <= n);
    total += used;
    if (s == h::HttpResponseParser::State::kNeedMore) Check(used == n);
    pos += n;
  }
  if (s == h::HttpResponseParser::State::kNeedMore) s = p.Finish();
  Check(p.body().size() <= limits.max_body_bytes);
  Check(p.headers().size() <= limits.max_header_count);
  return Outcome{s, p.error(), p.status(), std::string(p.body()), p.keep_alive(), total, p.headers().size()};
}

bool Same(const Outcome& a, const Outcome& b) {
  if (a.state != b.state || a.error != b.error) return false;
  if (a.state != h::HttpResponseParser::State::kDone) return true;
  return a.status == b.status && a.body == b.body && a.keep_alive == b.keep_alive && a.consumed == b.consumed &&
         a.headers == b.headers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  h::HttpResponseLimits limits;
  limits.max_header_bytes = (flags & 1) ? 64 : 4096;
  limits.max_header_count = (flags & 2) ? 2 : 32;
  limits.max_body_bytes = (flags & 4) ? 8 : 4096;
  bool head = (flags & 8) != 0;
  Outcome whole = Run(in, limits, head, 0);
  Outcome bytes = Run(in, limits, head, 1);
  Check(Same(whole, bytes));
  if (in.size() > 2) {
    Outcome split = Run(in, limits, head, 2 + (flags >> 4) % (in.size() - 1));
    Check(Same(whole, split));
  }
  if (whole.state == h::HttpResponseParser::State::kDone) Check(whole.status >= 200 && whole.status <= 599);

  auto url = h::ParseUrl(in);
  if (url.ok()) {
    Check(in.size() <= h::kMaxUrlBytes);
    Check(!url->target.empty() && url->target[0] == '/');
    Check(url->host.size() <= h::kMaxHostBytes);
    Check(url->unix_path.size() <= h::kMaxUnixPathBytes);
    Check(!url->HostHeader().empty());
  }
  return 0;
}
