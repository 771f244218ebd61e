// Fuzzes the SASL codecs: strict base64 must round-trip exactly (decode(x) == y implies
// encode(y) == x, since only canonical encodings are accepted), respect its size bound, and PLAIN
// parsing must obey its field rules.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "imap/sasl.h"

using imapgate::imap::DecodeBase64;
using imapgate::imap::EncodeBase64;
using imapgate::imap::ParseSaslPlain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t max = data[0] * 8;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (auto decoded = DecodeBase64(text, max)) {
    if (decoded->size() > max) abort();
    if (EncodeBase64(decoded->view()) != text) abort();
    if (auto plain = ParseSaslPlain(decoded->view())) {
      if (plain->authcid.empty() || plain->password.empty()) abort();
      if (plain->authcid.size() > 1024 || plain->password.size() > 1024) abort();
    }
  }
  // The raw bytes as a PLAIN message, and their encoding back through the decoder.
  if (auto plain = ParseSaslPlain(text)) {
    if (plain->authzid.size() + plain->authcid.size() + plain->password.size() + 2 != text.size()) {
      abort();
    }
  }
  const std::string encoded = EncodeBase64(text);
  auto round = DecodeBase64(encoded, text.size());
  if (!round || round->view() != text) abort();
  return 0;
}
