#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace imapgate {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kLogfmt)};
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

// The JSON string body of `value` (no quotes): \" \\ and \u00NN for control and non-ASCII bytes.
void AppendJsonString(std::string* out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < ' ' || c >= 0x7f) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

void AppendJsonKey(std::string* object, std::string_view key) {
  if (object->empty()) object->push_back('{');
  if (object->back() != '{') object->push_back(',');
  object->push_back('"');
  AppendJsonString(object, key);
  object->append("\":");
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

void SetLogFormat(LogFormat format) { g_format.store(static_cast<int>(format)); }

LogFormat CurrentLogFormat() { return static_cast<LogFormat>(g_format.load()); }

bool ParseLogFormat(std::string_view name, LogFormat* out) {
  if (name == "logfmt") {
    *out = LogFormat::kLogfmt;
  } else if (name == "json") {
    *out = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
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

void AppendJsonField(std::string* object, std::string_view key, std::string_view value) {
  AppendJsonKey(object, key);
  const bool truncated = value.size() > kMaxValueBytes;
  if (truncated) value = value.substr(0, kMaxValueBytes);
  object->push_back('"');
  AppendJsonString(object, value);
  if (truncated) object->append("...");
  object->push_back('"');
}

void AppendJsonNumber(std::string* object, std::string_view key, std::string_view number) {
  AppendJsonKey(object, key);
  object->append(number);
}

LogEvent::LogEvent(LogLevel level, std::string_view event) : enabled_(LogEnabled(level)) {
  if (!enabled_) return;
  format_ = CurrentLogFormat();
  auto now = std::chrono::system_clock::now();  // log timestamps only; never used for logic
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char ts[80];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  line_.reserve(256);
  Add("ts", ts);
  Add("level", LevelName(level));
  Add("event", event);
}

LogEvent::~LogEvent() {
  if (!enabled_) return;
  if (format_ == LogFormat::kJson) line_.push_back('}');
  line_.push_back('\n');
  internal::WriteLogLine(line_);
}

LogEvent& LogEvent::Add(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  if (format_ == LogFormat::kJson) {
    AppendJsonField(&line_, key, value);
  } else {
    AppendLogfmtField(&line_, key, value);
  }
  return *this;
}

void LogEvent::AddNumber(std::string_view key, std::string_view text) {
  if (format_ == LogFormat::kJson) {
    AppendJsonNumber(&line_, key, text);
  } else {
    AppendLogfmtField(&line_, key, text);
  }
}

LogEvent& LogEvent::Add(std::string_view key, int64_t value) {
  if (enabled_) AddNumber(key, std::to_string(value));
  return *this;
}

LogEvent& LogEvent::Add(std::string_view key, uint64_t value) {
  if (enabled_) AddNumber(key, std::to_string(value));
  return *this;
}

LogEvent& LogEvent::Add(std::string_view key, double value) {
  if (!enabled_) return *this;
  if (!std::isfinite(value)) {  // not a JSON number
    if (format_ == LogFormat::kJson) {
      AppendJsonNumber(&line_, key, "null");
    } else {
      AppendLogfmtField(&line_, key, std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf"));
    }
    return *this;
  }
  char buf[64];  // %.6f below 1e15 (the old format); the exponent form above, never cut
  std::snprintf(buf, sizeof buf, std::fabs(value) < 1e15 ? "%.6f" : "%.17g", value);
  AddNumber(key, buf);
  return *this;
}

}  // namespace imapgate
