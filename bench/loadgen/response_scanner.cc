#include "bench/loadgen/response_scanner.h"

#include <cstring>

namespace imapgate::bench {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x -= 32;
    if (y >= 'a' && y <= 'z') y -= 32;
    if (x != y) return false;
  }
  return true;
}

LineInfo::Status StatusWord(std::string_view rest) {
  size_t end = rest.find(' ');
  std::string_view word = rest.substr(0, end);
  if (EqualsIgnoreCase(word, "OK")) return LineInfo::Status::kOk;
  if (EqualsIgnoreCase(word, "NO")) return LineInfo::Status::kNo;
  if (EqualsIgnoreCase(word, "BAD")) return LineInfo::Status::kBad;
  if (EqualsIgnoreCase(word, "BYE")) return LineInfo::Status::kBye;
  if (EqualsIgnoreCase(word, "PREAUTH")) return LineInfo::Status::kPreauth;
  return LineInfo::Status::kNone;
}

}  // namespace

int64_t TrailingLiteralSize(std::string_view line, uint64_t max_literal) {
  if (line.empty() || line.back() != '}') return -1;
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return -1;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 20) return -2;
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -2;
    n = n * 10 + static_cast<uint64_t>(c - '0');
    if (n > max_literal) return -2;
  }
  return static_cast<int64_t>(n);
}

LineInfo ClassifyLine(std::string_view line) {
  LineInfo info;
  if (line.size() >= 1 && line[0] == '+') {
    info.type = LineInfo::Type::kContinuation;
    return info;
  }
  if (line.size() >= 2 && line[0] == '*' && line[1] == ' ') {
    info.type = LineInfo::Type::kUntagged;
    info.status = StatusWord(line.substr(2));
    return info;
  }
  size_t space = line.find(' ');
  info.type = LineInfo::Type::kTagged;
  info.tag = line.substr(0, space);
  if (space != std::string_view::npos) info.status = StatusWord(line.substr(space + 1));
  return info;
}

void ResponseScanner::ReleaseMemory() {
  if (partial_.empty()) std::string().swap(partial_);
  std::string().swap(line_holder_);
}

ResponseScanner::Event ResponseScanner::FinishLine(std::string_view line) {
  Event ev;
  ev.kind = Kind::kLine;
  ev.line = line;
  ev.response_start = !after_literal_;
  after_literal_ = false;
  int64_t literal = TrailingLiteralSize(line, max_literal_);
  if (literal == -2) {
    ev.kind = Kind::kError;
    return ev;
  }
  if (literal >= 0) {
    literal_left_ = static_cast<uint64_t>(literal);
    after_literal_ = true;
  }
  return ev;
}

ResponseScanner::Event ResponseScanner::Next(std::string_view in, size_t* pos) {
  Event ev;
  if (literal_left_ > 0) {
    size_t avail = in.size() - *pos;
    if (avail == 0) return ev;
    uint64_t take = avail < literal_left_ ? avail : literal_left_;
    *pos += take;
    literal_left_ -= take;
    ev.kind = Kind::kLiteral;
    ev.literal_bytes = take;
    return ev;
  }
  if (*pos >= in.size()) return ev;
  std::string_view rest = in.substr(*pos);
  const char* nl = static_cast<const char*>(std::memchr(rest.data(), '\n', rest.size()));
  if (nl == nullptr) {
    if (partial_.size() + rest.size() > max_line_) {
      ev.kind = Kind::kError;
      return ev;
    }
    partial_.append(rest);
    *pos = in.size();
    return ev;
  }
  size_t len = static_cast<size_t>(nl - rest.data());
  *pos += len + 1;
  std::string_view line;
  if (partial_.empty()) {
    line = rest.substr(0, len);
  } else {
    partial_.append(rest.substr(0, len));
    line = partial_;
  }
  if (line.size() > max_line_) {
    ev.kind = Kind::kError;
    return ev;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // The view into partial_ must outlive this call: clear lazily on the next line instead.
  Event done = FinishLine(line);
  if (!partial_.empty()) {
    line_holder_.swap(partial_);
    partial_.clear();
    done.line = std::string_view(line_holder_).substr(0, line.size());
  }
  return done;
}

}  // namespace imapgate::bench
