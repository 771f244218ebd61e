// imapgate: command line entry point. See README.md and conf/imapgate.yaml.
#include <cstdio>
#include <cstring>
#include <string>

#include "common/version.h"
#include "config/config.h"
#include "server/password_tool.h"
#include "server/server.h"

namespace {

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: imapgate -c FILE [-t]\n"
               "       imapgate --version\n"
               "       imapgate --hash-password [argon2id|yescrypt|bcrypt|sha512-crypt] < PASSWORD\n"
               "       imapgate --new-app-password\n"
               "  -c FILE     configuration file (YAML; see conf/imapgate.yaml)\n"
               "  -t          check the configuration (syntax, values, certificates and keys,\n"
               "              that every address can be bound, the user and group) and exit;\n"
               "              warnings (risky settings, an address in use) do not fail the check\n"
               "  --version   print the version and exit\n"
               "  --hash-password   read a password on stdin, print its hash for a users file\n"
               "  --new-app-password  print a new app password and, after a tab, its hash\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_file;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0 || std::strcmp(argv[i], "-v") == 0) {
      std::printf("imapgate %s\n", IMAPGATE_VERSION);
      return 0;
    } else if (std::strcmp(argv[i], "--hash-password") == 0) {
      return imapgate::server::HashPasswordCommand(i + 1 < argc ? argv[i + 1] : nullptr);
    } else if (std::strcmp(argv[i], "--new-app-password") == 0) {
      return imapgate::server::NewAppPasswordCommand();
    } else if (std::strcmp(argv[i], "-t") == 0) {
      check_only = true;
    } else if (std::strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
      config_file = argv[++i];
    } else if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      Usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "imapgate: unknown argument '%s'\n", argv[i]);
      Usage(stderr);
      return 2;
    }
  }
  if (config_file.empty()) {
    std::fprintf(stderr, "imapgate: no configuration file given (-c FILE)\n");
    Usage(stderr);
    return 2;
  }
  auto config = imapgate::config::LoadConfigFile(config_file);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  if (check_only) {
    imapgate::server::CheckReport report = imapgate::server::CheckConfigResources(*config);
    for (const std::string& w : report.warnings)
      std::fprintf(stderr, "imapgate: warning: %s\n", w.c_str());
    if (!report.errors.empty()) {
      std::fprintf(stderr, "%s\n", report.errors.c_str());
      return 1;
    }
    std::printf("imapgate: configuration file %s is valid\n", config_file.c_str());
    return 0;
  }
  return imapgate::server::RunServer(*config);
}
