// CommandReader: assembles one IMAP client command at a time for the FIXTURE backend.
//
// Pure, resumable and bounded: feed bytes; Next() returns kCommand once a whole command
// (its lines plus any {n} / {n+} literals) has arrived, with its tokens (tag, name, arguments:
// atoms, unquoted strings, literal payloads; parentheses and brackets stay inside atoms).
// kContinue means a synchronizing literal {n} was announced: the caller sends "+ ..." and keeps
// feeding. Each line is capped at max_line, each literal at max_literal, and a command at 64
// tokens; beyond that Next() returns kError and the connection should be closed.
// One reader per connection; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace imapgate::bench {

class CommandReader {
 public:
  enum class Result { kNeedMore, kCommand, kContinue, kError };

  explicit CommandReader(size_t max_line = 8192, size_t max_literal = 8192)
      : max_line_(max_line), max_literal_(max_literal) {}

  // Scans in[*pos..], advancing *pos. After kCommand, tokens() holds the command until the next
  // call. After kError, error() says why and the reader is unusable.
  Result Next(std::string_view in, size_t* pos);
  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::string& error() const { return error_; }
  // True when no partial command is buffered.
  bool empty() const { return line_.empty() && literal_left_ == 0 && !in_command_; }
  // Frees buffers (call when the connection goes quiet).
  void ReleaseMemory();

 private:
  Result EndOfLine();
  bool Tokenize(std::string_view line);

  size_t max_line_;
  size_t max_literal_;
  std::string line_;  // the current line, without CRLF
  std::vector<std::string> tokens_;
  size_t literal_left_ = 0;     // payload bytes still expected for tokens_.back()
  bool in_command_ = false;     // a literal was announced: the next line continues
  bool clear_on_next_ = false;  // tokens_ were returned; clear them first
  std::string error_;
};

}  // namespace imapgate::bench
