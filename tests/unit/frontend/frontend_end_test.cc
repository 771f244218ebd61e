// Tests for frontend_end: the one table from parser error codes to FrontendEnd, and from
// FrontendEnd to its log name and its imapgate_preauth_rejections_total reason.
#include "frontend/frontend_end.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace imapgate::frontend {
namespace {

using imap::ParseErrorCode;
using stats::RejectReason;

constexpr FrontendEnd kAllEnds[] = {
    FrontendEnd::kLogout,         FrontendEnd::kClientClosed,   FrontendEnd::kTlsFailed,
    FrontendEnd::kTimeout,        FrontendEnd::kLineTooLong,    FrontendEnd::kLiteralTooLarge,
    FrontendEnd::kProtocolError,  FrontendEnd::kPreauthBytes,   FrontendEnd::kBadCommands,
    FrontendEnd::kStartTlsInjection, FrontendEnd::kAuthAttempts, FrontendEnd::kShutdown,
    FrontendEnd::kInternalError,
};

TEST(FrontendEndTest, EveryEndHasItsOwnName) {
  std::set<std::string> names;
  for (FrontendEnd end : kAllEnds) {
    std::string name = FrontendEndName(end);
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_STREQ(FrontendEndName(FrontendEnd::kTimeout), "preauth_timeout");
  EXPECT_STREQ(FrontendEndName(FrontendEnd::kLineTooLong), "line_too_long");
}

TEST(FrontendEndTest, EveryEndIsCountedUnderASessionsEndedReason) {
  for (FrontendEnd end : kAllEnds) {
    EXPECT_NE(stats::Metrics::SessionEndReason(FrontendEndName(end)), "") << FrontendEndName(end);
  }
  EXPECT_EQ(stats::Metrics::SessionEndReason(FrontendEndName(FrontendEnd::kRefused)), "refused");
}

TEST(FrontendEndTest, FatalParseErrorsMapByCodeNotByMessage) {
  EXPECT_EQ(FrontendEndForParseError(ParseErrorCode::kLineTooLong), FrontendEnd::kLineTooLong);
  EXPECT_EQ(FrontendEndForParseError(ParseErrorCode::kLiteralTooLarge), FrontendEnd::kLiteralTooLarge);
  EXPECT_EQ(FrontendEndForParseError(ParseErrorCode::kInvalidLiteral), FrontendEnd::kProtocolError);
  EXPECT_EQ(FrontendEndForParseError(ParseErrorCode::kSaslResponseTooLong), FrontendEnd::kProtocolError);
  EXPECT_EQ(FrontendEndForParseError(ParseErrorCode::kNone), FrontendEnd::kProtocolError);
}

TEST(FrontendEndTest, RejectionsAreCountedForTheBoundsOnly) {
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kLineTooLong), RejectReason::kLineTooLong);
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kLiteralTooLarge), RejectReason::kLiteralTooLarge);
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kPreauthBytes), RejectReason::kPreauthBytes);
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kTimeout), RejectReason::kPreauthTimeout);
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kBadCommands), RejectReason::kBadCommands);
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kStartTlsInjection), RejectReason::kStartTlsInjection);
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kAuthAttempts), RejectReason::kAuthAttempts);
  EXPECT_EQ(FrontendEndRejectReason(FrontendEnd::kTlsFailed), RejectReason::kTlsHandshake);
  for (FrontendEnd end : {FrontendEnd::kLogout, FrontendEnd::kClientClosed, FrontendEnd::kProtocolError,
                          FrontendEnd::kShutdown, FrontendEnd::kInternalError}) {
    EXPECT_FALSE(FrontendEndRejectReason(end).has_value()) << FrontendEndName(end);
  }
}

}  // namespace
}  // namespace imapgate::frontend
