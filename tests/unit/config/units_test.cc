#include "config/units.h"

#include <gtest/gtest.h>

#include <limits>

namespace imapgate::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDurationTest, AcceptsEachUnit) {
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(*ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(*ParseDuration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(*ParseDuration("0s"), milliseconds(0));
}

TEST(ParseDurationTest, AcceptsOneSpaceBeforeUnit) {
  EXPECT_EQ(*ParseDuration("10 s"), milliseconds(10'000));
  EXPECT_FALSE(ParseDuration("10  s").ok());
}

TEST(ParseDurationTest, RequiresUnit) {
  StatusOr<milliseconds> d = ParseDuration("30");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "duration '30' needs a unit: ms, s, m or h (e.g. \"30s\")");
}

TEST(ParseDurationTest, RejectsUnknownUnit) {
  StatusOr<milliseconds> d = ParseDuration("3d");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "unknown duration unit 'd' in '3d' (use ms, s, m or h)");
  EXPECT_FALSE(ParseDuration("30S").ok());
  EXPECT_FALSE(ParseDuration("30sec").ok());
  EXPECT_FALSE(ParseDuration("30s ").ok());
}

TEST(ParseDurationTest, RejectsNonIntegers) {
  for (const char* text : {"", "s", "-5s", "+5s", "1.5s", " 5s", "0x10s", "five s"}) {
    EXPECT_FALSE(ParseDuration(text).ok()) << text;
  }
  EXPECT_EQ(ParseDuration("-5s").status().message(),
            "invalid duration '-5s': expected a non-negative integer followed by a unit");
}

TEST(ParseDurationTest, RejectsOverflow) {
  // Fits in uint64 but not once converted to milliseconds.
  StatusOr<milliseconds> d = ParseDuration("9223372036854776h");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "duration '9223372036854776h' is out of range");
  // Does not fit in uint64 at all.
  EXPECT_EQ(ParseDuration("99999999999999999999999s").status().message(),
            "duration '99999999999999999999999s' is out of range");
  // The largest representable value still parses.
  EXPECT_EQ(*ParseDuration("9223372036854775807ms"),
            milliseconds(std::numeric_limits<int64_t>::max()));
  EXPECT_FALSE(ParseDuration("9223372036854775808ms").ok());
}

TEST(ParseSizeTest, AcceptsBinaryUnitsAndBareBytes) {
  EXPECT_EQ(*ParseSize("0"), 0u);
  EXPECT_EQ(*ParseSize("8192"), 8192u);
  EXPECT_EQ(*ParseSize("100B"), 100u);
  EXPECT_EQ(*ParseSize("8KiB"), 8192u);
  EXPECT_EQ(*ParseSize("8 KiB"), 8192u);
  EXPECT_EQ(*ParseSize("16MiB"), 16u * 1024 * 1024);
  EXPECT_EQ(*ParseSize("2GiB"), 2ull * 1024 * 1024 * 1024);
}

TEST(ParseSizeTest, RejectsDecimalAndUnknownUnits) {
  StatusOr<uint64_t> s = ParseSize("8KB");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "unknown size unit 'KB' in '8KB' (use B, KiB, MiB or GiB; units are 1024-based)");
  for (const char* text : {"8kib", "8K", "8k", "1MB", "1M", "1TiB", "8KiB "}) {
    EXPECT_FALSE(ParseSize(text).ok()) << text;
  }
}

TEST(ParseSizeTest, RejectsNonIntegers) {
  for (const char* text : {"", "KiB", "-1", "+1", "1.5KiB", " 1"}) {
    EXPECT_FALSE(ParseSize(text).ok()) << text;
  }
}

TEST(ParseSizeTest, RejectsOverflow) {
  EXPECT_EQ(*ParseSize("18446744073709551615"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(ParseSize("18446744073709551616").status().message(),
            "size '18446744073709551616' is out of range");
  EXPECT_EQ(ParseSize("17179869184GiB").status().message(),
            "size '17179869184GiB' is out of range");
  EXPECT_EQ(*ParseSize("17179869183GiB"), 17179869183ull << 30);
}

TEST(FormatTest, UsesLargestExactUnit) {
  EXPECT_EQ(FormatSize(0), "0B");
  EXPECT_EQ(FormatSize(1000), "1000B");
  EXPECT_EQ(FormatSize(8192), "8KiB");
  EXPECT_EQ(FormatSize(1024 * 1024), "1MiB");
  EXPECT_EQ(FormatSize(1536 * 1024), "1536KiB");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0ms");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(60'000)), "1m");
  EXPECT_EQ(FormatDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(FormatDuration(milliseconds(86'400'000)), "24h");
}

TEST(QuoteForMessageTest, EscapesAndTruncates) {
  EXPECT_EQ(QuoteForMessage("abc"), "'abc'");
  EXPECT_EQ(QuoteForMessage("a\nb'c"), "'a\\x0ab\\x27c'");
  EXPECT_EQ(QuoteForMessage(std::string(50, 'x')), "'" + std::string(40, 'x') + "...'");
}

}  // namespace
}  // namespace imapgate::config
