// Fuzzes ParseResponseLine on arbitrary lines: it must never crash, and what it reports must be
// consistent with the input (tags and names come from the line, kinds match their fields).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "imap/response_parser.h"

using imapgate::imap::ParseResponseLine;
using imapgate::imap::ResponseKind;
using imapgate::imap::ResponseLine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  ResponseLine r = ParseResponseLine(line);
  if (r.kind == ResponseKind::kInvalid) {
    if (!r.tag.empty() || !r.code.empty() || !r.rest.empty()) abort();
    return 0;
  }
  if (line.find_first_of(std::string_view("\r\n\0", 3)) != line.npos) abort();
  if ((r.kind == ResponseKind::kTagged) != !r.tag.empty()) abort();
  if (r.kind == ResponseKind::kTagged && line.substr(0, r.tag.size()) != r.tag) abort();
  if (r.rest.size() > line.size() || r.code_args.size() > line.size()) abort();
  return 0;
}
