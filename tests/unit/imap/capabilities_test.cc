#include "imap/capabilities.h"

#include <gtest/gtest.h>

namespace imapgate::imap {
namespace {

TEST(CapabilitiesTest, CleartextPhaseOffersStartTlsAndNoMechanisms) {
  const std::string caps = PreAuthCapabilities(PreAuthPhase::kCleartextTlsRequired);
  EXPECT_EQ(caps, "IMAP4rev1 ID LITERAL+ STARTTLS LOGINDISABLED");
  EXPECT_EQ(caps.find("AUTH="), std::string::npos);
  EXPECT_EQ(caps.find("SASL-IR"), std::string::npos);
}

TEST(CapabilitiesTest, TlsPhaseOffersMechanismsAndNoStartTls) {
  const std::string caps = PreAuthCapabilities(PreAuthPhase::kTls);
  EXPECT_EQ(caps, "IMAP4rev1 ID LITERAL+ SASL-IR AUTH=PLAIN");
  EXPECT_EQ(caps.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(caps.find("LOGINDISABLED"), std::string::npos);
}

TEST(CapabilitiesTest, TlsPhaseListsTheGivenMechanismsInOrder) {
  EXPECT_EQ(PreAuthCapabilities(PreAuthPhase::kTls, {"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"}),
            "IMAP4rev1 ID LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN AUTH=XOAUTH2 AUTH=OAUTHBEARER");
  EXPECT_EQ(PreAuthCapabilities(PreAuthPhase::kTls, {"XOAUTH2"}), "IMAP4rev1 ID LITERAL+ SASL-IR AUTH=XOAUTH2");
  // No mechanism: no SASL-IR either.
  EXPECT_EQ(PreAuthCapabilities(PreAuthPhase::kTls, {}), "IMAP4rev1 ID LITERAL+");
}

TEST(CapabilitiesTest, CleartextPhaseNeverListsMechanisms) {
  EXPECT_EQ(PreAuthCapabilities(PreAuthPhase::kCleartextTlsRequired, {"PLAIN", "LOGIN", "XOAUTH2"}),
            "IMAP4rev1 ID LITERAL+ STARTTLS LOGINDISABLED");
}

TEST(CapabilitiesTest, FilterDropsTlsAndAuthCapabilities) {
  EXPECT_EQ(FilterBackendCapabilities("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                                      "STARTTLS AUTH=PLAIN auth=login LOGINDISABLED "
                                      "starttls Auth=XOAUTH2 LITERAL+"),
            "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+");
}

TEST(CapabilitiesTest, FilterNormalizesSpacing) {
  EXPECT_EQ(FilterBackendCapabilities("  IMAP4rev1   IDLE  "), "IMAP4rev1 IDLE");
  EXPECT_EQ(FilterBackendCapabilities(""), "");
  EXPECT_EQ(FilterBackendCapabilities("STARTTLS AUTH=PLAIN"), "");
}

TEST(CapabilitiesTest, FilterKeepsLookalikes) {
  EXPECT_EQ(FilterBackendCapabilities("AUTH STARTTLSX XAUTH=PLAIN"), "AUTH STARTTLSX XAUTH=PLAIN");
}

}  // namespace
}  // namespace imapgate::imap
