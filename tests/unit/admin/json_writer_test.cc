// Tests for admin::JsonWriter: structure, commas, and RFC 8259 string escaping.

#include "admin/json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cmath>
#include <limits>
#include <string>

#include "common/utf8.h"

namespace imapgate::admin {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(JsonWriterTest, NestedStructureAndCommas) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a").Int(-1);
  w.Key("b").BeginArray().Uint(2).Bool(true).Null().BeginObject().EndObject().EndArray();
  w.Key("c").String("x");
  w.Key("d").BeginArray().EndArray();
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"a":-1,"b":[2,true,null,{}],"c":"x","d":[]})");
}

TEST(JsonWriterTest, IntegerExtremes) {
  JsonWriter w;
  w.BeginArray()
      .Int(std::numeric_limits<int64_t>::min())
      .Uint(std::numeric_limits<uint64_t>::max())
      .EndArray();
  EXPECT_EQ(w.str(), "[-9223372036854775808,18446744073709551615]");
}

TEST(JsonWriterTest, DoublesAndNonFinite) {
  JsonWriter w;
  w.BeginArray().Double(1.5).Double(std::numeric_limits<double>::infinity()).Double(NAN).EndArray();
  EXPECT_EQ(w.str(), "[1.5,null,null]");
}

TEST(JsonStringTest, EscapesQuoteBackslashAndShortForms) {
  EXPECT_EQ(Quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quoted("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(Quoted("/"), R"("/")");
}

TEST(JsonStringTest, EscapesEveryControlCharacter) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string q = Quoted(std::string(1, static_cast<char>(c)));
    EXPECT_EQ(q.find(static_cast<char>(c), 1), std::string::npos) << c;  // never raw
    EXPECT_EQ(q[1], '\\') << c;
  }
  EXPECT_EQ(Quoted(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(Quoted("\x1f"), R"("\u001f")");
  EXPECT_EQ(Quoted("\x7f"), R"("\u007f")");
}

TEST(JsonStringTest, ValidUtf8PassesThrough) {
  EXPECT_EQ(Quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonStringTest, LineAndParagraphSeparatorsAreEscaped) {
  EXPECT_EQ(Quoted("a\xe2\x80\xa8" "b\xe2\x80\xa9"), R"("a\u2028b\u2029")");
}

TEST(JsonStringTest, IllFormedUtf8BecomesReplacementPerByte) {
  EXPECT_EQ(Quoted("a\xff" "b"), R"("a\ufffdb")");
  EXPECT_EQ(Quoted("\xc3"), R"("\ufffd")");                      // truncated
  EXPECT_EQ(Quoted("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong '/'
  EXPECT_EQ(Quoted("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_TRUE(IsValidUtf8(Quoted("\x80\xbf\xfe\xf4\x90\x80\x80")));
}

TEST(JsonStringTest, KeysAreEscapedToo) {
  JsonWriter w;
  w.BeginObject().Key("k\"\n").Int(1).EndObject();
  EXPECT_EQ(w.str(), R"({"k\"\n":1})");
}

}  // namespace
}  // namespace imapgate::admin
