// CommandParser: framing on raw bytes (lines and the literals they announce), then tokenizing of
// one complete unit. See command_parser.h for the contract.
//
// Framing rule: a line whose text (before CRLF or LF) ends in "{digits}" or "{digits+}"
// announces a literal, whatever precedes it (even inside what looks like a quoted string); this
// errs on the side of never reading payload bytes as a command. A line ending in something that
// starts like a marker but is not one ("{12", "{}", "{+}", "{12+") is fatal, as are markers with
// more than 10 digits and sizes over the bound.
//
// Tokenizing is strict RFC 9051: exactly one space between tokens, none after "(" or before ")",
// no trailing space. No lenience was needed for the pre-auth command set.
#include "imap/command_parser.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "imap/syntax.h"

namespace imapgate::imap {
namespace {

constexpr size_t kMaxLiteralDigits = 10;
constexpr int kMaxListDepth = 8;

constexpr char kInvalidChars[] = "Invalid characters in command";

// The fixed message sent with each fatal code.
const char* FatalMessage(ParseErrorCode code) {
  switch (code) {
    case ParseErrorCode::kLineTooLong: return "Command line too long";
    case ParseErrorCode::kLiteralTooLarge: return "Literal too large";
    case ParseErrorCode::kInvalidLiteral: return "Invalid literal";
    case ParseErrorCode::kSaslResponseTooLong: return "SASL response too long";
    default: return "Protocol error";
  }
}

enum class Marker { kNone, kLiteral, kMalformed };

// Classifies the end of a line's text (see the framing rule above).
Marker FindMarker(std::string_view text, uint64_t* size, bool* sync) {
  size_t i = text.size();
  const bool closed = i > 0 && text[i - 1] == '}';
  if (closed) --i;
  const bool plus = i > 0 && text[i - 1] == '+';
  if (plus) --i;
  const size_t digits_end = i;
  while (i > 0 && text[i - 1] >= '0' && text[i - 1] <= '9') --i;
  const size_t digits = digits_end - i;
  if (i == 0 || text[i - 1] != '{') return Marker::kNone;
  if (!closed || digits == 0 || digits > kMaxLiteralDigits) return Marker::kMalformed;
  uint64_t value = 0;
  for (size_t k = i; k < digits_end; ++k) value = value * 10 + static_cast<uint64_t>(text[k] - '0');
  *size = value;
  *sync = !plus;
  return Marker::kLiteral;
}

// The first LF in base[from, end), or nullptr.
const void* FindLf(const char* base, size_t from, size_t end) {
  return from < end ? std::memchr(base + from, '\n', end - from) : nullptr;
}

struct Line {
  std::string_view text;
  std::string_view literal;
  bool has_literal;
};

// Tokenizes one framed unit. On failure returns the fixed message and leaves the parsed tag (if
// any) in command->tag.
class Tokenizer {
 public:
  Tokenizer(const std::vector<Line>& lines, const ParserLimits& limits)
      : lines_(lines), limits_(limits) {}

  // Returns nullptr on success, else the error message.
  const char* Run(Command* command) {
    std::string_view first = lines_[0].text;
    if (lines_.size() == 1 && first.empty()) return "Empty command line";
    size_t n = 0;
    while (n < first.size() && n <= limits_.max_tag_bytes &&
           syntax::IsTagChar(static_cast<unsigned char>(first[n]))) {
      ++n;
    }
    if (n > limits_.max_tag_bytes) return "Tag too long";
    if (n == 0 || (n < first.size() && first[n] != ' ')) return "Invalid tag";
    command->tag.assign(first.substr(0, n));
    if (n == first.size()) return lines_.size() == 1 ? "Missing command" : "Invalid tag";
    pos_ = n + 1;
    const size_t name_begin = pos_;
    while (pos_ < text().size() && syntax::IsAtomChar(static_cast<unsigned char>(text()[pos_]))) {
      ++pos_;
    }
    if (pos_ == name_begin) return "Missing command";
    command->name = syntax::AsciiUpper(text().substr(name_begin, pos_ - name_begin));
    if (AtEnd()) return nullptr;
    if (text()[pos_] != ' ') return "Invalid command name";
    ++pos_;
    return ParseArguments(&command->args);
  }

 private:
  std::string_view text() const { return lines_[line_].text; }
  bool AtLineEnd() const { return pos_ >= text().size(); }
  bool AtEnd() const { return AtLineEnd() && line_ + 1 == lines_.size(); }

  // At a token start after "SP" (or after "(" when `after_open`).
  const char* ParseArguments(std::vector<Token>* args) {
    int depth = 0;
    bool after_open = false;
    for (;;) {
      // Token start.
      if (AtLineEnd()) return after_open ? "Unbalanced parentheses" : "Invalid spacing in command";
      const char c = text()[pos_];
      if (c == ')' && after_open) {
        // "()": fall through to the end-of-list handling below.
      } else {
        if (c == ' ' || c == ')') return "Invalid spacing in command";
        if (args->size() >= limits_.max_tokens) return "Too many arguments";
        after_open = false;
        if (c == '(') {
          if (++depth > kMaxListDepth) return "Parentheses nested too deeply";
          args->push_back(Token{TokenKind::kListStart, SecretString()});
          ++pos_;
          after_open = true;
          continue;
        }
        const char* err = c == '"'   ? ParseQuoted(args)
                          : c == '{' ? ParseLiteral(args)
                                     : ParseAtom(args);
        if (err != nullptr) return err;
      }
      // After a token (or at ")" closing an empty list): any number of ")", then SP or the end.
      after_open = false;
      while (!AtLineEnd() && text()[pos_] == ')') {
        if (depth == 0) return "Unbalanced parentheses";
        if (args->size() >= limits_.max_tokens) return "Too many arguments";
        --depth;
        args->push_back(Token{TokenKind::kListEnd, SecretString()});
        ++pos_;
      }
      if (AtEnd()) return depth == 0 ? nullptr : "Unbalanced parentheses";
      if (AtLineEnd()) return kInvalidChars;  // cannot happen: only markers end inner lines
      if (text()[pos_] != ' ') return kInvalidChars;
      ++pos_;
    }
  }

  const char* ParseAtom(std::vector<Token>* args) {
    const size_t begin = pos_;
    while (!AtLineEnd() && syntax::IsAstringChar(static_cast<unsigned char>(text()[pos_]))) ++pos_;
    if (pos_ == begin) return kInvalidChars;
    args->push_back(Token{TokenKind::kAtom, SecretString(text().substr(begin, pos_ - begin))});
    return nullptr;
  }

  const char* ParseQuoted(std::vector<Token>* args) {
    std::string_view t = text();
    size_t i = pos_ + 1;
    bool escaped = false;
    // First pass: validate and find the end.
    for (;;) {
      if (i >= t.size()) return "Unterminated quoted string";
      const unsigned char c = static_cast<unsigned char>(t[i]);
      if (c == '"') break;
      if (c == '\\') {
        if (i + 1 >= t.size()) return "Unterminated quoted string";
        if (t[i + 1] != '"' && t[i + 1] != '\\') return "Invalid escape in quoted string";
        escaped = true;
        i += 2;
        continue;
      }
      if (c == '\0' || c == '\r' || c == '\n') return "Invalid characters in quoted string";
      if (c >= 0x80) {
        const size_t n = syntax::Utf8SequenceLength(t, i);
        if (n == 0) return "Invalid UTF-8 in quoted string";
        i += n;
        continue;
      }
      ++i;
    }
    std::string_view raw = t.substr(pos_ + 1, i - pos_ - 1);
    pos_ = i + 1;
    if (!escaped) {
      args->push_back(Token{TokenKind::kQuoted, SecretString(raw)});
      return nullptr;
    }
    WipingBytes value;
    value.reserve(raw.size());
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '\\') ++k;
      value.push_back(raw[k]);
    }
    args->push_back(
        Token{TokenKind::kQuoted, SecretString(std::string_view(value.data(), value.size()))});
    return nullptr;
  }

  const char* ParseLiteral(std::vector<Token>* args) {
    std::string_view t = text();
    size_t i = pos_ + 1;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == pos_ + 1) return kInvalidChars;
    if (i < t.size() && t[i] == '+') ++i;
    if (i >= t.size() || t[i] != '}') return kInvalidChars;
    // The framer recorded a literal for every line ending in a marker; any other "{" is invalid.
    if (i + 1 != t.size() || !lines_[line_].has_literal) return kInvalidChars;
    std::string_view payload = lines_[line_].literal;
    if (payload.find('\0') != std::string_view::npos) {
      return "Invalid characters in literal";
    }
    args->push_back(Token{TokenKind::kLiteral, SecretString(payload)});
    ++line_;
    pos_ = 0;
    return nullptr;
  }

  const std::vector<Line>& lines_;
  const ParserLimits& limits_;
  size_t line_ = 0;
  size_t pos_ = 0;
};

}  // namespace

CommandParser::CommandParser(ParserLimits limits) : limits_(limits) {}

void CommandParser::Feed(std::string_view bytes) {
  if (fatal_ || bytes.empty()) return;
  if (begin_ > 0) {
    // Compact: move the unconsumed bytes to the front and wipe the stale tail.
    const size_t live = buffer_.size() - begin_;
    std::memmove(buffer_.data(), buffer_.data() + begin_, live);
    SecureWipe(buffer_.data() + live, begin_);
    buffer_.resize(live);
    begin_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

ParseEvent CommandParser::Next() {
  if (fatal_) return ParseEvent::kFatal;
  if (expect_sasl_) return NextSaslLine();
  const char* base = unit();
  const size_t avail = buffered_bytes();
  for (;;) {
    if (literal_remaining_ > 0) {
      const size_t take = std::min(literal_remaining_, avail - scan_);
      scan_ += take;
      literal_remaining_ -= take;
      if (literal_remaining_ > 0) return ParseEvent::kNeedMore;
      line_begin_ = scan_;
    }
    const void* lf = FindLf(base, scan_, avail);
    if (lf == nullptr) {
      size_t partial = avail - line_begin_;
      if (partial > 0 && base[avail - 1] == '\r') --partial;  // may be the start of CRLF
      if (text_bytes_ + partial > limits_.max_line_bytes && text_bytes_ + partial > TextLimit()) {
        return Fatal(ParseErrorCode::kLineTooLong);
      }
      scan_ = avail;
      return ParseEvent::kNeedMore;
    }
    const size_t lf_pos = static_cast<const char*>(lf) - base;
    size_t text_end = lf_pos;
    if (text_end > line_begin_ && base[text_end - 1] == '\r') --text_end;
    const size_t text_len = text_end - line_begin_;
    if (text_bytes_ + text_len > limits_.max_line_bytes && text_bytes_ + text_len > TextLimit()) {
      return Fatal(ParseErrorCode::kLineTooLong);
    }
    uint64_t size = 0;
    bool sync = false;
    switch (FindMarker(std::string_view(base + line_begin_, text_len), &size, &sync)) {
      case Marker::kMalformed:
        return Fatal(ParseErrorCode::kInvalidLiteral);
      case Marker::kNone:
        lines_.push_back(FramedLine{line_begin_, text_len, 0, 0, false});
        return Tokenize(lf_pos + 1);
      case Marker::kLiteral:
        break;
    }
    if (size > limits_.max_literal_bytes) return Fatal(ParseErrorCode::kLiteralTooLarge);
    // Inner line ends count towards the line budget: the command is one logical line.
    text_bytes_ += text_len + (lf_pos + 1 - text_end);
    if (text_bytes_ > limits_.max_line_bytes && text_bytes_ > TextLimit()) {
      return Fatal(ParseErrorCode::kLineTooLong);
    }
    if (UnitIsId()) {
      // One budget for an ID command's text and literal payloads.
      if (text_bytes_ + literal_total_ + size > std::max(limits_.max_line_bytes, limits_.max_id_line_bytes)) {
        return Fatal(ParseErrorCode::kLiteralTooLarge);
      }
    } else if (literal_total_ + size > limits_.max_literal_bytes) {
      return Fatal(ParseErrorCode::kLiteralTooLarge);
    }
    literal_total_ += size;
    lines_.push_back(
        FramedLine{line_begin_, text_len, lf_pos + 1, static_cast<size_t>(size), true});
    scan_ = lf_pos + 1;
    line_begin_ = scan_;
    literal_remaining_ = static_cast<size_t>(size);
    if (sync) return ParseEvent::kContinuationNeeded;
  }
}

bool CommandParser::UnitIsId() {
  if (unit_is_id_ < 0) {
    // "<tag> ID " at the start of the unit's first line (case-insensitive, RFC 9051).
    std::string_view first(unit(), std::min(buffered_bytes(), limits_.max_tag_bytes + 5));
    std::string_view tag = syntax::LeadingTag(first, limits_.max_tag_bytes);
    bool id = false;
    if (!tag.empty()) {
      std::string_view rest = first.substr(tag.size() + 1);
      id = rest.size() >= 3 && syntax::EqualsIgnoreCase(rest.substr(0, 3), "ID ");
    }
    unit_is_id_ = id ? 1 : 0;
  }
  return unit_is_id_ == 1;
}

size_t CommandParser::TextLimit() {
  if (limits_.max_id_line_bytes <= limits_.max_line_bytes || !UnitIsId()) return limits_.max_line_bytes;
  return limits_.max_id_line_bytes - literal_total_;  // literal_total_ fits: checked when announced
}

ParseEvent CommandParser::NextSaslLine() {
  const char* base = unit();
  const size_t avail = buffered_bytes();
  const void* lf = FindLf(base, scan_, avail);
  if (lf == nullptr) {
    size_t partial = avail;
    if (partial > 0 && base[avail - 1] == '\r') --partial;
    if (partial > limits_.max_line_bytes) return Fatal(ParseErrorCode::kSaslResponseTooLong);
    scan_ = avail;
    return ParseEvent::kNeedMore;
  }
  const size_t lf_pos = static_cast<const char*>(lf) - base;
  size_t text_end = lf_pos;
  if (text_end > 0 && base[text_end - 1] == '\r') --text_end;
  if (text_end > limits_.max_line_bytes) return Fatal(ParseErrorCode::kSaslResponseTooLong);
  sasl_response_ = SecretString(std::string_view(base, text_end));
  Consume(lf_pos + 1);
  ResetFraming();
  expect_sasl_ = false;
  return ParseEvent::kSaslResponse;
}

ParseEvent CommandParser::Tokenize(size_t unit_len) {
  std::vector<Line> lines;
  lines.reserve(lines_.size());
  const char* base = unit();
  for (const FramedLine& l : lines_) {
    lines.push_back(Line{std::string_view(base + l.text_begin, l.text_len),
                         std::string_view(base + l.literal_begin, l.literal_len), l.has_literal});
  }
  Command command;
  const char* err = Tokenizer(lines, limits_).Run(&command);
  lines.clear();
  Consume(unit_len);
  ResetFraming();
  if (err != nullptr) {
    std::string tag = command.tag.empty() ? "*" : std::move(command.tag);
    return Fail(ParseEvent::kBad, ParseErrorCode::kSyntax, std::move(tag), err);
  }
  command_ = std::move(command);
  return ParseEvent::kCommand;
}

ParseEvent CommandParser::Fail(ParseEvent event, ParseErrorCode code, std::string tag,
                               std::string message) {
  error_.tag = std::move(tag);
  error_.message = std::move(message);
  error_.code = code;
  return event;
}

ParseEvent CommandParser::Fatal(ParseErrorCode code) {
  // Name the command's tag if the unit starts with one, so the client can match the BAD.
  std::string_view tag;
  if (!expect_sasl_) {
    tag = syntax::LeadingTag(std::string_view(unit(), buffered_bytes()), limits_.max_tag_bytes);
  }
  std::string tag_text = tag.empty() ? "*" : std::string(tag);
  fatal_ = true;
  SecureWipe(buffer_.data(), buffer_.size());
  WipingBytes().swap(buffer_);
  begin_ = 0;
  ResetFraming();
  return Fail(ParseEvent::kFatal, code, std::move(tag_text), FatalMessage(code));
}

void CommandParser::Consume(size_t n) {
  SecureWipe(buffer_.data() + begin_, n);
  begin_ += n;
  if (begin_ == buffer_.size()) {
    WipingBytes().swap(buffer_);  // idle parsers hold no buffer
    begin_ = 0;
  }
}

void CommandParser::ResetFraming() {
  lines_.clear();
  line_begin_ = 0;
  scan_ = 0;
  text_bytes_ = 0;
  literal_total_ = 0;
  literal_remaining_ = 0;
  unit_is_id_ = -1;
}

Command CommandParser::TakeCommand() { return std::move(command_); }

void CommandParser::ExpectSaslResponse() {
  ResetFraming();
  expect_sasl_ = true;
}

SecretString CommandParser::TakeSaslResponse() { return std::move(sasl_response_); }

size_t CommandParser::buffered_bytes() const { return buffer_.size() - begin_; }

WipingBytes CommandParser::TakeBuffered() {
  WipingBytes out(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_), buffer_.end());
  SecureWipe(buffer_.data(), buffer_.size());
  WipingBytes().swap(buffer_);
  begin_ = 0;
  ResetFraming();
  return out;
}

}  // namespace imapgate::imap
