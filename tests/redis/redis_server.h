// RedisServerProcess: a real redis-server for the integration tests, on an ephemeral loopback
// port in a fresh temporary directory, with no persistence.
//
// Start() forks and execs `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no
// --dir TMP` and waits (bounded) until it answers PING; Kill() ends it at once (SIGKILL, a crash);
// Restart() starts it again on the same port. The child dies with the test process
// (PR_SET_PDEATHSIG), and the destructor kills and reaps it, so no server outlives a test, even
// a failed one. Test-thread only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace imapgate::testing {

class RedisServerProcess {
 public:
  RedisServerProcess() = default;
  ~RedisServerProcess() {
    Kill();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  // Picks a port and a directory, then starts the server (with `extra_args` appended, e.g.
  // {"--requirepass", "..."}); false if it does not answer in 10 s.
  bool Start(std::vector<std::string> extra_args = {}) {
    extra_args_ = std::move(extra_args);
    char tmpl[] = "/tmp/imapgate-redis-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return false;
    dir_ = tmpl;
    port_ = FreePort();
    return port_ != 0 && Restart();
  }

  // Starts the server again on the same port (after Kill()).
  bool Restart() {
    Kill();
    const std::string port = std::to_string(port_);
    const std::string log = dir_ + "/redis.log";
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<const char*> argv = {"redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", dir_.c_str(), "--daemonize", "no"};
      for (const std::string& a : extra_args_) argv.push_back(a.c_str());
      argv.push_back(nullptr);
      ::execvp("redis-server", const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Ping()) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Ends the server at once (SIGKILL) and reaps it.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Freezes and thaws the server (SIGSTOP / SIGCONT): connections stay open, nothing answers.
  void Freeze() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void Thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  int port() const { return port_; }
  bool running() const { return pid_ > 0; }

  // A blocking PING on a fresh connection (1 s timeouts): true once the server answers (+PONG, or
  // -NOAUTH when it wants a password).
  bool Ping() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::write(fd, "PING\r\n", 6) == 6) {
      char buf[16] = {};
      ok = ::read(fd, buf, sizeof(buf) - 1) >= 5 &&
           (std::strncmp(buf, "+PONG", 5) == 0 || std::strncmp(buf, "-NOAUTH", 7) == 0);
    }
    ::close(fd);
    return ok;
  }

 private:
  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  std::vector<std::string> extra_args_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace imapgate::testing
