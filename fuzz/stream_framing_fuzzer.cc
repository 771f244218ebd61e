// Fuzzes imap::StreamFraming: arbitrary bytes in both directions must never crash it, and the
// framing must not depend on how the bytes were split into reads (the relay sees arbitrary
// chunks). Input: one byte choosing the chunk size, then records [direction][length][bytes].
#include <cstdint>
#include <cstdlib>
#include <string>

#include "imap/stream_framing.h"

using imapgate::imap::StreamFraming;
using imapgate::imap::StreamPosition;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = data[0] % 64 + 1;
  StreamFraming whole;
  StreamFraming chunked;
  size_t i = 1;
  while (i + 2 <= size) {
    const bool from_client = data[i] & 1;
    size_t len = data[i + 1];
    i += 2;
    if (len > size - i) len = size - i;
    const char* p = reinterpret_cast<const char*>(data + i);
    if (from_client) {
      whole.FromClient(p, len);
    } else {
      whole.FromBackend(p, len);
    }
    for (size_t off = 0; off < len; off += chunk) {
      size_t n = len - off < chunk ? len - off : chunk;
      if (from_client) {
        chunked.FromClient(p + off, n);
      } else {
        chunked.FromBackend(p + off, n);
      }
    }
    i += len;
  }
  if (whole.backend_position() != chunked.backend_position()) abort();
  if (whole.client_position() != chunked.client_position()) abort();
  if (whole.backend_said_bye() != chunked.backend_said_bye()) abort();
  if (whole.compressed() != chunked.compressed()) abort();
  const std::string bye = "* BYE x\r\n";
  std::string framed = whole.FrameInjection(bye);
  switch (whole.backend_position()) {
    case StreamPosition::kLineStart:
      if (framed != bye) abort();
      break;
    case StreamPosition::kCompressedFlush:
      if (framed.size() != bye.size() + 5) abort();
      break;
    default:
      if (!framed.empty()) abort();
  }
  return 0;
}
