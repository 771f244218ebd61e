// JsonValue and ParseJson: a pure, bounded JSON (RFC 8259) reader for the admin API's small
// request bodies.
//
// Bounds (JsonLimits): input size, nesting depth, string length, and items per array or object;
// exceeding one is an error, as are trailing bytes, duplicate object keys, raw control
// characters in strings, ill-formed UTF-8, unpaired surrogate escapes, leading zeros, and numbers
// outside a double's range. Errors are kInvalidArgument with "JSON: <what> at byte N".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imapgate::admin {

struct JsonLimits {
  size_t max_bytes = 4096;
  int max_depth = 8;  // an object or array directly at the top is depth 1
  size_t max_string_bytes = 1024;
  size_t max_items = 64;  // per array or object
};

struct JsonMember;

// JsonValue: one parsed value. Objects keep their members in input order (keys are unique).
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_object() const { return type_ == Type::kObject; }

  bool bool_value() const { return bool_; }
  double number() const { return number_; }
  // The value as an int64 when the literal was an integer (no fraction or exponent) in range.
  std::optional<int64_t> integer() const { return integer_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<JsonMember>& members() const { return members_; }
  // The member named key of an object, or null when absent or not an object.
  const JsonValue* Find(std::string_view key) const;

  static JsonValue Null();
  static JsonValue Bool(bool v);
  static JsonValue Number(double v, std::optional<int64_t> integer);
  static JsonValue String(std::string s);
  static JsonValue Array(std::vector<JsonValue> items);
  static JsonValue Object(std::vector<JsonMember> members);

  friend bool operator==(const JsonValue& a, const JsonValue& b);

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::optional<int64_t> integer_;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<JsonMember> members_;
};

struct JsonMember {
  std::string key;
  JsonValue value;
  friend bool operator==(const JsonMember& a, const JsonMember& b) {
    return a.key == b.key && a.value == b.value;
  }
};

// Parses text as one JSON value (surrounding whitespace allowed) within limits.
StatusOr<JsonValue> ParseJson(std::string_view text, const JsonLimits& limits = {});

}  // namespace imapgate::admin
