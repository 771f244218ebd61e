// UTF-8 validation (RFC 3629): rejects overlong forms, surrogates, code points above U+10FFFF
// and truncated sequences. Pure and allocation-free.
#pragma once

#include <cstddef>
#include <string_view>

namespace imapgate {

// Length of the well-formed UTF-8 sequence starting at s[i] (1 for ASCII), or 0 when the bytes
// there are not well-formed UTF-8.
size_t Utf8SequenceLength(std::string_view s, size_t i);
bool IsValidUtf8(std::string_view s);

}  // namespace imapgate
