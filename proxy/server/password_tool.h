// The password tools of the command line (issue B), for operators filling a users file:
//   imapgate --hash-password [SCHEME]  reads one password from stdin (never argv: it would show
//                                      in `ps`), prints its hash (default scheme argon2id;
//                                      yescrypt, bcrypt, sha512-crypt also)
//   imapgate --new-app-password        prints a new random app password and, tab-separated, the
//                                      {SHA256} hash to put in the users file
// Each returns the process exit code. The password read is wiped.
#pragma once

namespace imapgate::server {

int HashPasswordCommand(const char* scheme_name);
int NewAppPasswordCommand();

}  // namespace imapgate::server
