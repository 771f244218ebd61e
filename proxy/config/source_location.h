// SourceLocation: where a config value came from, for errors found after parsing.
#pragma once

#include <string>

namespace imapgate::config {

// Where a value came from, for errors found after parsing (e.g. a certificate that won't load).
struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  // "FILE:LINE:COL", or just "FILE" when the line is unknown (never "FILE:0:0").
  std::string ToString() const;
};

}  // namespace imapgate::config
