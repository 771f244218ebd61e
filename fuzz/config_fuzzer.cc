// Fuzz target for the YAML config loader: arbitrary text must yield a Config or well-formed
// "FILE:LINE:COL: message" errors, never a crash, an escaped exception or unbounded work.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto result = imapgate::config::LoadConfigText(text, "/fuzz/imapgate.yaml");
  if (!result.ok()) {
    const std::string& m = result.status().message();
    if (m.rfind("/fuzz/imapgate.yaml:", 0) != 0) abort();  // every error names the file first
  } else if ((*result)->listeners.empty()) {
    abort();  // a valid config always has a listener
  }
  return 0;
}
