// Tests for the errors LoadConfigText reports: exact "LINE:COL: message" for each rule.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "config/config.h"
#include "config_test_util.h"

namespace imapgate::config {
namespace {

TEST(ConfigErrorsTest, ErrorLineFormatIsFileLineColMessage) {
  StatusOr<ConfigPtr> c = LoadConfigText(kMinimal + "workers: 300\n", "conf/gate.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "conf/gate.yaml:7:10: workers: must be between 0 and 256, got 300");
}

TEST(ConfigErrorsTest, EmptyFileMissesListenersAndBackend) {
  const Lines expected = {"1:1: missing required key 'listeners'",
                          "1:1: missing required key 'backend'"};
  EXPECT_EQ(Errors(""), expected);
  EXPECT_EQ(Errors("# only a comment\n"), expected);
}

TEST(ConfigErrorsTest, MissingKeysPointAtTheParentMapping) {
  EXPECT_EQ(Errors("listeners:\n"
                   "  - mode: starttls\n"
                   "backend:\n"
                   "  name: x\n"),
            (Lines{"2:5: missing required key 'name' in listeners[0]",
                   "2:5: missing required key 'address' in listeners[0]",
                   "2:5: missing required key 'tls' in listeners[0]",
                   "4:3: missing required key 'address' in backend"}));
  EXPECT_EQ(Errors("listeners:\n"
                   "  - name: a\n"
                   "    address: 127.0.0.1:1993\n"
                   "    tls: {key: k.pem}\n"
                   "backend: {address: 127.0.0.1:143}\n"),
            (Lines{"4:10: missing required key 'certificate' in listeners[a].tls"}));
}

TEST(ConfigErrorsTest, EmptyMappingsPointAtTheirKey) {
  EXPECT_EQ(Errors("listeners:\n"
                   "  - name: a\n"
                   "    address: 127.0.0.1:1993\n"
                   "    tls:\n"
                   "backend:\n"),
            (Lines{"4:5: missing required key 'certificate' in listeners[a].tls",
                   "4:5: missing required key 'key' in listeners[a].tls",
                   "5:1: missing required key 'address' in backend"}));
}

TEST(ConfigErrorsTest, UnknownKeysAreErrors) {
  EXPECT_EQ(Errors(kMinimal + "foo: 1\n"), (Lines{"7:1: unknown key 'foo'"}));
  EXPECT_EQ(Errors(kMinimal + "limits:\n  max_literl: 1KiB\n"),
            (Lines{"8:3: unknown key 'max_literl' in limits (did you mean 'max_literal'?)"}));
  EXPECT_EQ(Errors("listeners:\n"
                   "  - name: a\n"
                   "    address: 127.0.0.1:1993\n"
                   "    moed: starttls\n"
                   "    tls: {certificate: c.pem, key: k.pem, ca: x}\n"
                   "backend: {address: 127.0.0.1:143}\n"),
            (Lines{"4:5: unknown key 'moed' in listeners[a] (did you mean 'mode'?)",
                   "5:43: unknown key 'ca' in listeners[a].tls"}));
}

// One invalid value appended to the minimal config (which ends inside the backend mapping, at
// line 6), and the single error it must produce.
struct ValueCase {
  std::string appended;
  std::string error;
};

class ConfigValueErrorTest : public ::testing::TestWithParam<ValueCase> {};

TEST_P(ConfigValueErrorTest, ReportsExactPositionAndMessage) {
  EXPECT_EQ(Errors(kMinimal + GetParam().appended), Lines{GetParam().error});
}

INSTANTIATE_TEST_SUITE_P(
    Values, ConfigValueErrorTest,
    ::testing::Values(
        ValueCase{"workers: 300\n", "7:10: workers: must be between 0 and 256, got 300"},
        ValueCase{"workers: -1\n", "7:10: workers: must be between 0 and 256, got -1"},
        ValueCase{"workers: two\n", "7:10: workers: expected an integer, got 'two'"},
        ValueCase{"workers: 1.5\n", "7:10: workers: expected an integer, got '1.5'"},
        ValueCase{"workers:\n", "7:1: workers: missing value"},
        ValueCase{"workers: {a: 1}\n", "7:10: workers: expected a single value, got a mapping"},
        ValueCase{"log_level: verbose\n",
                  "7:12: log_level: expected debug, info, warn or error, got 'verbose'"},
        ValueCase{"limits:\n  max_command_line: 512B\n",
                  "8:21: limits.max_command_line: must be between 1KiB and 1MiB, got 512B"},
        ValueCase{"limits:\n  max_command_line: 2MiB\n",
                  "8:21: limits.max_command_line: must be between 1KiB and 1MiB, got 2MiB"},
        ValueCase{"limits:\n  max_literal: 17MiB\n",
                  "8:16: limits.max_literal: must be between 1B and 16MiB, got 17MiB"},
        ValueCase{"limits:\n  max_literal: 8KB\n",
                  "8:16: limits.max_literal: unknown size unit 'KB' in '8KB' (use B, KiB, MiB or "
                  "GiB; units are 1024-based)"},
        ValueCase{"limits:\n  max_literal:\n    - 1\n",
                  "9:5: limits.max_literal: expected a single value, got a sequence"},
        ValueCase{"limits:\n  max_bad_commands: 0\n",
                  "8:21: limits.max_bad_commands: must be between 1 and 1000, got 0"},
        ValueCase{"limits:\n  max_bad_commands: 1001\n",
                  "8:21: limits.max_bad_commands: must be between 1 and 1000, got 1001"},
        ValueCase{"limits:\n  relay_low_watermark: 256KiB\n",
                  "8:24: limits: relay_low_watermark (256KiB) must be below relay_high_watermark "
                  "(256KiB)"},
        ValueCase{"limits:\n  relay_high_watermark: 32KiB\n",
                  "8:25: limits: relay_low_watermark (64KiB) must be below relay_high_watermark "
                  "(32KiB)"},
        ValueCase{"limits: [1, 2]\n", "7:9: limits: expected a mapping of keys, got a sequence"},
        ValueCase{"timeouts:\n  idle: 500ms\n",
                  "8:9: timeouts.idle: must be between 1s and 24h, got 500ms"},
        ValueCase{"timeouts:\n  preauth: 0s\n",
                  "8:12: timeouts.preauth: must be between 1s and 24h, got 0s"},
        ValueCase{"timeouts:\n  preauth: 60\n",
                  "8:12: timeouts.preauth: duration '60' needs a unit: ms, s, m or h (e.g. "
                  "\"30s\")"},
        ValueCase{"timeouts:\n  idle: 9999999999999999h\n",
                  "8:9: timeouts.idle: duration '9999999999999999h' is out of range"},
        ValueCase{"  security: ssl\n",
                  "7:13: backend.security: expected plaintext, tls or starttls, got 'ssl'"},
        ValueCase{"  tls_verify: yes\n",
                  "7:15: backend.tls_verify: expected true or false, got 'yes'"},
        ValueCase{"  name: Default\n",
                  "7:9: backend.name: must be 1 to 32 characters of a-z, 0-9, '_' and '-', got "
                  "'Default'"},
        ValueCase{"admin:\n  address: 127.0.0.1:1993\n",
                  "8:12: admin.address: '127.0.0.1:1993' is also the address of listener 'a'"},
        ValueCase{"admin:\n  address: 127.0.0.1:99999\n",
                  "8:12: admin.address: invalid address '127.0.0.1:99999': port must be a number "
                  "0..65535"},
        ValueCase{"workers: 1\nworkers: 2\n", "8:1: duplicate key 'workers' (first at 7:1)"},
        ValueCase{"[a, b]: 1\n", "7:1: keys must be plain strings, got a sequence"},
        ValueCase{"---\nworkers: 1\n", "7:1: only one YAML document is allowed per file"}));

// A one-listener config whose listener has `line` as its second line (line 3).
std::string WithListenerLine(const std::string& name, const std::string& line) {
  return "listeners:\n"
         "  - name: " +
         name + "\n" + line +
         "    tls: {certificate: c.pem, key: k.pem}\n"
         "backend: {address: 127.0.0.1:143}\n";
}

TEST(ConfigErrorsTest, ListenerValues) {
  EXPECT_EQ(Errors(WithListenerLine("a", "    address: 127.0.0.1:1993\n    mode: tls\n")),
            (Lines{"4:11: listeners[a].mode: expected implicit or starttls, got 'tls'"}));
  EXPECT_EQ(Errors(WithListenerLine("a", "    address: 127.0.0.1:0\n")),
            (Lines{"3:14: listeners[a].address: invalid address '127.0.0.1:0': port must be a "
                   "number 1..65535"}));
  EXPECT_EQ(Errors(WithListenerLine("a", "    address: 127.0.0.1:65536\n")),
            (Lines{"3:14: listeners[a].address: invalid address '127.0.0.1:65536': port must be "
                   "a number 1..65535"}));
  EXPECT_EQ(Errors(WithListenerLine("IMAPS", "    address: 127.0.0.1:1993\n")),
            (Lines{"2:11: listeners[0].name: must be 1 to 32 characters of a-z, 0-9, '_' and '-', "
                   "got 'IMAPS'"}));
  const std::string long_name(33, 'x');
  EXPECT_EQ(Errors(WithListenerLine(long_name, "    address: 127.0.0.1:1993\n")),
            (Lines{"2:11: listeners[0].name: must be 1 to 32 characters of a-z, 0-9, '_' and '-', "
                   "got '" +
                   long_name + "'"}));
  EXPECT_TRUE(LoadOk(WithListenerLine(std::string(32, 'x'), "    address: 127.0.0.1:1993\n")));
}

TEST(ConfigErrorsTest, EmptyTlsPathIsAnError) {
  EXPECT_EQ(Errors("listeners:\n"
                   "  - name: a\n"
                   "    address: 127.0.0.1:1993\n"
                   "    tls: {certificate: '', key: k.pem}\n"
                   "backend: {address: 127.0.0.1:143}\n"),
            (Lines{"4:24: listeners[a].tls.certificate: must not be empty"}));
}

TEST(ConfigErrorsTest, DuplicateListenerNamesAndAddresses) {
  EXPECT_EQ(Errors("listeners:\n"
                   "  - name: a\n"
                   "    address: 127.0.0.1:1993\n"
                   "    tls: {certificate: c.pem, key: k.pem}\n"
                   "  - name: a\n"
                   "    address: 127.0.0.1:1993\n"
                   "    tls: {certificate: c.pem, key: k.pem}\n"
                   "backend: {address: 127.0.0.1:143}\n"),
            (Lines{"5:11: listeners[a].name: duplicate listener name 'a' (first at 2:11)",
                   "6:14: listeners[a].address: duplicate listener address '127.0.0.1:1993' "
                   "(first at 3:14)"}));
}

TEST(ConfigErrorsTest, ListenersMustBeANonEmptyListOfMappings) {
  const std::string backend = "backend: {address: 127.0.0.1:143}\n";
  EXPECT_EQ(Errors("listeners: imaps\n" + backend),
            (Lines{"1:12: listeners: expected a list of listeners, got a scalar"}));
  EXPECT_EQ(Errors("listeners: []\n" + backend),
            (Lines{"1:12: listeners: at least one listener is required"}));
  EXPECT_EQ(Errors("listeners:\n" + backend),
            (Lines{"1:1: listeners: at least one listener is required"}));
  EXPECT_EQ(Errors("listeners:\n  - imaps\n" + backend),
            (Lines{"2:5: listeners[0]: expected a mapping of keys, got a scalar"}));
  EXPECT_EQ(Errors("listeners:\n"
                   "  - name: a\n"
                   "    address: 127.0.0.1:1993\n"
                   "    tls: yes\n" +
                   backend),
            (Lines{"4:10: listeners[a].tls: expected a mapping of keys, got a scalar"}));
}

TEST(ConfigErrorsTest, InvalidWatermarkIsNotComparedAgain) {
  // The high watermark is out of range; the valid low one is not also reported as "not below"
  // the default high watermark.
  EXPECT_EQ(
      Errors(kMinimal + "limits:\n  relay_high_watermark: 100MiB\n  relay_low_watermark: 1MiB\n"),
      (Lines{"8:25: limits.relay_high_watermark: must be between 4KiB and 64MiB, got 100MiB"}));
}

TEST(ConfigErrorsTest, TopLevelMustBeAMapping) {
  EXPECT_EQ(Errors("- a\n- b\n"),
            (Lines{"1:1: expected a mapping of keys at the top level, got a sequence"}));
}

TEST(ConfigErrorsTest, CollectsAllErrorsSortedByPosition) {
  EXPECT_EQ(
      Errors("admin:\n"
             "  address: 127.0.0.1:1993\n"
             "timeouts:\n"
             "  idle: 0s\n"
             "listeners:\n"
             "  - name: A\n"
             "    address: 127.0.0.1:1993\n"
             "    mode: ssl\n"
             "    tls: {certificate: c.pem}\n"
             "bogus: 1\n"
             "backend: {}\n"),
      (Lines{"2:12: admin.address: '127.0.0.1:1993' is also the address of listener 'A'",
             "4:9: timeouts.idle: must be between 1s and 24h, got 0s",
             "6:11: listeners[0].name: must be 1 to 32 characters of a-z, 0-9, '_' and '-', "
             "got 'A'",
             "8:11: listeners[0].mode: expected implicit or starttls, got 'ssl'",
             "9:10: missing required key 'key' in listeners[0].tls", "10:1: unknown key 'bogus'",
             "11:10: missing required key 'address' in backend"}));
}

TEST(ConfigErrorsTest, SyntaxErrorsAreReportedWithPosition) {
  EXPECT_EQ(Errors("listeners: [\n"), (Lines{"2:1: end of sequence flow not found"}));
  EXPECT_EQ(Errors("workers: 1\n  log_level: info\n"), (Lines{"2:12: illegal map value"}));
  EXPECT_EQ(Errors("listeners: *anchor\n"), (Lines{"1:12: the referenced anchor is not defined"}));
}

// A tab in the indentation gets one plain message at the tab, whatever yaml-cpp made of it
// ("illegal block entry", "illegal map value", "illegal tab when looking for indentation").
TEST(ConfigErrorsTest, TabIndentationIsNamedInPlainWords) {
  const std::string tab =
      "tab character in the indentation: YAML indents with spaces only, replace the tab with "
      "spaces";
  EXPECT_EQ(Errors("listeners:\n\t- name: a\n"), (Lines{"2:1: " + tab}));
  EXPECT_EQ(Errors("backend:\n\taddress: 127.0.0.1:143\n"), (Lines{"2:1: " + tab}));
  EXPECT_EQ(Errors("backend:\n  address: 127.0.0.1:143\n \tname: y\n"), (Lines{"3:2: " + tab}));
  EXPECT_EQ(Errors("listeners:\n  - name: a\n\t  address: 127.0.0.1:1993\n"), (Lines{"3:1: " + tab}));
  EXPECT_EQ(Errors(kMinimal + "\t# a comment indented with a tab\n"), (Lines{"7:1: " + tab}));
  // A tab that is no indentation (inside a value or a comment) is fine, and not blamed for
  // another syntax error.
  EXPECT_TRUE(LoadOk(kMinimal + "log_level:\tinfo\n# a\tcomment\n"));
  EXPECT_EQ(Errors("listeners: [\n# \tcomment\n"), (Lines{"3:1: end of sequence flow not found"}));
}

// Errors inside a listener name it by its name, so an admin need not count list items.
TEST(ConfigErrorsTest, NestedErrorsNameTheListener) {
  EXPECT_EQ(Errors("listeners:\n"
                   "  - name: imaps\n"
                   "    address: 127.0.0.1:1993\n"
                   "    tls: {certificate: c.pem, key: k.pem}\n"
                   "  - name: imap\n"
                   "    address: 127.0.0.1:1143\n"
                   "    mode: starttsl\n"
                   "    tls: {certificate: c.pem}\n"
                   "backend: {address: 127.0.0.1:143}\n"),
            (Lines{"7:11: listeners[imap].mode: expected implicit or starttls, got 'starttsl'",
                   "8:10: missing required key 'key' in listeners[imap].tls"}));
  // Without a usable name, the index.
  EXPECT_EQ(Errors("listeners:\n"
                   "  - address: 127.0.0.1:1993\n"
                   "    tls: {certificate: c.pem, key: k.pem}\n"
                   "backend: {address: 127.0.0.1:143}\n"),
            (Lines{"2:5: missing required key 'name' in listeners[0]"}));
}

// Whatever the input, the loader returns a Config or well-formed error lines; nothing throws.
TEST(ConfigErrorsTest, ArbitraryInputNeverEscapesAsAnException) {
  // "FILE:LINE:COL: message" with a real position, or "FILE: message"; never a 0 position.
  const std::regex line_format("^" + kFile + R"((:[1-9]\d*:[1-9]\d*)?: .+$)");
  auto check = [&](const std::string& text) {
    StatusOr<ConfigPtr> c = LoadConfigText(text, kFile);
    if (c.ok()) return;
    std::istringstream in(c.status().message());
    for (std::string line; std::getline(in, line);) {
      EXPECT_TRUE(std::regex_match(line, line_format)) << line;
    }
  };
  // Every prefix of a full config.
  const std::string full = kMinimal + "limits:\n  max_literal: 1MiB\ntimeouts: {idle: 5m}\n";
  for (size_t n = 0; n <= full.size(); ++n) check(full.substr(0, n));
  check(std::string("\0\xff\xfe", 3));
  check(std::string(10000, '['));
  check(std::string(10000, '{'));
  check("a: &x [*x]\n");
  check("? [a, b]\n: c\n");
  check("workers: !!binary AAAA\n");
  check("\"\\u0000\": 1\n");
}

}  // namespace
}  // namespace imapgate::config

// yaml-cpp 0.7 loops forever on some invalid UTF-8 (found by fuzz/config_fuzzer; the input is in
// fuzz/corpus/config_fuzzer/yaml_cpp_hang_invalid_utf8.yaml). The loader must refuse such bytes
// itself, with their position, before yaml-cpp sees them.
TEST(ConfigBadBytesTest, InvalidUtf8IsReportedWithItsPosition) {
  auto result = imapgate::config::LoadConfigText("workers: 1\nlog_level: \"in\xa0fo\"\n", "f.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "f.yaml:2:15: invalid byte: the file must be UTF-8 text without control characters");
}

TEST(ConfigBadBytesTest, ControlCharacterIsRefused) {
  auto result = imapgate::config::LoadConfigText("workers: 1\x01\n", "f.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("f.yaml:1:11: invalid byte"), std::string::npos);
}

// yaml-cpp 0.7's LoadAll loops forever on " ," (fuzz/corpus/config_fuzzer/yaml_cpp_hang_2.yaml).
TEST(ConfigBadBytesTest, LoneCommaFinishesWithAnError) {
  auto result = imapgate::config::LoadConfigText(" ,", "f.yaml");
  EXPECT_FALSE(result.ok());
}

TEST(ConfigBadBytesTest, FuzzerHangInputFinishesWithAnError) {
  const std::string hang = ",ner\ns :  &a\xa0{nnary aGVsbG8=bG8=*";
  auto result = imapgate::config::LoadConfigText(hang, "f.yaml");
  EXPECT_FALSE(result.ok());
}
