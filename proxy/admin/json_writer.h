// JsonWriter: builds compact JSON text (RFC 8259) into a string. Pure.
//
// Strings are escaped per RFC 8259: '"', '\\' and every control character (U+0000..U+001F, and
// DEL) are escaped, U+2028/U+2029 too (so the output is also safe as JavaScript); well-formed
// UTF-8 passes through as is, and each byte that is not part of well-formed UTF-8 becomes U+FFFD,
// so the output is always valid UTF-8 whatever the input. Commas and colons are placed by the
// writer; the caller nests Begin/End calls correctly (a Key before each value in an object).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace imapgate::admin {

// Appends s to out as a quoted, escaped JSON string.
void AppendJsonString(std::string* out, std::string_view s);

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);  // in an object, before each value
  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);  // finite values; NaN and infinities are written as null
  JsonWriter& Bool(bool v);
  JsonWriter& Null();

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  bool need_comma_ = false;
};

}  // namespace imapgate::admin
