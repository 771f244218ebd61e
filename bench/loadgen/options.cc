#include "bench/loadgen/options.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace imapgate::bench {
namespace {

bool ParseInt(const std::string& text, int64_t lo, int64_t hi, int64_t* out) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return false;
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kLogin:
      return "login";
    case Mode::kIdle:
      return "idle";
    case Mode::kFetch:
      return "fetch";
    case Mode::kNoop:
      return "noop";
    case Mode::kHandshake:
      return "handshake";
  }
  return "?";
}

const char* TlsModeName(TlsMode tls) {
  switch (tls) {
    case TlsMode::kImplicit:
      return "implicit";
    case TlsMode::kStarttls:
      return "starttls";
    case TlsMode::kNone:
      return "none";
  }
  return "?";
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "::1") return true;
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  return (ntohl(addr.s_addr) >> 24) == 127;
}

std::string UsageText() {
  return "usage: imapgate-loadgen --mode login|idle|fetch|noop|handshake\n"
         "  --host 127.0.0.1 --port P --tls implicit|starttls|none [--cafile F | --insecure]\n"
         "  --user U --password P | --users-file F   (lines \"user password\", round-robin)\n"
         "  --concurrency N      sessions in flight (default 50, max 100000)\n"
         "  --sessions N         login/handshake: sessions to run (default 1000, max 200000)\n"
         "  --resume             TLS session resumption with tickets across sessions\n"
         "  --tls-max 1.2|1.3    highest TLS version offered (default 1.3)\n"
         "  --idle-sessions N --hold-seconds S   idle: hold N sessions in IDLE for S seconds\n"
         "  --fetch-uid N --fetch-count N        fetch: UID FETCH N BODY.PEEK[] N times in total\n"
         "  --noop-count N       noop: N NOOP round trips over --concurrency warm sessions\n"
         "  --source-addrs N     bind sockets to 127.0.0.1 .. (N addresses of 127/8; default 1)\n"
         "  --max-seconds S      hard time bound (default 120); unfinished sessions fail\n"
         "  --threads N          event-loop threads (default 1)\n"
         "  --json               print one JSON object on the last stdout line\n"
         "Targets must be loopback (127.0.0.0/8 or ::1).\n";
}

ParseResult ParseOptions(int argc, const char* const* argv) {
  Options o;
  bool have_port = false, have_user = false, have_password = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return o;
    }
    if (flag == "--resume") {
      o.resume = true;
      continue;
    }
    if (flag == "--insecure") {
      o.insecure = true;
      continue;
    }
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) return "missing value for " + flag;
    std::string value = argv[++i];
    int64_t n = 0;
    auto number = [&](int64_t lo, int64_t hi, auto* out) -> std::string {
      if (!ParseInt(value, lo, hi, &n)) {
        return "bad value for " + flag + ": '" + value + "' (expected an integer in " +
               std::to_string(lo) + ".." + std::to_string(hi) + ")";
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(n);
      return "";
    };
    std::string err;
    if (flag == "--mode") {
      if (value == "login")
        o.mode = Mode::kLogin;
      else if (value == "idle")
        o.mode = Mode::kIdle;
      else if (value == "fetch")
        o.mode = Mode::kFetch;
      else if (value == "noop")
        o.mode = Mode::kNoop;
      else if (value == "handshake")
        o.mode = Mode::kHandshake;
      else
        return "bad value for --mode: '" + value + "' (login|idle|fetch|noop|handshake)";
    } else if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port") {
      err = number(1, 65535, &o.port);
      have_port = true;
    } else if (flag == "--tls") {
      if (value == "implicit")
        o.tls = TlsMode::kImplicit;
      else if (value == "starttls")
        o.tls = TlsMode::kStarttls;
      else if (value == "none")
        o.tls = TlsMode::kNone;
      else
        return "bad value for --tls: '" + value + "' (implicit|starttls|none)";
    } else if (flag == "--tls-max") {
      if (value == "1.2")
        o.tls12 = true;
      else if (value == "1.3")
        o.tls12 = false;
      else
        return "bad value for --tls-max: '" + value + "' (1.2|1.3)";
    } else if (flag == "--cafile") {
      if (value.empty()) return "empty --cafile";
      o.cafile = value;
    } else if (flag == "--user") {
      o.user = value;
      have_user = true;
    } else if (flag == "--password") {
      o.password = value;
      have_password = true;
    } else if (flag == "--users-file") {
      if (value.empty()) return "empty --users-file";
      o.users_file = value;
    } else if (flag == "--concurrency") {
      err = number(1, kMaxConcurrency, &o.concurrency);
    } else if (flag == "--sessions") {
      err = number(1, kMaxSessions, &o.sessions);
    } else if (flag == "--idle-sessions") {
      err = number(1, kMaxSessions, &o.idle_sessions);
    } else if (flag == "--hold-seconds") {
      err = number(0, kMaxSecondsLimit, &o.hold_seconds);
    } else if (flag == "--fetch-uid") {
      err = number(1, 4294967295LL, &o.fetch_uid);
    } else if (flag == "--fetch-count") {
      err = number(1, 100000000, &o.fetch_count);
    } else if (flag == "--noop-count") {
      err = number(1, 100000000, &o.noop_count);
    } else if (flag == "--source-addrs") {
      err = number(1, kMaxSourceAddrs, &o.source_addrs);
    } else if (flag == "--max-seconds") {
      err = number(1, kMaxSecondsLimit, &o.max_seconds);
    } else if (flag == "--threads") {
      err = number(1, kMaxThreads, &o.threads);
    } else {
      return "unknown option " + flag;
    }
    if (!err.empty()) return err;
  }
  if (!have_port) return "--port is required";
  if (!IsLoopbackHost(o.host)) {
    return "refusing non-loopback --host '" + o.host + "': only 127.0.0.0/8 or ::1";
  }
  if (o.host == "::1" && o.source_addrs > 1) return "--source-addrs needs an IPv4 --host";
  if (!o.cafile.empty() && o.insecure) return "--cafile and --insecure are exclusive";
  if (o.tls == TlsMode::kNone && (!o.cafile.empty() || o.resume)) {
    return "--cafile/--resume need --tls implicit or starttls";
  }
  if (o.mode == Mode::kHandshake && o.tls == TlsMode::kStarttls) {
    return "--mode handshake needs --tls implicit or none";
  }
  if (o.mode != Mode::kHandshake && o.users_file.empty() && (!have_user || !have_password)) {
    return "--user and --password (or --users-file) are required for --mode " +
           std::string(ModeName(o.mode));
  }
  if (!o.users_file.empty() && (have_user || have_password)) {
    return "--users-file excludes --user/--password";
  }
  for (const std::string* s : {&o.user, &o.password}) {
    if (s->find_first_of("\r\n") != std::string::npos || s->size() > 1024) {
      return "--user/--password must be one line of at most 1024 bytes";
    }
  }
  return o;
}

std::variant<std::vector<std::pair<std::string, std::string>>, std::string> LoadUsersFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read --users-file '" + path + "': " + std::strerror(errno);
  std::vector<std::pair<std::string, std::string>> users;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string user, password, extra;
    if (!(fields >> user >> password) || (fields >> extra) || user.size() > 1024 ||
        password.size() > 1024) {
      return path + ":" + std::to_string(lineno) + ": expected \"user password\"";
    }
    users.emplace_back(std::move(user), std::move(password));
    if (users.size() > static_cast<size_t>(kMaxSessions)) return path + ": too many users";
  }
  if (users.empty()) return path + ": no users";
  return users;
}

}  // namespace imapgate::bench
