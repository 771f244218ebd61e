#include "config/yaml_reader.h"

#include <algorithm>
#include <charconv>

#include "config/endpoint.h"
#include "config/units.h"

namespace imapgate::config::internal {
namespace {

// Levenshtein distance, for "did you mean" hints on misspelt keys.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string PositionText(const YAML::Mark& mark) {
  return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

}  // namespace

std::string_view DescribeType(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

void ErrorList::Add(const YAML::Mark& mark, std::string message) {
  if (mark.is_null()) {
    AddAt(0, 0, std::move(message));
  } else {
    AddAt(mark.line + 1, mark.column + 1, std::move(message));
  }
}

void ErrorList::AddAt(int line, int column, std::string message) {
  errors_.push_back({line, column, std::move(message)});
}

SourceLocation ErrorList::Location(const YAML::Mark& mark) const {
  if (mark.is_null()) return {file_, 0, 0};
  return {file_, mark.line + 1, mark.column + 1};
}

std::string ErrorList::Join() const {
  std::vector<const Entry*> sorted;
  for (const Entry& e : errors_) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return std::pair(a->line, a->column) < std::pair(b->line, b->column);
  });
  std::string out;
  for (const Entry* e : sorted) {
    if (!out.empty()) out += '\n';
    out += SourceLocation{file_, e->line, e->column}.ToString() + ": " + e->message;
  }
  return out;
}

YAML::Mark Field::mark() const { return value.IsNull() ? key.Mark() : value.Mark(); }

MapReader::MapReader(const YAML::Node& node, const YAML::Mark& fallback, std::string path,
                     std::vector<std::string_view> known_keys, ErrorList* errors)
    : path_(std::move(path)), mark_(node.IsNull() ? fallback : node.Mark()), errors_(errors) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    wrong_type_ = true;
    std::string got = std::string(DescribeType(node));
    errors_->Add(mark_, path_.empty() ? "expected a mapping of keys at the top level, got " + got
                                      : path_ + ": expected a mapping of keys, got " + got);
    return;
  }
  for (const auto& item : node) {
    const YAML::Node& key = item.first;
    if (!key.IsScalar()) {
      errors_->Add(key.Mark(), "keys must be plain strings, got " + std::string(DescribeType(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (const Field* first = Find(name)) {
      errors_->Add(key.Mark(), "duplicate key " + QuoteForMessage(name) + " (first at " +
                                   PositionText(first->key.Mark()) + ")");
      continue;
    }
    if (std::find(known_keys.begin(), known_keys.end(), name) == known_keys.end()) {
      std::string message = "unknown key " + QuoteForMessage(name);
      if (!path_.empty()) message += " in " + path_;
      for (std::string_view known : known_keys) {
        if (EditDistance(name, known) <= 2) {
          message += " (did you mean '" + std::string(known) + "'?)";
          break;
        }
      }
      errors_->Add(key.Mark(), std::move(message));
      continue;
    }
    fields_.push_back({key, item.second, PathOf(name)});
  }
}

const Field* MapReader::Find(std::string_view key) const {
  for (const Field& field : fields_) {
    if (field.key.Scalar() == key) return &field;
  }
  return nullptr;
}

void MapReader::Require(std::string_view key) const {
  if (wrong_type_ || Find(key) != nullptr) return;
  std::string message = "missing required key '" + std::string(key) + "'";
  if (!path_.empty()) message += " in " + path_;
  errors_->Add(mark_, std::move(message));
}

YAML::Mark MapReader::MarkOf(std::string_view key) const {
  const Field* field = Find(key);
  return field != nullptr ? field->mark() : mark_;
}

std::string MapReader::PathOf(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const Field* MapReader::Scalar(std::string_view key, std::string* out) const {
  const Field* field = Find(key);
  if (field == nullptr) return nullptr;
  if (field->value.IsNull()) {
    errors_->Add(field->mark(), field->path + ": missing value");
    return nullptr;
  }
  if (!field->value.IsScalar()) {
    errors_->Add(field->mark(), field->path + ": expected a single value, got " +
                                    std::string(DescribeType(field->value)));
    return nullptr;
  }
  *out = field->value.Scalar();
  return field;
}

bool MapReader::String(std::string_view key, bool allow_empty, std::string* out) const {
  const Field* field = Find(key);
  if (allow_empty && field != nullptr && field->value.IsNull()) {
    out->clear();
    return true;
  }
  std::string text;
  field = Scalar(key, &text);
  if (field == nullptr) return false;
  if (text.empty() && !allow_empty) {
    errors_->Add(field->mark(), field->path + ": must not be empty");
    return false;
  }
  *out = std::move(text);
  return true;
}

bool MapReader::Bool(std::string_view key, bool* out) const {
  std::string text;
  const Field* field = Scalar(key, &text);
  if (field == nullptr) return false;
  if (text == "true" || text == "True" || text == "TRUE") {
    *out = true;
  } else if (text == "false" || text == "False" || text == "FALSE") {
    *out = false;
  } else {
    errors_->Add(field->mark(),
                 field->path + ": expected true or false, got " + QuoteForMessage(text));
    return false;
  }
  return true;
}

bool MapReader::Int(std::string_view key, int64_t min, int64_t max, int64_t* out) const {
  std::string text;
  const Field* field = Scalar(key, &text);
  if (field == nullptr) return false;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    errors_->Add(field->mark(),
                 field->path + ": expected an integer, got " + QuoteForMessage(text));
    return false;
  }
  if (value < min || value > max) {
    errors_->Add(field->mark(), field->path + ": must be between " + std::to_string(min) + " and " +
                                    std::to_string(max) + ", got " + text);
    return false;
  }
  *out = value;
  return true;
}

bool MapReader::Size(std::string_view key, uint64_t min, uint64_t max, uint64_t* out) const {
  std::string text;
  const Field* field = Scalar(key, &text);
  if (field == nullptr) return false;
  StatusOr<uint64_t> size = ParseSize(text);
  if (!size.ok()) {
    errors_->Add(field->mark(), field->path + ": " + size.status().message());
    return false;
  }
  if (*size < min || *size > max) {
    errors_->Add(field->mark(), field->path + ": must be between " + FormatSize(min) + " and " +
                                    FormatSize(max) + ", got " + text);
    return false;
  }
  *out = *size;
  return true;
}

bool MapReader::Duration(std::string_view key, std::chrono::milliseconds min,
                         std::chrono::milliseconds max, std::chrono::milliseconds* out) const {
  std::string text;
  const Field* field = Scalar(key, &text);
  if (field == nullptr) return false;
  StatusOr<std::chrono::milliseconds> duration = ParseDuration(text);
  if (!duration.ok()) {
    errors_->Add(field->mark(), field->path + ": " + duration.status().message());
    return false;
  }
  if (*duration < min || *duration > max) {
    errors_->Add(field->mark(), field->path + ": must be between " + FormatDuration(min) + " and " +
                                    FormatDuration(max) + ", got " + text);
    return false;
  }
  *out = *duration;
  return true;
}

bool MapReader::Address(std::string_view key, bool allow_port_zero, Endpoint* out) const {
  std::string text;
  const Field* field = Scalar(key, &text);
  if (field == nullptr) return false;
  StatusOr<Endpoint> endpoint = ParseEndpoint(text, allow_port_zero);
  if (!endpoint.ok()) {
    errors_->Add(field->mark(), field->path + ": " + endpoint.status().message());
    return false;
  }
  *out = std::move(*endpoint);
  return true;
}

bool MapReader::Choice(std::string_view key, const std::vector<std::string_view>& choices,
                       size_t* out) const {
  std::string text;
  const Field* field = Scalar(key, &text);
  if (field == nullptr) return false;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == text) {
      *out = i;
      return true;
    }
  }
  std::string expected;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) expected += i + 1 == choices.size() ? " or " : ", ";
    expected += choices[i];
  }
  errors_->Add(field->mark(),
               field->path + ": expected " + expected + ", got " + QuoteForMessage(text));
  return false;
}

}  // namespace imapgate::config::internal
