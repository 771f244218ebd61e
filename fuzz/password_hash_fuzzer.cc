// Fuzz target for auth/password_hash.h and the parsers of auth/totp.h: ParsePasswordHash,
// DecodeBase32 and SplitOtpSuffix on arbitrary bytes. Never a crash; an accepted hash is
// re-parsed identically and (when cheap to check) verifies the input's tail without crashing;
// a decoded base32 key has the length its text implies and decodes the same in either case.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/password_hash.h"
#include "auth/totp.h"

using imapgate::auth::HashScheme;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto hash = imapgate::auth::ParsePasswordHash(text);
  if (hash.ok()) {
    if (text.size() > imapgate::auth::kMaxStoredHashBytes) abort();
    auto again = imapgate::auth::ParsePasswordHash(hash->encoded);
    // The bare form parses to the same thing, except {SHA256} which needs its prefix.
    if (hash->scheme != HashScheme::kSha256 &&
        (!again.ok() || again->scheme != hash->scheme || again->encoded != hash->encoded)) {
      abort();
    }
    // Verify only what is cheap: the fast hash, SHA-512-crypt at its default rounds, bcrypt at
    // cost 4 or 5 (the parser allows costs that take seconds).
    const std::string& e = hash->encoded;
    const bool cheap = hash->scheme == HashScheme::kSha256 ||
                       (hash->scheme == HashScheme::kSha512Crypt && e.find("rounds=") == std::string::npos) ||
                       (hash->scheme == HashScheme::kBcrypt && (e.compare(3, 4, "$04$") == 0 || e.compare(3, 4, "$05$") == 0));
    if (cheap) (void)imapgate::auth::VerifyPassword(*hash, text.substr(size / 2));
  } else if (text.find_first_of("!#%&*?~") != std::string_view::npos) {
    // No message template has these characters: an input with one of them never appears in
    // the message (an error must not quote the value). Neither may any run of it of 4 or more
    // bytes that holds one.
    const std::string& message = hash.status().message();
    for (size_t i = 0; i + 4 <= size; ++i) {
      const std::string_view piece = text.substr(i, 4);
      if (piece.find_first_of("!#%&*?~") != std::string_view::npos &&
          message.find(piece) != std::string::npos) {
        abort();
      }
    }
  }

  auto key = imapgate::auth::DecodeBase32(text);
  if (key.has_value()) {
    if (key->empty() || size > imapgate::auth::kMaxBase32Chars) abort();
    size_t chars = size;
    while (chars > 0 && text[chars - 1] == '=') --chars;
    if (key->size() != chars * 5 / 8) abort();
    std::string lower(text);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    auto again = imapgate::auth::DecodeBase32(lower);
    if (!again.has_value() || again->view() != key->view()) abort();
    (void)imapgate::auth::Hotp(key->view(), size, 6);
  }

  for (int digits : {6, 8}) {
    auto split = imapgate::auth::SplitOtpSuffix(text, digits);
    if (split.has_value()) {
      if (split->password.empty() || split->code.size() != static_cast<size_t>(digits)) abort();
      if (split->password.size() + split->code.size() != size) abort();
      (void)imapgate::auth::VerifyTotp(split->password, split->code, 1700000000,
                                       imapgate::auth::TotpParams{30, digits, 1});
    }
  }
  return 0;
}
