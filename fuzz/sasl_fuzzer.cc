// Fuzzes the SASL codecs: strict base64 must round-trip exactly (decode(x) == y implies
// encode(y) == x, since only canonical encodings are accepted), respect its size bound, and PLAIN,
// LOGIN, XOAUTH2 and OAUTHBEARER parsing must obey their field rules and bounds; what XOAUTH2
// and OAUTHBEARER accept must survive the encoders used towards the backend unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "imap/sasl.h"

using imapgate::imap::DecodeBase64;
using imapgate::imap::EncodeBase64;
using imapgate::imap::ParseSaslPlain;
namespace imap = imapgate::imap;

namespace {

bool HasByte(std::string_view s, char c) { return s.find(c) != std::string_view::npos; }

// The decoders' invariants on one decoded message.
void CheckMechanisms(std::string_view msg) {
  if (auto f = imap::ParseSaslLoginField(msg, imap::kMaxSaslUserBytes)) {
    if (f->empty() || f->size() > imap::kMaxSaslUserBytes || HasByte(f->view(), '\0')) abort();
  }
  if (auto x = imap::ParseXoauth2(msg)) {
    if (x->user.empty() || x->user.size() > imap::kMaxSaslUserBytes) abort();
    if (x->token.empty() || x->token.size() > imap::kMaxBearerTokenBytes) abort();
    if (HasByte(x->user.view(), '\0') || HasByte(x->user.view(), '\x01') || HasByte(x->token.view(), '\x01')) abort();
    // What the backend would receive parses back to the same pair.
    auto enc = imap::DecodeBase64(imap::EncodeXoauth2(x->user.view(), x->token.view()).view(),
                                  imap::kMaxSaslMessageBytes);
    if (!enc) abort();
    auto again = imap::ParseXoauth2(enc->view());
    if (!again || again->user.view() != x->user.view() || again->token.view() != x->token.view()) abort();
  }
  if (auto o = imap::ParseOauthBearer(msg)) {
    if (o->user.empty() || o->user.size() > imap::kMaxSaslUserBytes || o->user.view() != o->authzid.view()) abort();
    if (o->token.empty() || o->token.size() > imap::kMaxBearerTokenBytes) abort();
    if (o->host && (o->host->empty() || o->host->size() > imap::kMaxOauthHostBytes)) abort();
    if (HasByte(o->user.view(), '\0') || HasByte(o->token.view(), '\x01')) abort();
    auto enc = imap::DecodeBase64(imap::EncodeOauthBearer(o->user.view(), o->token.view()).view(),
                                  3 * imap::kMaxSaslMessageBytes);
    if (!enc) abort();
    auto again = imap::ParseOauthBearer(enc->view());
    if (!again || again->user.view() != o->user.view() || again->token.view() != o->token.view()) abort();
  }
}

}  // namespace

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
    CheckMechanisms(decoded->view());
  }
  CheckMechanisms(text);
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
