// Options: the imapgate-loadgen command line, parsed and bounds-checked.
//
// ParseOptions() is pure: argv in, an Options struct or one error message out (it reads no
// files; --users-file is only recorded, LoadUsersFile() reads it). Every count is bounded and the
// target must be a loopback address (127.0.0.0/8 or ::1): the tool never loads a remote host.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace imapgate::bench {

enum class Mode { kLogin, kIdle, kFetch, kNoop, kHandshake };
enum class TlsMode { kImplicit, kStarttls, kNone };

constexpr int kMaxSessions = 200000;
constexpr int kMaxConcurrency = 100000;
constexpr int kMaxThreads = 64;
constexpr int kMaxSourceAddrs = 65536;
constexpr int kMaxSecondsLimit = 86400;

struct Options {
  Mode mode = Mode::kLogin;
  std::string host = "127.0.0.1";
  int port = 0;
  TlsMode tls = TlsMode::kImplicit;
  std::string cafile;  // empty with insecure: no verification
  bool insecure = false;
  std::string user;
  std::string password;
  std::string users_file;  // when set, user/password come from LoadUsersFile()
  int concurrency = 50;
  int sessions = 1000;
  bool resume = false;
  bool tls12 = false;  // --tls-max 1.2: cap the version (TLS 1.2 resumption skips all ECDH)
  int idle_sessions = 100;
  int hold_seconds = 10;
  int64_t fetch_uid = 1;
  int fetch_count = 1000;
  int noop_count = 10000;
  int source_addrs = 1;
  int max_seconds = 120;
  int threads = 1;
  bool json = false;
  bool help = false;
};

// Parsed result: the options, or a one-line error message.
using ParseResult = std::variant<Options, std::string>;

// Parses argv[1..argc-1]. "--help" sets help and skips the required-argument checks.
ParseResult ParseOptions(int argc, const char* const* argv);
// The --help text.
std::string UsageText();
// True for 127.0.0.0/8 dotted quads and "::1" (no names are resolved).
bool IsLoopbackHost(const std::string& host);
// Reads "user password" lines (blank lines and '#' comments skipped). Error text on failure.
std::variant<std::vector<std::pair<std::string, std::string>>, std::string> LoadUsersFile(
    const std::string& path);

const char* ModeName(Mode mode);
const char* TlsModeName(TlsMode tls);

}  // namespace imapgate::bench
