// Helpers shared by the config loader tests: a fixed file name and a minimal valid config.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace imapgate::config {

// A directory that does not exist, so path resolution is purely lexical and predictable.
inline const std::string kDir = "/nonexistent-imapgate-test/conf";
inline const std::string kFile = kDir + "/test.yaml";

// The smallest valid config: one listener and a backend address (backend map last, so tests can
// append backend keys).
inline const std::string kMinimal = R"(listeners:
  - name: a
    address: 127.0.0.1:1993
    tls: {certificate: c.pem, key: k.pem}
backend:
  address: 127.0.0.1:143
)";

// Loads `text` as kFile and expects success.
inline ConfigPtr LoadOk(const std::string& text) {
  StatusOr<ConfigPtr> config = LoadConfigText(text, kFile);
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.ok() ? *config : nullptr;
}

// Loads `text` as kFile, expects failure, checks every line starts with "kFile:", and returns the
// lines without that prefix ("LINE:COL: message").
inline std::vector<std::string> Errors(const std::string& text) {
  StatusOr<ConfigPtr> config = LoadConfigText(text, kFile);
  EXPECT_FALSE(config.ok()) << "config unexpectedly valid:\n" << text;
  if (config.ok()) return {};
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  std::vector<std::string> lines;
  std::istringstream in(config.status().message());
  for (std::string line; std::getline(in, line);) {
    EXPECT_EQ(line.rfind(kFile + ":", 0), 0u) << line;
    lines.push_back(line.substr(kFile.size() + 1));
  }
  return lines;
}

using Lines = std::vector<std::string>;

}  // namespace imapgate::config
