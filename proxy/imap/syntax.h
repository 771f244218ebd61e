// IMAP syntax helpers shared by the parsers in this folder (RFC 9051 §9 character classes,
// UTF-8 validation, ASCII case mapping). Internal to imap/; pure and allocation-free except
// AsciiUpper.
#pragma once

#include "common/utf8.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace imapgate::imap::syntax {

// ATOM-CHAR: 0x21-0x7E except atom-specials ( ) { SP % * " \ ].
bool IsAtomChar(unsigned char c);
// ASTRING-CHAR: ATOM-CHAR or ']'.
bool IsAstringChar(unsigned char c);
// A tag character: ASTRING-CHAR except '+'.
bool IsTagChar(unsigned char c);

using ::imapgate::IsValidUtf8;         // from common/utf8.h
using ::imapgate::Utf8SequenceLength;  // from common/utf8.h

std::string AsciiUpper(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The tag at the start of `line` if `line` begins with 1..max_tag_bytes tag characters followed
// by a space; else an empty view. Examines at most max_tag_bytes + 1 bytes.
std::string_view LeadingTag(std::string_view line, size_t max_tag_bytes);

}  // namespace imapgate::imap::syntax
