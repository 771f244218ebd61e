#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace imapgate {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
constexpr size_t kMaxValueBytes = 512;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void AppendLogfmtField(std::string* line, std::string_view key, std::string_view value) {
  if (!line->empty()) line->push_back(' ');
  line->append(key);
  line->push_back('=');
  bool truncated = value.size() > kMaxValueBytes;
  if (truncated) value = value.substr(0, kMaxValueBytes);
  bool needs_quotes = value.empty();
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) needs_quotes = true;
  }
  if (needs_quotes) line->push_back('"');
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      line->push_back('\\');
      line->push_back(static_cast<char>(c));
    } else if (c < ' ' || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      line->append(hex);
    } else {
      line->push_back(static_cast<char>(c));
    }
  }
  if (truncated) line->append("...");
  if (needs_quotes) line->push_back('"');
}

LogEvent::LogEvent(LogLevel level, std::string_view event) : enabled_(LogEnabled(level)) {
  if (!enabled_) return;
  auto now = std::chrono::system_clock::now();  // log timestamps only; never used for logic
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char ts[80];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  line_.reserve(256);
  AppendLogfmtField(&line_, "ts", ts);
  AppendLogfmtField(&line_, "level", LevelName(level));
  AppendLogfmtField(&line_, "event", event);
}

LogEvent::~LogEvent() {
  if (!enabled_) return;
  line_.push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line_.data(), line_.size());
  (void)ignored;
}

LogEvent& LogEvent::Add(std::string_view key, std::string_view value) {
  if (enabled_) AppendLogfmtField(&line_, key, value);
  return *this;
}

LogEvent& LogEvent::Add(std::string_view key, int64_t value) {
  if (enabled_) AppendLogfmtField(&line_, key, std::to_string(value));
  return *this;
}

LogEvent& LogEvent::Add(std::string_view key, uint64_t value) {
  if (enabled_) AppendLogfmtField(&line_, key, std::to_string(value));
  return *this;
}

LogEvent& LogEvent::Add(std::string_view key, double value) {
  if (!enabled_) return *this;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", value);
  AppendLogfmtField(&line_, key, buf);
  return *this;
}

}  // namespace imapgate
