// Tests for admin::ParseJson: the grammar, the bounds (one test per bound) and clear errors.

#include "admin/json_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "admin/json_writer.h"

namespace imapgate::admin {
namespace {

JsonValue Ok(std::string_view text, const JsonLimits& limits = {}) {
  auto r = ParseJson(text, limits);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? std::move(*r) : JsonValue();
}

std::string Err(std::string_view text, const JsonLimits& limits = {}) {
  auto r = ParseJson(text, limits);
  EXPECT_FALSE(r.ok()) << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("JSON: ", 0), 0u) << r.status().message();
  return r.status().message();
}

TEST(JsonReaderTest, Scalars) {
  EXPECT_TRUE(Ok("null").is_null());
  EXPECT_TRUE(Ok(" true ").bool_value());
  EXPECT_FALSE(Ok("false").bool_value());
  EXPECT_EQ(Ok("\"x\"").string(), "x");
  EXPECT_EQ(Ok("12").integer(), 12);
  EXPECT_EQ(Ok("-0").integer(), 0);
  EXPECT_EQ(Ok("1.5").number(), 1.5);
  EXPECT_FALSE(Ok("1.5").integer().has_value());
  EXPECT_FALSE(Ok("1e2").integer().has_value());
  EXPECT_EQ(Ok("1E+2").number(), 100);
  EXPECT_EQ(Ok("-9223372036854775808").integer(), INT64_MIN);
  EXPECT_FALSE(Ok("9223372036854775808").integer().has_value());  // a double, not an int64
}

TEST(JsonReaderTest, ObjectsAndArrays) {
  JsonValue v = Ok(R"({"grace_seconds": 30, "a": [1, {"b": null}], "c": {}})");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.members().size(), 3u);
  EXPECT_EQ(v.members()[0].key, "grace_seconds");
  ASSERT_NE(v.Find("grace_seconds"), nullptr);
  EXPECT_EQ(v.Find("grace_seconds")->integer(), 30);
  EXPECT_EQ(v.Find("a")->items().size(), 2u);
  EXPECT_EQ(v.Find("missing"), nullptr);
  EXPECT_TRUE(Ok("{}").members().empty());
  EXPECT_TRUE(Ok("[ ]").items().empty());
}

TEST(JsonReaderTest, StringEscapes) {
  EXPECT_EQ(Ok(R"("\"\\\/\b\f\n\r\t")").string(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(Ok(R"("\u00e9\u20AC")").string(), "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(Ok(R"("\ud83d\ude00")").string(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(Ok("\"caf\xc3\xa9\"").string(), "caf\xc3\xa9");
  EXPECT_EQ(Ok(R"("\u0000")").string(), std::string("\0", 1));
}

TEST(JsonReaderTest, BadStrings) {
  EXPECT_NE(Err("\"a\nb\"").find("control character"), std::string::npos);
  EXPECT_NE(Err("\"a\xff\"").find("UTF-8"), std::string::npos);
  EXPECT_NE(Err("\"\xed\xa0\x80\"").find("UTF-8"), std::string::npos);
  EXPECT_NE(Err(R"("\ud83d")").find("surrogate"), std::string::npos);
  EXPECT_NE(Err(R"("\ude00")").find("surrogate"), std::string::npos);
  EXPECT_NE(Err(R"("\ud83d\u0041")").find("surrogate"), std::string::npos);
  EXPECT_NE(Err(R"("\x")").find("invalid escape"), std::string::npos);
  EXPECT_NE(Err(R"("\u12")").find("\\u"), std::string::npos);
  EXPECT_NE(Err("\"abc").find("unterminated"), std::string::npos);
}

TEST(JsonReaderTest, BadSyntax) {
  for (const char* text : {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01",
                           "-", "1.", ".5", "1e", "+1", "tru", "nul", "NaN", "Infinity", "[1 2]",
                           "{\"a\":1 \"b\":2}", "'a'", "\xef\xbb\xbf{}"}) {
    Err(text);
  }
}

TEST(JsonReaderTest, TrailingBytesAreRefused) {
  EXPECT_NE(Err("{} {}").find("trailing"), std::string::npos);
  EXPECT_NE(Err("1x").find("trailing"), std::string::npos);
  Err(std::string("{}\0", 3));
}

TEST(JsonReaderTest, DuplicateKeysAreRefused) {
  EXPECT_NE(Err(R"({"a":1,"a":2})").find("duplicate key"), std::string::npos);
}

TEST(JsonReaderTest, NumbersOutOfRangeAreRefused) {
  EXPECT_NE(Err("1e400").find("out of range"), std::string::npos);
  EXPECT_NE(Err("-1e400").find("out of range"), std::string::npos);
}

TEST(JsonReaderTest, ErrorNamesTheByte) {
  EXPECT_EQ(Err(R"({"a": x})"), "JSON: unexpected character at byte 6");
}

TEST(JsonReaderBoundsTest, MaxBytes) {
  JsonLimits limits;
  limits.max_bytes = 10;
  Ok("[1,2,3,4 ]", limits);
  EXPECT_NE(Err("[1,2,3,4  ]", limits).find("longer than 10 bytes"), std::string::npos);
  EXPECT_EQ(JsonLimits().max_bytes, 4096u);
}

TEST(JsonReaderBoundsTest, MaxDepth) {
  JsonLimits limits;
  limits.max_depth = 3;
  Ok("[[[1]]]", limits);
  Ok(R"({"a":{"b":[]}})", limits);
  EXPECT_NE(Err("[[[[1]]]]", limits).find("nested deeper than 3"), std::string::npos);
  EXPECT_NE(Err(R"({"a":{"b":{"c":{}}}})", limits).find("nested deeper"), std::string::npos);
  // The default depth holds against a body of nothing but brackets (no stack exhaustion).
  Err(std::string(4000, '['));
}

TEST(JsonReaderBoundsTest, MaxStringBytes) {
  JsonLimits limits;
  limits.max_string_bytes = 4;
  Ok(R"(["abcd"])", limits);
  Ok(R"({"abcd":1})", limits);
  EXPECT_NE(Err(R"(["abcde"])", limits).find("string longer than 4"), std::string::npos);
  EXPECT_NE(Err(R"({"abcde":1})", limits).find("string longer"), std::string::npos);
  EXPECT_NE(Err(R"(["\u00e9\u00e9\u00e9"])", limits).find("string longer"), std::string::npos);
}

TEST(JsonReaderBoundsTest, MaxItems) {
  JsonLimits limits;
  limits.max_items = 3;
  Ok("[1,2,3]", limits);
  Ok(R"({"a":1,"b":2,"c":3})", limits);
  EXPECT_NE(Err("[1,2,3,4]", limits).find("more than 3 items"), std::string::npos);
  EXPECT_NE(Err(R"({"a":1,"b":2,"c":3,"d":4})", limits).find("more than 3 members"),
            std::string::npos);
}

TEST(JsonReaderTest, WriterOutputReadsBack) {
  JsonWriter w;
  const std::string tricky("q\"\\\n\x01\x7f caf\xc3\xa9 \xe2\x80\xa8");
  w.BeginObject().Key(tricky).BeginArray().String(tricky).Int(-5).Bool(false).Null().EndArray();
  w.EndObject();
  JsonValue v = Ok(w.str());
  ASSERT_EQ(v.members().size(), 1u);
  EXPECT_EQ(v.members()[0].key, tricky);
  EXPECT_EQ(v.members()[0].value.items()[0].string(), tricky);
  EXPECT_EQ(v.members()[0].value.items()[1].integer(), -5);
}

}  // namespace
}  // namespace imapgate::admin
