// Test certificates: an ECDSA P-256 CA and a server certificate for "localhost" and 127.0.0.1,
// generated at test time with the openssl command-line tool into a temporary directory.
//
// Shared by the tls, frontend and upstream unit tests. Nothing is committed: the keys exist only
// while the test process runs (the directory is removed at exit). Generation happens once per
// process, on first use; a failure is reported through ok/error so the caller can ASSERT on it.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace imapgate::testing {

struct TestCerts {
  bool ok = false;
  std::string error;  // which step failed, when !ok
  std::string dir;
  std::string ca_cert;      // self-signed CA (PEM)
  std::string server_cert;  // leaf signed by the CA: CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::string server_key;   // the leaf's P-256 key
  std::string other_key;    // an unrelated P-256 key (for "key does not match certificate")
};

namespace internal {

inline bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

inline TestCerts GenerateTestCerts() {
  TestCerts c;
  char tmpl[] = "/tmp/imapgate-certs-XXXXXX";
  if (!mkdtemp(tmpl)) {
    c.error = "mkdtemp failed";
    return c;
  }
  c.dir = tmpl;
  c.ca_cert = c.dir + "/ca.pem";
  c.server_cert = c.dir + "/server.pem";
  c.server_key = c.dir + "/server.key";
  c.other_key = c.dir + "/other.key";
  const std::string ca_key = c.dir + "/ca.key";
  const std::string ca_cnf = c.dir + "/ca.cnf";
  const std::string leaf_cnf = c.dir + "/leaf.cnf";
  const std::string leaf_ext = c.dir + "/leaf.ext";
  const std::string csr = c.dir + "/server.csr";
  if (!WriteFile(ca_cnf,
                 "[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = v3_ca\n"
                 "[dn]\nCN = imapgate unit test CA\n"
                 "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
                 "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n") ||
      !WriteFile(leaf_cnf, "[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = localhost\n") ||
      !WriteFile(leaf_ext,
                 "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                 "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n")) {
    c.error = "cannot write openssl config files";
    return c;
  }
  const std::string quiet = " >/dev/null 2>&1";
  const std::string steps[] = {
      "openssl ecparam -name prime256v1 -genkey -noout -out " + ca_key,
      "openssl req -x509 -new -sha256 -days 3650 -config " + ca_cnf + " -key " + ca_key + " -out " +
          c.ca_cert,
      "openssl ecparam -name prime256v1 -genkey -noout -out " + c.server_key,
      "openssl req -new -sha256 -config " + leaf_cnf + " -key " + c.server_key + " -out " + csr,
      "openssl x509 -req -sha256 -days 3650 -set_serial 2 -in " + csr + " -CA " + c.ca_cert +
          " -CAkey " + ca_key + " -extfile " + leaf_ext + " -out " + c.server_cert,
      "openssl ecparam -name prime256v1 -genkey -noout -out " + c.other_key,
  };
  for (const std::string& step : steps) {
    if (std::system((step + quiet).c_str()) != 0) {
      c.error = "failed: " + step;
      return c;
    }
  }
  c.ok = true;
  return c;
}

inline void RemoveTestCerts();

// Leaked on purpose: the atexit handler reads it after static destructors may have run.
inline TestCerts& TestCertsSingleton() {
  static TestCerts* certs = [] {
    auto* c = new TestCerts(GenerateTestCerts());
    std::atexit(RemoveTestCerts);
    return c;
  }();
  return *certs;
}

inline void RemoveTestCerts() {
  std::error_code ignored;
  const std::string& dir = TestCertsSingleton().dir;
  if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
}

}  // namespace internal

// The process-wide test certificates (generated on first call).
inline const TestCerts& GetTestCerts() { return internal::TestCertsSingleton(); }

}  // namespace imapgate::testing
