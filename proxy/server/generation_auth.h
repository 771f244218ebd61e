// Builds a configuration generation's auth plan (auth::GenerationAuth) from its Config: loads
// every users file into its store, parses every URL, resolves each listener's chain, and hands
// out the auth sources' metric labels. Part of BuildGeneration; private to server/.
#pragma once

#include <memory>
#include <string>

#include "auth/auth_services.h"
#include "config/config.h"
#include "stats/metrics.h"

namespace imapgate::server {

// services: the Server's (stores shared across generations); null for `imapgate -t`, which
// only checks that everything loads. Problems are appended to *errors, one
// "FILE:LINE:COL: message" line each. A users file that fails to load leaves its store as it was;
// one that loads fills an empty store, and a store with users is left to the UsersFileWatcher
// (Server::Reload calls its CheckNow), which ends the sessions of removed app passwords.
std::shared_ptr<const auth::GenerationAuth> BuildGenerationAuth(const config::Config& config,
                                                                 std::shared_ptr<auth::AuthServices> services,
                                                                 stats::Metrics* metrics, std::string* errors);

}  // namespace imapgate::server
