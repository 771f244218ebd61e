#include "bench/loadgen/report.h"

#include <gtest/gtest.h>

namespace imapgate::bench {
namespace {

TEST(ReportTest, JsonHasEveryField) {
  Options o;
  o.port = 993;
  RunStats s;
  s.ok = 4;
  s.Fail(FailReason::kLogin, 2);
  s.Fail(FailReason::kTimeout);
  s.resumed = 3;
  s.selected = 4;
  for (uint64_t v : {100, 200, 300, 400}) s.latency.Record(v);
  RunTimes t{2.0, 0, 0.5};
  std::string j = FormatJson(o, s, t);
  for (const char* key :
       {"\"mode\":\"login\"", "\"target\":\"127.0.0.1:993\"", "\"tls\":\"implicit\"", "\"ok\":4",
        "\"failed\":3", "\"failures\":{\"login\":2,\"timeout\":1}", "\"elapsed_s\":2.0",
        "\"sessions_per_s\":2.00", "\"p50\":200", "\"p90\":400", "\"p99\":400", "\"max\":400",
        "\"mean\":250.0", "\"selected\":4", "\"held\":0", "\"fetch_bytes\":0", "\"fetch_mb_per_s\":0.000",
        "\"client_cpu_s\":0.5", "\"client_cpu_us_per_session\":125000.0", "\"resumed\":3"}) {
    EXPECT_NE(j.find(key), std::string::npos) << key << " in " << j;
  }
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
  EXPECT_EQ(j.find('\n'), std::string::npos);
}

TEST(ReportTest, RatesPerMode) {
  Options o;
  o.mode = Mode::kIdle;
  RunStats s;
  s.held = 100;
  s.ok = 100;
  RunTimes t{10.0, 2.0, 1.0};
  std::string j = FormatJson(o, s, t);
  EXPECT_NE(j.find("\"sessions_per_s\":50.00"), std::string::npos) << j;  // held / open_s
  o.mode = Mode::kFetch;
  s.ops = 200;
  s.fetch_bytes = 20000000;
  j = FormatJson(o, s, t);
  EXPECT_NE(j.find("\"fetch_mb_per_s\":2.000"), std::string::npos) << j;
  EXPECT_NE(j.find("\"ops_per_s\":20.00"), std::string::npos) << j;
  EXPECT_NE(j.find("\"failures\":{}"), std::string::npos) << j;
  o.host = "::1";
  EXPECT_NE(FormatJson(o, s, t).find("\"target\":\"[::1]:0\""), std::string::npos);
}

}  // namespace
}  // namespace imapgate::bench
