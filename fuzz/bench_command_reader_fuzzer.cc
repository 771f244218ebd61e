// Fuzz target for the fixture backend's CommandReader (bench/fixture_backend): arbitrary client
// bytes in chunks must yield bounded commands (≤ 64 tokens) or an error, never a crash or a hang.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bench/fixture_backend/command_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 64;
  std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  imapgate::bench::CommandReader reader(256, 1024);
  using R = imapgate::bench::CommandReader::Result;
  for (size_t off = 0; off < all.size(); off += chunk) {
    std::string_view in = all.substr(off, chunk);
    size_t pos = 0;
    for (int guard = 0; guard < 10000; ++guard) {
      R r = reader.Next(in, &pos);
      if (r == R::kError) return 0;
      if (r == R::kNeedMore) break;
      if (r == R::kCommand && reader.tokens().size() > 64) abort();
      if (pos > in.size()) abort();
    }
  }
  return 0;
}
