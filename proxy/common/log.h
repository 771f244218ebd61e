// Structured logging: one line per event, logfmt (default) or JSON, each line one write(2) to
// stderr or to a log file that SIGUSR1 reopens.
//
// Usage: LogEvent(LogLevel::kInfo, "session_end").Add("sid", id).Add("user", user);
// The line is emitted when the LogEvent is destroyed. Every line starts with ts (RFC 3339 UTC
// with milliseconds), level and event. Values are escaped (logfmt: quotes and backslashes get a
// backslash, control and non-ASCII bytes become \xNN; JSON: \" \\ and \u00NN for control and
// non-ASCII bytes, so a line is pure ASCII and always valid JSON; a JSON string holds one code
// point per raw byte: encode it as Latin-1 to get the bytes back) and cut at 512 bytes, so
// client-supplied text cannot forge lines. Numbers are JSON numbers. There is deliberately no
// overload for SecretString: secrets cannot be logged.
// Thread-safe: any thread may log; the level, format and destination are process-wide atomics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace imapgate {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kLogfmt = 0, kJson = 1 };

// Sets the minimum level that is written (process-wide; default kInfo).
void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* out);
bool LogEnabled(LogLevel level);

// Sets the line format of events created from now on (process-wide; default kLogfmt).
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();
// "logfmt" or "json"; false (and *out unchanged) for anything else.
bool ParseLogFormat(std::string_view name, LogFormat* out);

// The log destination. `path` empty: stderr (the default). Otherwise the file is opened
// (O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640) now and becomes the destination; on failure
// the destination is unchanged and the Status names the path and the errno text. Main thread;
// log lines written concurrently by other threads go wholly to the old or the new file.
// The descriptor number of the log file never changes once opened (a reopen dup3()s the new
// file onto it), so a writer that loaded it can never write into a descriptor reused for a
// socket.
Status OpenLogDestination(const std::string& path);
// Remembers `path` for the next ReopenLogDestination (a reload's changed log_file); opens nothing.
void SetLogDestinationPath(const std::string& path);
// SIGUSR1: opens the remembered path again (logrotate moved the old file away) and swaps it in;
// stderr when the path is empty. On failure the old destination stays and the Status says why.
Status ReopenLogDestination();
// Lines whose write(2) failed or was short since start (a full disk, a closed pipe): never
// retried, never fatal.
uint64_t LogWriteFailures();

// Appends key=value to `line` in logfmt, escaping the value. Exposed for tests.
void AppendLogfmtField(std::string* line, std::string_view key, std::string_view value);
// Appends "key":"value" to a JSON object under construction in `object` (which starts with '{';
// a comma is added unless it ends with '{'), escaping and cutting the value as above.
void AppendJsonField(std::string* object, std::string_view key, std::string_view value);
// Appends "key":number; `number` must be a JSON number's text (the caller formats it).
void AppendJsonNumber(std::string* object, std::string_view key, std::string_view number);

namespace internal {
// Writes one whole line (with its newline) to the destination with one write(2) (retried only on
// EINTR); a failure is counted, never reported. Any thread. For LogEvent.
void WriteLogLine(std::string_view line);
}  // namespace internal

// LogEvent: one log line, built by Add() calls and written when destroyed. Not copyable; use it
// as a temporary or a local on one thread.
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
  void AddNumber(std::string_view key, std::string_view text);
  bool enabled_;
  LogFormat format_ = LogFormat::kLogfmt;
  std::string line_;
};

}  // namespace imapgate
