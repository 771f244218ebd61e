// Tests for Status and StatusOr: codes and messages, and a StatusOr built from an OK status
// (a caller bug) becoming an internal error instead of an ok() without a value.
#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

namespace imapgate {
namespace {

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Unavailable("backend down");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "backend down");
  EXPECT_EQ(InvalidArgument("x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Internal("x").code(), StatusCode::kInternal);
}

TEST(StatusOrTest, HoldsAValueOrAnError) {
  StatusOr<std::string> v(std::string("value"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "value");
  StatusOr<std::unique_ptr<int>> e(Internal("no"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "no");
}

TEST(StatusOrTest, BuiltFromAnOkStatusIsAnInternalError) {
  // In a release build (NDEBUG) the old assert vanished and this claimed ok() with no value.
  StatusOr<int> s(Status::Ok());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(s.status().message().empty());
}

TEST(StatusTest, IgnoreStatusCompilesForADeliberateDiscard) {
  IgnoreStatus(Internal("ignored"), "the test discards it on purpose");
  SUCCEED();
}

}  // namespace
}  // namespace imapgate
