// ParseJson: a recursive-descent JSON reader with explicit bounds.

#include "admin/json_reader.h"

#include <charconv>
#include <cmath>
#include <utility>

#include "common/utf8.h"

namespace imapgate::admin {
namespace {

class Parser {
 public:
  Parser(std::string_view text, const JsonLimits& limits) : s_(text), limits_(limits) {}

  StatusOr<JsonValue> ParseDocument() {
    SkipSpace();
    JsonValue value;
    if (!ParseValue(0, &value)) return Fail();
    SkipSpace();
    if (pos_ != s_.size()) {
      SetError("trailing characters after the value");
      return Fail();
    }
    return value;
  }

 private:
  Status Fail() const {
    return InvalidArgument("JSON: " + error_ + " at byte " + std::to_string(error_pos_));
  }
  bool SetError(std::string what) {
    if (error_.empty()) {
      error_ = std::move(what);
      error_pos_ = pos_;
    }
    return false;
  }

  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return SetError("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool ParseValue(int depth, JsonValue* out) {
    if (pos_ >= s_.size()) return SetError("unexpected end of input");
    switch (s_[pos_]) {
      case '{':
        return ParseObject(depth + 1, out);
      case '[':
        return ParseArray(depth + 1, out);
      case '"': {
        std::string str;
        if (!ParseString(&str)) return false;
        *out = JsonValue::String(std::move(str));
        return true;
      }
      case 't':
        if (!Literal("true")) return false;
        *out = JsonValue::Bool(true);
        return true;
      case 'f':
        if (!Literal("false")) return false;
        *out = JsonValue::Bool(false);
        return true;
      case 'n':
        if (!Literal("null")) return false;
        *out = JsonValue::Null();
        return true;
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return ParseNumber(out);
        return SetError("unexpected character");
    }
  }

  bool ParseObject(int depth, JsonValue* out) {
    if (depth > limits_.max_depth) return SetError("nested deeper than " +
                                                   std::to_string(limits_.max_depth));
    ++pos_;  // '{'
    std::vector<JsonMember> members;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      *out = JsonValue::Object(std::move(members));
      return true;
    }
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return SetError("expected a string key");
      if (members.size() == limits_.max_items) {
        return SetError("more than " + std::to_string(limits_.max_items) + " members");
      }
      JsonMember member;
      const size_t key_pos = pos_;
      if (!ParseString(&member.key)) return false;
      for (const JsonMember& m : members) {
        if (m.key == member.key) {
          pos_ = key_pos;
          return SetError("duplicate key");
        }
      }
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return SetError("expected ':'");
      ++pos_;
      SkipSpace();
      if (!ParseValue(depth, &member.value)) return false;
      members.push_back(std::move(member));
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        *out = JsonValue::Object(std::move(members));
        return true;
      }
      return SetError("expected ',' or '}'");
    }
  }

  bool ParseArray(int depth, JsonValue* out) {
    if (depth > limits_.max_depth) return SetError("nested deeper than " +
                                                   std::to_string(limits_.max_depth));
    ++pos_;  // '['
    std::vector<JsonValue> items;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      *out = JsonValue::Array(std::move(items));
      return true;
    }
    for (;;) {
      SkipSpace();
      if (items.size() == limits_.max_items) {
        return SetError("more than " + std::to_string(limits_.max_items) + " items");
      }
      JsonValue item;
      if (!ParseValue(depth, &item)) return false;
      items.push_back(std::move(item));
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        *out = JsonValue::Array(std::move(items));
        return true;
      }
      return SetError("expected ',' or ']'");
    }
  }

  // Four hex digits at pos_ (after "\u"), or -1.
  int Hex4() {
    if (s_.size() - pos_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_ + i];
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return -1;
      }
      v = v * 16 + d;
    }
    pos_ += 4;
    return v;
  }

  static void AppendUtf8(std::string* out, unsigned cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool ParseString(std::string* out) {
    ++pos_;  // '"'
    for (;;) {
      // Checked before every byte, the closing quote included: the last append may be the one
      // that went over.
      if (out->size() > limits_.max_string_bytes) {
        return SetError("string longer than " + std::to_string(limits_.max_string_bytes) +
                        " bytes");
      }
      if (pos_ >= s_.size()) return SetError("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return SetError("control character in string");
      if (c >= 0x80) {
        const size_t len = Utf8SequenceLength(s_, pos_);
        if (len == 0) return SetError("invalid UTF-8 in string");
        out->append(s_.substr(pos_, len));
        pos_ += len;
        continue;
      }
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return SetError("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          int cp = Hex4();
          if (cp < 0) return SetError("malformed \\u escape");
          if (cp >= 0xDC00 && cp <= 0xDFFF) return SetError("unpaired surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") return SetError("unpaired surrogate");
            pos_ += 2;
            const int lo = Hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) return SetError("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(out, static_cast<unsigned>(cp));
          break;
        }
        default:
          --pos_;
          return SetError("invalid escape");
      }
    }
  }

  bool ParseNumber(JsonValue* out) {
    const size_t start = pos_;
    bool integral = true;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return SetError("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
      if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        return SetError("leading zero in number");
      }
    } else {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return SetError("invalid number");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return SetError("invalid number");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    double d = 0;
    auto [dend, dec] = std::from_chars(first, last, d);
    if (dec != std::errc() || dend != last || !std::isfinite(d)) {
      pos_ = start;
      return SetError("number out of range");
    }
    std::optional<int64_t> integer;
    if (integral) {
      int64_t i = 0;
      auto [iend, iec] = std::from_chars(first, last, i);
      if (iec == std::errc() && iend == last) integer = i;
    }
    *out = JsonValue::Number(d, integer);
    return true;
  }

  std::string_view s_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
  std::string error_;
  size_t error_pos_ = 0;
};

}  // namespace

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const JsonMember& m : members_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

JsonValue JsonValue::Null() { return JsonValue(); }

JsonValue JsonValue::Bool(bool v) {
  JsonValue j;
  j.type_ = Type::kBool;
  j.bool_ = v;
  return j;
}

JsonValue JsonValue::Number(double v, std::optional<int64_t> integer) {
  JsonValue j;
  j.type_ = Type::kNumber;
  j.number_ = v;
  j.integer_ = integer;
  return j;
}

JsonValue JsonValue::String(std::string s) {
  JsonValue j;
  j.type_ = Type::kString;
  j.string_ = std::move(s);
  return j;
}

JsonValue JsonValue::Array(std::vector<JsonValue> items) {
  JsonValue j;
  j.type_ = Type::kArray;
  j.items_ = std::move(items);
  return j;
}

JsonValue JsonValue::Object(std::vector<JsonMember> members) {
  JsonValue j;
  j.type_ = Type::kObject;
  j.members_ = std::move(members);
  return j;
}

bool operator==(const JsonValue& a, const JsonValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case JsonValue::Type::kNull:
      return true;
    case JsonValue::Type::kBool:
      return a.bool_ == b.bool_;
    case JsonValue::Type::kNumber:
      return a.number_ == b.number_ && a.integer_ == b.integer_;
    case JsonValue::Type::kString:
      return a.string_ == b.string_;
    case JsonValue::Type::kArray:
      return a.items_ == b.items_;
    case JsonValue::Type::kObject:
      return a.members_ == b.members_;
  }
  return false;
}

StatusOr<JsonValue> ParseJson(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return InvalidArgument("JSON: input longer than " + std::to_string(limits.max_bytes) +
                           " bytes");
  }
  return Parser(text, limits).ParseDocument();
}

}  // namespace imapgate::admin
