#include "bench/loadgen/options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace imapgate::bench {
namespace {

ParseResult Parse(std::vector<std::string> args) {
  std::vector<const char*> argv = {"imapgate-loadgen"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

Options MustParse(std::vector<std::string> args) {
  ParseResult r = Parse(std::move(args));
  if (auto* err = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << *err;
    return Options();
  }
  return std::get<Options>(r);
}

std::string MustFail(std::vector<std::string> args) {
  ParseResult r = Parse(std::move(args));
  if (std::holds_alternative<Options>(r)) {
    ADD_FAILURE() << "parsed but should fail";
    return "";
  }
  return std::get<std::string>(r);
}

const std::vector<std::string> kBase = {"--port", "993", "--user", "u", "--password", "p"};

std::vector<std::string> With(std::vector<std::string> extra) {
  std::vector<std::string> v = kBase;
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

TEST(OptionsTest, Defaults) {
  Options o = MustParse(kBase);
  EXPECT_EQ(o.mode, Mode::kLogin);
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 993);
  EXPECT_EQ(o.tls, TlsMode::kImplicit);
  EXPECT_EQ(o.concurrency, 50);
  EXPECT_EQ(o.sessions, 1000);
  EXPECT_EQ(o.source_addrs, 1);
  EXPECT_EQ(o.max_seconds, 120);
  EXPECT_EQ(o.threads, 1);
  EXPECT_FALSE(o.resume);
  EXPECT_FALSE(o.json);
  EXPECT_FALSE(o.insecure);
}

TEST(OptionsTest, EveryFlag) {
  Options o = MustParse({"--mode",
                         "fetch",
                         "--host",
                         "127.1.2.3",
                         "--port",
                         "1143",
                         "--tls",
                         "starttls",
                         "--cafile",
                         "/tmp/ca.pem",
                         "--user",
                         "alice",
                         "--password",
                         "pw word",
                         "--concurrency",
                         "7",
                         "--sessions",
                         "200000",
                         "--resume",
                         "--idle-sessions",
                         "50000",
                         "--hold-seconds",
                         "3",
                         "--fetch-uid",
                         "9",
                         "--fetch-count",
                         "11",
                         "--noop-count",
                         "13",
                         "--source-addrs",
                         "200",
                         "--max-seconds",
                         "5",
                         "--threads",
                         "2",
                         "--json"});
  EXPECT_EQ(o.mode, Mode::kFetch);
  EXPECT_EQ(o.host, "127.1.2.3");
  EXPECT_EQ(o.port, 1143);
  EXPECT_EQ(o.tls, TlsMode::kStarttls);
  EXPECT_EQ(o.cafile, "/tmp/ca.pem");
  EXPECT_EQ(o.user, "alice");
  EXPECT_EQ(o.password, "pw word");
  EXPECT_EQ(o.concurrency, 7);
  EXPECT_EQ(o.sessions, 200000);
  EXPECT_TRUE(o.resume);
  EXPECT_EQ(o.idle_sessions, 50000);
  EXPECT_EQ(o.hold_seconds, 3);
  EXPECT_EQ(o.fetch_uid, 9);
  EXPECT_EQ(o.fetch_count, 11);
  EXPECT_EQ(o.noop_count, 13);
  EXPECT_EQ(o.source_addrs, 200);
  EXPECT_EQ(o.max_seconds, 5);
  EXPECT_EQ(o.threads, 2);
  EXPECT_TRUE(o.json);
}

TEST(OptionsTest, Modes) {
  EXPECT_EQ(MustParse(With({"--mode", "login"})).mode, Mode::kLogin);
  EXPECT_EQ(MustParse(With({"--mode", "idle"})).mode, Mode::kIdle);
  EXPECT_EQ(MustParse(With({"--mode", "noop"})).mode, Mode::kNoop);
  EXPECT_EQ(MustParse({"--mode", "handshake", "--port", "1"}).mode, Mode::kHandshake);
  EXPECT_NE(MustFail(With({"--mode", "bogus"})).find("--mode"), std::string::npos);
}

TEST(OptionsTest, TlsModesAndInsecure) {
  EXPECT_EQ(MustParse(With({"--tls", "none"})).tls, TlsMode::kNone);
  EXPECT_TRUE(MustParse(With({"--insecure"})).insecure);
  EXPECT_TRUE(MustParse(With({"--tls-max", "1.2"})).tls12);
  EXPECT_FALSE(MustParse(With({"--tls-max", "1.3"})).tls12);
  MustFail(With({"--tls-max", "1.1"}));
  MustFail(With({"--tls", "ssl"}));
  MustFail(With({"--cafile", "a", "--insecure"}));
  MustFail(With({"--tls", "none", "--resume"}));
  MustFail({"--mode", "handshake", "--port", "1", "--tls", "starttls"});
}

TEST(OptionsTest, RefusesNonLoopbackHosts) {
  for (const char* host : {"10.0.0.1", "192.168.1.1", "8.8.8.8", "localhost", "example.com", "::2",
                           "0.0.0.0", "128.0.0.1", ""}) {
    std::string err = MustFail(With({"--host", host}));
    EXPECT_NE(err.find("loopback"), std::string::npos) << host << ": " << err;
  }
  EXPECT_EQ(MustParse(With({"--host", "::1"})).host, "::1");
  EXPECT_EQ(MustParse(With({"--host", "127.255.255.254"})).host, "127.255.255.254");
  MustFail(With({"--host", "::1", "--source-addrs", "2"}));
}

TEST(OptionsTest, BoundsOnCounts) {
  MustFail(With({"--sessions", "200001"}));
  MustFail(With({"--sessions", "0"}));
  MustFail(With({"--concurrency", "100001"}));
  MustFail(With({"--concurrency", "0"}));
  MustFail(With({"--idle-sessions", "200001"}));
  MustFail(With({"--port", "0"}));
  MustFail(With({"--port", "65536"}));
  MustFail(With({"--source-addrs", "65537"}));
  MustFail(With({"--threads", "0"}));
  MustFail(With({"--threads", "65"}));
  MustFail(With({"--max-seconds", "0"}));
  MustFail(With({"--fetch-uid", "0"}));
  EXPECT_EQ(MustParse(With({"--concurrency", "100000"})).concurrency, 100000);
}

TEST(OptionsTest, BadNumbers) {
  for (const char* v : {"", "abc", "12x", "-1", "1.5", " 3", "99999999999999999999"}) {
    std::string err = MustFail(With({"--concurrency", v}));
    EXPECT_NE(err.find("--concurrency"), std::string::npos) << err;
  }
}

TEST(OptionsTest, MissingAndUnknown) {
  EXPECT_NE(MustFail({"--user", "u", "--password", "p"}).find("--port"), std::string::npos);
  EXPECT_NE(MustFail({"--port", "1"}).find("--user"), std::string::npos);
  EXPECT_NE(MustFail(With({"--bogus", "1"})).find("--bogus"), std::string::npos);
  EXPECT_NE(MustFail(With({"--sessions"})).find("missing value"), std::string::npos);
  MustFail(With({"--users-file", "/x"}));  // exclusive with --user/--password
  MustFail({"--port", "1", "--user", "a\r\nb", "--password", "p"});
  EXPECT_TRUE(MustParse({"--help"}).help);
}

TEST(OptionsTest, UsersFile) {
  EXPECT_EQ(MustParse({"--port", "1", "--users-file", "/x"}).users_file, "/x");
  std::string path = ::testing::TempDir() + "/users.txt";
  {
    std::ofstream f(path);
    f << "# comment\nalice pw1\n\nbob pw2\r\n";
  }
  auto users = LoadUsersFile(path);
  ASSERT_EQ(users.index(), 0u) << std::get<std::string>(users);
  auto& list = std::get<0>(users);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].first, "bob");
  EXPECT_EQ(list[1].second, "pw2");
  {
    std::ofstream f(path);
    f << "alice\n";
  }
  EXPECT_EQ(LoadUsersFile(path).index(), 1u);
  EXPECT_EQ(LoadUsersFile(path + ".missing").index(), 1u);
  std::remove(path.c_str());
}

TEST(OptionsTest, LoopbackCheck) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.0.1.7"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("126.255.255.255"));
  EXPECT_FALSE(IsLoopbackHost("::ffff:127.0.0.1"));
}

}  // namespace
}  // namespace imapgate::bench
