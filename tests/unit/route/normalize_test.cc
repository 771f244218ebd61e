// Tests for route/normalize.h.
#include "route/normalize.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::route {
namespace {

std::string Normalize(std::string_view user, std::string_view domain = {}) {
  return NormalizedUser(user, domain).value_or("<refused>");
}

TEST(NormalizeTest, LowercasesAsciiAndKeepsTheDomain) {
  EXPECT_EQ(Normalize("Alice@Demo.TEST"), "alice@demo.test");
  EXPECT_EQ(Normalize("alice@demo.test", "other.test"), "alice@demo.test");
}

TEST(NormalizeTest, AppendsTheDefaultDomainToBareNamesOnly) {
  EXPECT_EQ(Normalize("ALICE", "demo.test"), "alice@demo.test");
  EXPECT_EQ(Normalize("alice"), "alice");
  EXPECT_EQ(Normalize("a@b@c", "demo.test"), "a@b@c");
}

TEST(NormalizeTest, KeepsNonAsciiBytes) {
  EXPECT_EQ(Normalize("J\xc3\x96RG@x.test"), "j\xc3\x96rg@x.test");
}

TEST(NormalizeTest, RefusesEmptyAndTooLongNames) {
  char buffer[kMaxUserBytes];
  std::string_view out;
  EXPECT_EQ(NormalizeUser("", "d.test", buffer, &out), NormalizeResult::kEmpty);
  const std::string longest(kMaxUserBytes, 'a');
  EXPECT_EQ(NormalizeUser(longest, "", buffer, &out), NormalizeResult::kOk);
  EXPECT_EQ(out, longest);
  EXPECT_EQ(NormalizeUser(longest + "a", "", buffer, &out), NormalizeResult::kTooLong);
  // The default domain counts: 315 + '@' + "d.test" is 322 bytes.
  EXPECT_EQ(NormalizeUser(std::string(315, 'a'), "d.test", buffer, &out),
            NormalizeResult::kTooLong);
  EXPECT_EQ(NormalizeUser(std::string(313, 'a'), "d.test", buffer, &out), NormalizeResult::kOk);
  EXPECT_EQ(out.size(), kMaxUserBytes);
}

TEST(NormalizeTest, DomainOfIsAfterTheLastAt) {
  EXPECT_EQ(DomainOf("alice@demo.test"), "demo.test");
  EXPECT_EQ(DomainOf("a@b@c"), "c");
  EXPECT_EQ(DomainOf("alice"), "");
  EXPECT_EQ(DomainOf("alice@"), "");
}

}  // namespace
}  // namespace imapgate::route
