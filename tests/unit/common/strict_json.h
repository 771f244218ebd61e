// StrictJsonObject: test helper that parses one flat JSON object (RFC 8259, strictly: no
// trailing commas, no raw control bytes in strings, only the RFC's escapes, \u with four hex
// digits, numbers in the RFC grammar, no NaN, valid UTF-8, nothing after the closing brace).
// Values may be strings, numbers, true, false or null (a log line never nests). Strings are
// decoded; a code point above U+00FF makes the parse fail (the logger writes one code point per
// raw byte, so a decoded string is the raw bytes).
#pragma once

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace imapgate::testing {

struct JsonValue {
  enum class Kind { kString, kNumber, kLiteral } kind = Kind::kString;
  std::string text;  // decoded string, or the number's / literal's source text
};

class StrictJsonObject {
 public:
  // Parses `text`; on failure returns nullopt and *error (if given) says where and why.
  static std::optional<std::map<std::string, JsonValue>> Parse(std::string_view text,
                                                               std::string* error = nullptr) {
    StrictJsonObject p(text);
    std::map<std::string, JsonValue> out;
    if (!p.Object(&out)) {
      if (error != nullptr) *error = p.error_ + " at byte " + std::to_string(p.pos_);
      return std::nullopt;
    }
    return out;
  }

 private:
  explicit StrictJsonObject(std::string_view text) : s_(text) {}

  bool Fail(const char* why) {
    error_ = why;
    return false;
  }
  void Ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool Object(std::map<std::string, JsonValue>* out) {
    Ws();
    if (!Eat('{')) return Fail("expected {");
    Ws();
    if (!Eat('}')) {
      for (;;) {
        Ws();
        std::string key;
        if (!String(&key)) return false;
        Ws();
        if (!Eat(':')) return Fail("expected :");
        Ws();
        JsonValue v;
        if (!Value(&v)) return false;
        if (out->count(key) != 0) return Fail("duplicate key");
        (*out)[key] = v;
        Ws();
        if (Eat('}')) break;
        if (!Eat(',')) return Fail("expected , or }");
      }
    }
    Ws();
    if (pos_ != s_.size()) return Fail("text after the object");
    return true;
  }

  bool Value(JsonValue* v) {
    if (pos_ >= s_.size()) return Fail("expected a value");
    if (s_[pos_] == '"') {
      v->kind = JsonValue::Kind::kString;
      return String(&v->text);
    }
    for (std::string_view lit : {"true", "false", "null"}) {
      if (s_.substr(pos_, lit.size()) == lit) {
        pos_ += lit.size();
        v->kind = JsonValue::Kind::kLiteral;
        v->text = std::string(lit);
        return true;
      }
    }
    v->kind = JsonValue::Kind::kNumber;
    return Number(&v->text);
  }

  bool Digits() {
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return pos_ > start;
  }

  bool Number(std::string* out) {
    const size_t start = pos_;
    Eat('-');
    if (Eat('0')) {
      // no leading zeros
    } else if (pos_ < s_.size() && s_[pos_] >= '1' && s_[pos_] <= '9') {
      Digits();
    } else {
      return Fail("bad number");
    }
    if (Eat('.') && !Digits()) return Fail("bad fraction");
    if (Eat('e') || Eat('E')) {
      if (!Eat('+')) Eat('-');
      if (!Digits()) return Fail("bad exponent");
    }
    *out = std::string(s_.substr(start, pos_ - start));
    return true;
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool String(std::string* out) {
    if (!Eat('"')) return Fail("expected a string");
    for (;;) {
      if (pos_ >= s_.size()) return Fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return Fail("raw control byte in a string");
      if (c >= 0x80) {
        // Valid UTF-8 is allowed by JSON, but the decoded form must stay within U+00FF.
        if ((c & 0xe0) != 0xc0 || pos_ >= s_.size() || (s_[pos_] & 0xc0) != 0x80) return Fail("invalid UTF-8");
        const unsigned cp = ((c & 0x1f) << 6) | (static_cast<unsigned char>(s_[pos_++]) & 0x3f);
        if (cp < 0x80) return Fail("overlong UTF-8");
        if (cp > 0xff) return Fail("code point above U+00FF");
        out->push_back(static_cast<char>(cp));
        continue;
      }
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= s_.size()) return Fail("dangling backslash");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return Fail("short \\u escape");
          unsigned cp = 0;
          for (int i = 0; i < 4; ++i) {
            const int h = Hex(s_[pos_++]);
            if (h < 0) return Fail("bad \\u escape");
            cp = cp * 16 + static_cast<unsigned>(h);
          }
          if (cp > 0xff) return Fail("code point above U+00FF");
          out->push_back(static_cast<char>(cp));
          break;
        }
        default:
          return Fail("invalid escape");
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace imapgate::testing
