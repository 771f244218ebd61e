#include "config/overrides.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "common/utf8.h"
#include "config/loader_util.h"
#include "config/units.h"
#include "route/normalize.h"

namespace imapgate::config {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Collects errors for one file, keeping the first kMaxOverrideErrors.
class Errors {
 public:
  explicit Errors(const std::string& file) : file_(file) {}
  void Add(size_t line, size_t column, const std::string& message) {
    if (++count_ > kMaxOverrideErrors) return;
    if (!text_.empty()) text_ += '\n';
    text_ += file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
  }
  bool empty() const { return count_ == 0; }
  std::string Join() const {
    if (count_ <= kMaxOverrideErrors) return text_;
    return text_ + "\n" + file_ + ": " + std::to_string(count_ - kMaxOverrideErrors) +
           " more errors not shown";
  }

 private:
  const std::string& file_;
  size_t count_ = 0;
  std::string text_;
};

// 1-based column of byte `offset` in `line`: UTF-8 continuation bytes do not count.
size_t ColumnOf(std::string_view line, size_t offset) {
  size_t column = 1;
  for (size_t i = 0; i < offset && i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xc0) != 0x80) ++column;
  }
  return column;
}

// The byte offset of the first byte that is not UTF-8 text (tab allowed), or npos.
size_t BadByte(std::string_view line) {
  size_t i = 0;
  while (i < line.size()) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    const size_t n = Utf8SequenceLength(line, i);
    if (n == 0 || (c < 0x20 && c != '\t') || c == 0x7f) return i;
    i += n;
  }
  return std::string_view::npos;
}

struct Token {
  std::string_view text;
  size_t offset = 0;
};

// The next blank-separated token at or after *pos.
Token NextToken(std::string_view line, size_t* pos) {
  while (*pos < line.size() && IsBlank(line[*pos])) ++*pos;
  Token token{{}, *pos};
  while (*pos < line.size() && !IsBlank(line[*pos])) ++*pos;
  token.text = line.substr(token.offset, *pos - token.offset);
  return token;
}

std::string KnownList(const std::vector<std::string>& known) {
  if (known.empty() || known.size() > 8) return "";
  std::string out = " (shards: ";
  for (size_t i = 0; i < known.size(); ++i) out += (i ? ", " : "") + known[i];
  return out + ")";
}

}  // namespace

StatusOr<OverrideMap> ParseOverrides(std::string_view text, const std::string& file_name,
                                     const std::vector<std::string>& known_shards,
                                     std::string_view default_domain) {
  Errors errors(file_name);
  OverrideMap map;
  std::unordered_map<std::string, size_t> first_line;  // normalized user -> line
  size_t line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxOverrideLineBytes) {
      errors.Add(line_number, ColumnOf(line, kMaxOverrideLineBytes),
                 "line longer than " + std::to_string(kMaxOverrideLineBytes) + " bytes");
      continue;
    }
    if (const size_t bad = BadByte(line); bad != std::string_view::npos) {
      errors.Add(line_number, ColumnOf(line, bad),
                 "invalid byte: the file must be UTF-8 text without control characters");
      continue;
    }
    size_t cursor = 0;
    const Token user = NextToken(line, &cursor);
    if (user.text.empty() || user.text[0] == '#') continue;  // blank line or comment
    const Token shard = NextToken(line, &cursor);
    const Token extra = NextToken(line, &cursor);
    if (shard.text.empty() || shard.text[0] == '#') {
      errors.Add(line_number, ColumnOf(line, shard.offset),
                 "missing shard after user " + QuoteForMessage(user.text) +
                     " (expected 'USER SHARD')");
      continue;
    }
    if (!extra.text.empty() && extra.text[0] != '#') {
      errors.Add(line_number, ColumnOf(line, extra.offset),
                 "unexpected third field " + QuoteForMessage(extra.text) +
                     " (expected 'USER SHARD', then optionally a # comment)");
      continue;
    }
    if (map.size() >= kMaxOverrideEntries) {
      errors.Add(line_number, 1,
                 "more than " + std::to_string(kMaxOverrideEntries) + " overrides in one file");
      break;
    }
    std::optional<std::string> name = route::NormalizedUser(user.text, default_domain);
    if (!name) {
      errors.Add(line_number, ColumnOf(line, user.offset),
                 "user name longer than " + std::to_string(route::kMaxUserBytes) +
                     " bytes (with the default domain)");
      continue;
    }
    if (std::find(known_shards.begin(), known_shards.end(), shard.text) == known_shards.end()) {
      errors.Add(line_number, ColumnOf(line, shard.offset),
                 "unknown shard " + QuoteForMessage(shard.text) + KnownList(known_shards));
      continue;
    }
    auto [it, inserted] = first_line.emplace(*name, line_number);
    if (!inserted) {
      errors.Add(line_number, ColumnOf(line, user.offset),
                 "duplicate user " + QuoteForMessage(*name) + " (first at line " +
                     std::to_string(it->second) + ")");
      continue;
    }
    map.emplace(std::move(*name), std::string(shard.text));
  }
  if (!errors.empty()) return InvalidArgument(errors.Join());
  return map;
}

StatusOr<OverrideMap> LoadOverrideFile(const std::string& path,
                                       const std::vector<std::string>& known_shards,
                                       std::string_view default_domain) {
  StatusOr<std::string> text = internal::ReadBoundedFile(path, kMaxOverrideFileBytes);
  if (!text.ok()) return text.status();
  return ParseOverrides(*text, path, known_shards, default_domain);
}

}  // namespace imapgate::config
