// StderrCapture: test helper that redirects fd 2 to a temporary file for its lifetime, so a test
// can assert on the log lines the code under test wrote. Not thread-safe; one at a time.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

namespace imapgate::testing {

// Redirects fd 2 to a temporary file for its lifetime; Take() returns what was written.
class StderrCapture {
 public:
  StderrCapture() : file_(std::tmpfile()), saved_(::dup(STDERR_FILENO)) {
    std::fflush(stderr);
    ::dup2(::fileno(file_), STDERR_FILENO);
  }
  ~StderrCapture() {
    Restore();
    std::fclose(file_);
  }
  std::string Take() {
    Restore();
    std::string out;
    std::rewind(file_);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    return out;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_;
};

}  // namespace imapgate::testing
