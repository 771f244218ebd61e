// Structured logging: one logfmt line per event, written with a single write(2) to stderr.
//
// Usage: LogEvent(LogLevel::kInfo, "session_end").Add("sid", id).Add("user", user);
// The line is emitted when the LogEvent is destroyed. Values are escaped (quotes, backslashes and
// control or non-ASCII bytes become \xNN) and cut at 512 bytes, so client-supplied text cannot
// forge lines. There is deliberately no overload for SecretString: secrets cannot be logged.
// Thread-safe: each line is one write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace imapgate {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sets the minimum level that is written (process-wide; default kInfo).
void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* out);
bool LogEnabled(LogLevel level);

// Appends key=value to `line` in logfmt, escaping the value. Exposed for tests.
void AppendLogfmtField(std::string* line, std::string_view key, std::string_view value);

class LogEvent {
 public:
  LogEvent(LogLevel level, std::string_view event);
  ~LogEvent();
  LogEvent(const LogEvent&) = delete;
  LogEvent& operator=(const LogEvent&) = delete;

  LogEvent& Add(std::string_view key, std::string_view value);
  LogEvent& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  LogEvent& Add(std::string_view key, int64_t value);
  LogEvent& Add(std::string_view key, uint64_t value);
  LogEvent& Add(std::string_view key, int value) { return Add(key, static_cast<int64_t>(value)); }
  LogEvent& Add(std::string_view key, double value);

 private:
  bool enabled_;
  std::string line_;
};

}  // namespace imapgate
