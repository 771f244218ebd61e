#include "bench/fixture_backend/command_reader.h"

#include <cstring>

namespace imapgate::bench {
namespace {
constexpr size_t kMaxTokens = 64;
}  // namespace

void CommandReader::ReleaseMemory() {
  if (line_.empty()) std::string().swap(line_);
  if (!in_command_ && literal_left_ == 0) {
    std::vector<std::string>().swap(tokens_);
    clear_on_next_ = false;
  }
}

bool CommandReader::Tokenize(std::string_view line) {
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    if (tokens_.size() >= kMaxTokens) {
      error_ = "too many arguments";
      return false;
    }
    std::string token;
    if (line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '\\' && i < line.size()) {
          token.push_back(line[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          token.push_back(c);
        }
      }
      if (!closed) {
        error_ = "unterminated quoted string";
        return false;
      }
    } else {
      size_t end = line.find(' ', i);
      if (end == std::string_view::npos) end = line.size();
      token.assign(line.substr(i, end - i));
      i = end;
    }
    tokens_.push_back(std::move(token));
  }
  return true;
}

CommandReader::Result CommandReader::EndOfLine() {
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // A trailing {n} or {n+} announces a literal that becomes the next token.
  size_t literal = 0;
  bool has_literal = false, sync = true;
  if (!line.empty() && line.back() == '}') {
    size_t open = line.rfind('{');
    if (open != std::string_view::npos && (open == 0 || line[open - 1] == ' ')) {
      std::string_view digits = line.substr(open + 1, line.size() - open - 2);
      if (!digits.empty() && digits.back() == '+') {
        sync = false;
        digits.remove_suffix(1);
      }
      if (digits.empty() || digits.size() > 9) {
        error_ = "bad literal";
        return Result::kError;
      }
      for (char c : digits) {
        if (c < '0' || c > '9') {
          error_ = "bad literal";
          return Result::kError;
        }
        literal = literal * 10 + static_cast<size_t>(c - '0');
      }
      if (literal > max_literal_) {
        error_ = "literal too large";
        return Result::kError;
      }
      has_literal = true;
      line = line.substr(0, open);
    }
  }
  if (!Tokenize(line)) return Result::kError;
  line_.clear();
  if (!has_literal) {
    in_command_ = false;
    clear_on_next_ = true;
    return Result::kCommand;
  }
  if (tokens_.size() >= kMaxTokens) {
    error_ = "too many arguments";
    return Result::kError;
  }
  tokens_.emplace_back();
  tokens_.back().reserve(literal);
  literal_left_ = literal;
  in_command_ = true;
  return sync ? Result::kContinue : Result::kNeedMore;
}

CommandReader::Result CommandReader::Next(std::string_view in, size_t* pos) {
  if (clear_on_next_) {
    tokens_.clear();
    clear_on_next_ = false;
  }
  while (*pos < in.size()) {
    if (literal_left_ > 0) {
      size_t take = std::min(literal_left_, in.size() - *pos);
      tokens_.back().append(in.substr(*pos, take));
      *pos += take;
      literal_left_ -= take;
      continue;
    }
    std::string_view rest = in.substr(*pos);
    const char* nl = static_cast<const char*>(std::memchr(rest.data(), '\n', rest.size()));
    size_t len = nl == nullptr ? rest.size() : static_cast<size_t>(nl - rest.data());
    if (line_.size() + len > max_line_) {
      error_ = "line too long";
      return Result::kError;
    }
    line_.append(rest.substr(0, len));
    *pos += len;
    if (nl == nullptr) break;
    *pos += 1;
    Result r = EndOfLine();
    if (r != Result::kNeedMore) return r;
  }
  return Result::kNeedMore;
}

}  // namespace imapgate::bench
