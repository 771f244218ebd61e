// Secret files: the admin API's bearer token (admin.token_file) and a master user's password
// (backend_login.master_password_file). Secrets are never written inline in the config; each
// lives in its own file that only its owner may read, and is read at every load (so `imapgate -t`
// checks it and a reload re-reads it).
//
// Rules for every secret file: a regular file (a FIFO is refused, never waited on), no access by
// group or others (mode & 077 == 0, "chmod 600"), at most kMaxSecretFileBytes, one trailing "\n"
// (or "\r\n") stripped. The content rules depend on the kind (SecretKind). Errors describe the
// problem and name the path, never the content. The bytes read only ever live in wiped memory.
#pragma once

#include <memory>
#include <string>

#include "common/secret.h"
#include "common/status.h"

namespace imapgate::config {

inline constexpr size_t kMaxSecretFileBytes = 4096;
inline constexpr size_t kMinTokenLength = 16;

enum class SecretKind {
  kToken,     // at least kMinTokenLength characters of printable ASCII without spaces (0x21..0x7e)
  kPassword,  // at least one byte; no control characters (0x00..0x1f, 0x7f); spaces allowed
};

// Checks the content of a secret (already stripped of its trailing newline). The message never
// quotes the content; it names the first bad byte's position (1-based) when there is one.
Status CheckSecret(std::string_view secret, SecretKind kind);

// Reads and checks the secret file at `path`. The error message is "why" (without the path);
// the caller puts it at the config key's FILE:LINE:COL.
StatusOr<std::shared_ptr<const SecretString>> ReadSecretFile(const std::string& path,
                                                             SecretKind kind);

}  // namespace imapgate::config
