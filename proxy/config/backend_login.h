// The config loader's reader for `backend_login:` (top-level, and per shard): how imapgate logs
// in to the backends. Private to config/.
//
//   backend_login:
//     mode: master                  # client (default): the client's own credentials
//     master_user: proxy            # kMaster: required
//     master_password_file: master.pass   # kMaster: required; mode 600; read at every load
//     form: login_separator         # or sasl_authzid
//     separator: '*'                # login_separator: Dovecot's auth_master_user_separator
#pragma once

#include <filesystem>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace imapgate::config::internal {

inline constexpr size_t kMaxMasterUserBytes = 255;

// Reads one `backend_login:` mapping at `field` (its path names it in messages) into *out.
void ReadBackendLogin(const Field& field, const std::filesystem::path& base_dir,
                      ErrorList* errors, BackendLoginConfig* out);

}  // namespace imapgate::config::internal
