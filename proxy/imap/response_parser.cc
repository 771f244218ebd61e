// ResponseParser (see response_parser.h). One pass over the line, no allocation beyond the
// returned strings; any line that is not a well-formed status, data or continuation response is
// kInvalid (greetings from HTTP, SSH or TLS peers included).
#include "imap/response_parser.h"

#include "imap/syntax.h"

namespace imapgate::imap {
namespace {

bool StatusFromWord(std::string_view word, ResponseStatus* status) {
  struct Entry {
    const char* word;
    ResponseStatus status;
  };
  static constexpr Entry kEntries[] = {{"OK", ResponseStatus::kOk},
                                       {"NO", ResponseStatus::kNo},
                                       {"BAD", ResponseStatus::kBad},
                                       {"BYE", ResponseStatus::kBye},
                                       {"PREAUTH", ResponseStatus::kPreAuth}};
  for (const Entry& e : kEntries) {
    if (syntax::EqualsIgnoreCase(word, e.word)) {
      *status = e.status;
      return true;
    }
  }
  return false;
}

bool IsAtom(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!syntax::IsAtomChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// True when the line ends in "{digits}" or "{digits+}".
bool EndsWithLiteral(std::string_view line) {
  size_t i = line.size();
  if (i == 0 || line[i - 1] != '}') return false;
  --i;
  if (i > 0 && line[i - 1] == '+') --i;
  const size_t digits_end = i;
  while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') --i;
  return i < digits_end && i > 0 && line[i - 1] == '{';
}

// Splits off the first space-separated word of s; *rest gets what follows the space (if any).
std::string_view FirstWord(std::string_view s, std::string_view* rest) {
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos) {
    *rest = {};
    return s;
  }
  *rest = s.substr(sp + 1);
  return s.substr(0, sp);
}

// resp-text after a status word: [SP ["[" code [SP args] "]"] [SP] text]. Lenient about a
// missing text, strict about an unterminated code.
bool ParseRespText(std::string_view after_status, bool had_space, ResponseLine* out) {
  if (!had_space) return after_status.empty();
  std::string_view s = after_status;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view inner = s.substr(1, close - 1);
    std::string_view args;
    std::string_view code = FirstWord(inner, &args);
    if (!IsAtom(code)) return false;
    out->code = syntax::AsciiUpper(code);
    out->code_args.assign(args);
    s = s.substr(close + 1);
    if (!s.empty() && s[0] == ' ') s = s.substr(1);
  }
  out->rest.assign(s);
  return true;
}

}  // namespace

ResponseLine ParseResponseLine(std::string_view line) {
  ResponseLine r;
  ResponseLine invalid;
  if (line.empty() || line.find_first_of(std::string_view("\r\n\0", 3)) != line.npos) {
    return invalid;
  }
  r.ends_with_literal = EndsWithLiteral(line);
  if (line[0] == '+') {
    if (line.size() > 1 && line[1] != ' ') return invalid;
    r.kind = ResponseKind::kContinuation;
    if (line.size() > 2) r.rest.assign(line.substr(2));
    return r;
  }
  std::string_view rest;
  std::string_view first = FirstWord(line, &rest);
  const bool first_had_space = first.size() < line.size();
  if (first == "*") {
    if (!first_had_space) return invalid;
    std::string_view after;
    std::string_view word = FirstWord(rest, &after);
    const bool had_space = word.size() < rest.size();
    if (StatusFromWord(word, &r.status)) {
      r.kind = ResponseKind::kUntagged;
      return ParseRespText(after, had_space, &r) ? r : invalid;
    }
    if (!IsAtom(word)) return invalid;
    r.kind = ResponseKind::kUntagged;
    r.untagged_name = syntax::AsciiUpper(word);
    r.rest.assign(after);
    return r;
  }
  // Tagged: tag SP (OK / NO / BAD) resp-text.
  if (first.empty() || !first_had_space) return invalid;
  for (char c : first) {
    if (!syntax::IsTagChar(static_cast<unsigned char>(c))) return invalid;
  }
  std::string_view after;
  std::string_view word = FirstWord(rest, &after);
  const bool had_space = word.size() < rest.size();
  if (!StatusFromWord(word, &r.status) || r.status == ResponseStatus::kBye ||
      r.status == ResponseStatus::kPreAuth) {
    return invalid;
  }
  r.kind = ResponseKind::kTagged;
  r.tag.assign(first);
  return ParseRespText(after, had_space, &r) ? r : invalid;
}

}  // namespace imapgate::imap
