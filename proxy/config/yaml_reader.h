// YAML reading helpers for the config loader: an error collector and a strict mapping reader.
//
// Private to config/ (the only folder that includes yaml-cpp). Nothing here throws on bad input:
// each problem becomes one "FILE:LINE:COL: message" entry in an ErrorList, with the 1-based
// position of the offending node, and reading carries on so that every error is reported at once.
// Single-threaded; objects live for one load.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace imapgate::config::internal {

// ErrorList collects errors for one file. Join() renders them sorted by position.
class ErrorList {
 public:
  explicit ErrorList(std::string file) : file_(std::move(file)) {}
  // Adds an error at a yaml-cpp mark (0-based); a null mark is reported as 0:0.
  void Add(const YAML::Mark& mark, std::string message);
  // Adds an error at a 1-based line and column (0 when unknown).
  void AddAt(int line, int column, std::string message);
  bool empty() const { return errors_.empty(); }
  // The 1-based location of `mark` in this file.
  SourceLocation Location(const YAML::Mark& mark) const;
  // One "FILE:LINE:COL: message" per line, ordered by line then column (stable), no final newline.
  std::string Join() const;

 private:
  struct Entry {
    int line;
    int column;
    std::string message;
  };
  std::string file_;
  std::vector<Entry> errors_;
};

// A key found in a mapping, with its value and dotted path ("limits.max_literal") for messages.
struct Field {
  YAML::Node key;
  YAML::Node value;
  std::string path;
  // The value's position, or the key's when the value is empty (yaml-cpp puts an empty value's
  // mark on the following line).
  YAML::Mark mark() const;
};

// MapReader reads one mapping whose keys are all known in advance. The constructor reports a
// non-mapping node, non-string keys, duplicate keys (the first one wins) and unknown keys. An empty
// (null) node reads as an empty mapping. The typed readers look a key up and, when it is present
// and valid, store the value in *out and return true; when it is present but invalid they report
// why and leave *out unchanged. Absent optional keys leave *out at its default.
class MapReader {
 public:
  // `fallback` is the position used for the map when the node itself has none (e.g. it is null);
  // pass the key's mark. `path` is "" at the top level.
  MapReader(const YAML::Node& node, const YAML::Mark& fallback, std::string path,
            std::vector<std::string_view> known_keys, ErrorList* errors);

  // Where "missing key" errors point: the mapping's own position.
  const YAML::Mark& mark() const { return mark_; }
  // The key's field, or nullptr when absent.
  const Field* Find(std::string_view key) const;
  // Reports "missing required key" when `key` is absent (and the node was a mapping or empty).
  void Require(std::string_view key) const;
  // Position of the key's value if present, else of the mapping.
  YAML::Mark MarkOf(std::string_view key) const;
  // The dotted path of `key` in this mapping.
  std::string PathOf(std::string_view key) const;

  bool String(std::string_view key, bool allow_empty, std::string* out) const;
  bool Bool(std::string_view key, bool* out) const;
  bool Int(std::string_view key, int64_t min, int64_t max, int64_t* out) const;
  bool Size(std::string_view key, uint64_t min, uint64_t max, uint64_t* out) const;
  bool Duration(std::string_view key, std::chrono::milliseconds min, std::chrono::milliseconds max,
                std::chrono::milliseconds* out) const;
  bool Address(std::string_view key, bool allow_port_zero, Endpoint* out) const;
  // Accepts exactly one of `choices` (case-sensitive) and stores its index.
  bool Choice(std::string_view key, const std::vector<std::string_view>& choices,
              size_t* out) const;

 private:
  // The scalar text of `key`; reports a missing value or a non-scalar.
  const Field* Scalar(std::string_view key, std::string* out) const;

  std::string path_;
  YAML::Mark mark_;
  bool wrong_type_ = false;  // the node was neither a mapping nor empty; already reported
  std::vector<Field> fields_;
  ErrorList* errors_;
};

// Names the YAML node type for messages: "a mapping", "a sequence", "a scalar", "nothing".
std::string_view DescribeType(const YAML::Node& node);

}  // namespace imapgate::config::internal
