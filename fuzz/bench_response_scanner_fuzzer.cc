// Fuzz target for the load generator's ResponseScanner (bench/loadgen): arbitrary server bytes,
// fed in chunks whose sizes come from the first input byte, must yield bounded lines and
// literal counts, never a crash or an event that consumes nothing without progress.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bench/loadgen/response_scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 64;
  std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  imapgate::bench::ResponseScanner scanner(256, 4096);
  for (size_t off = 0; off < all.size(); off += chunk) {
    std::string_view in = all.substr(off, chunk);
    size_t pos = 0;
    for (int guard = 0; guard < 10000; ++guard) {
      size_t before = pos;
      auto ev = scanner.Next(in, &pos);
      if (ev.kind == imapgate::bench::ResponseScanner::Kind::kError) return 0;
      if (ev.kind == imapgate::bench::ResponseScanner::Kind::kNeedMore) break;
      if (ev.kind == imapgate::bench::ResponseScanner::Kind::kLine) {
        if (ev.line.size() > 256) abort();  // the line bound holds
        imapgate::bench::ClassifyLine(ev.line);
      }
      if (pos > in.size()) abort();
      if (pos == before && ev.kind == imapgate::bench::ResponseScanner::Kind::kLiteral &&
          ev.literal_bytes == 0) {
        abort();  // an event that consumed nothing would loop forever
      }
    }
  }
  return 0;
}
