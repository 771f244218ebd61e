// Tests for tls::TlsServerContext and tls::TlsClientContext: loading files, and the errors that
// name the file at fault.

#include "tls/tls_context.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

#include "test_certs.h"

namespace imapgate::tls {
namespace {

using ::imapgate::testing::GetTestCerts;
using ::imapgate::testing::TestCerts;

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(certs().ok) << certs().error; }
  static const TestCerts& certs() { return GetTestCerts(); }
  // Writes `text` to a file in the test certificate directory and returns its path.
  static std::string Write(const std::string& name, const std::string& text) {
    const std::string path = certs().dir + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // The error of loading `cert` and `key`, which must fail; checks that it holds none of
  // BoringSSL's codes ("error:...:OPENSSL_internal:...").
  static std::string ServerError(const std::string& cert, const std::string& key) {
    auto ctx = TlsServerContext::Create(cert, key);
    EXPECT_FALSE(ctx.ok());
    if (ctx.ok()) return "";
    const std::string& message = ctx.status().message();
    EXPECT_EQ(message.find("OPENSSL_internal"), std::string::npos) << message;
    EXPECT_EQ(message.find("error:"), std::string::npos) << message;
    return message;
  }
};

TEST_F(TlsContextTest, ServerContextLoadsCertificateAndKey) {
  auto ctx = TlsServerContext::Create(certs().server_cert, certs().server_key);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_NE((*ctx)->get(), nullptr);
}

// notAfter as the openssl CLI reads it from the same file ("notAfter=Nov 28 14:58:30 2036 GMT").
time_t NotAfterByOpenSsl(const std::string& cert) {
  const std::string command = "openssl x509 -noout -enddate -in '" + cert + "'";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return 0;
  char line[256] = {};
  const bool read = fgets(line, sizeof line, p) != nullptr;
  pclose(p);
  struct tm tm {};
  if (!read || strptime(line, "notAfter=%b %d %H:%M:%S %Y GMT", &tm) == nullptr) return 0;
  return timegm(&tm);
}

TEST_F(TlsContextTest, ServerContextKnowsTheLeafCertificatesNotAfter) {
  auto ctx = TlsServerContext::Create(certs().server_cert, certs().server_key);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  const time_t expected = NotAfterByOpenSsl(certs().server_cert);
  ASSERT_GT(expected, std::time(nullptr));
  EXPECT_EQ((*ctx)->not_after_unix_seconds(), static_cast<int64_t>(expected));
}

TEST_F(TlsContextTest, MissingCertificateFileIsNamedInTheError) {
  const std::string path = certs().dir + "/no-such-cert.pem";
  auto ctx = TlsServerContext::Create(path, certs().server_key);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find(path), std::string::npos) << ctx.status().message();
}

TEST_F(TlsContextTest, MissingKeyFileIsNamedInTheError) {
  const std::string path = certs().dir + "/no-such-key.pem";
  auto ctx = TlsServerContext::Create(certs().server_cert, path);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find(path), std::string::npos) << ctx.status().message();
}

TEST_F(TlsContextTest, KeyFileThatIsNotPemIsNamedInTheError) {
  // The certificate where the key should be: readable, but holds no private key.
  auto ctx = TlsServerContext::Create(certs().server_cert, certs().server_cert);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find(certs().server_cert), std::string::npos)
      << ctx.status().message();
}

TEST_F(TlsContextTest, MismatchedKeyIsRefused) {
  auto ctx = TlsServerContext::Create(certs().server_cert, certs().other_key);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find(certs().other_key), std::string::npos)
      << ctx.status().message();
}

// What a new admin gets for each common mistake: the file, and what is wrong with it.
TEST_F(TlsContextTest, CertificateErrorsSayWhatIsWrongInPlainWords) {
  const std::string key = certs().server_key;
  const std::string missing = certs().dir + "/no-such.pem";
  EXPECT_EQ(ServerError(missing, key), "certificate '" + missing + "': file not found");
  EXPECT_EQ(ServerError(certs().dir, key),
            "certificate '" + certs().dir + "': is a directory, not a file");
  const std::string empty = Write("empty.pem", "");
  EXPECT_EQ(ServerError(empty, key), "certificate '" + empty + "': file is empty");
  const std::string text = Write("text.pem", "this is not a certificate\n");
  EXPECT_EQ(ServerError(text, key),
            "certificate '" + text + "': not a PEM file (no '-----BEGIN' line)");
  const std::string der = Write("cert.der", std::string("\x30\x82\x01\x0a\x02\x01", 6));
  EXPECT_EQ(ServerError(der, key),
            "certificate '" + der + "': not a PEM file (it looks like binary DER; convert it to PEM)");
  // The key file given as the certificate.
  EXPECT_EQ(ServerError(key, key),
            "certificate '" + key + "': no certificate in it (it holds 'EC PRIVATE KEY')");
  const std::string corrupt =
      Write("corrupt.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
  const std::string message = ServerError(corrupt, key);
  EXPECT_EQ(message.rfind("certificate '" + corrupt + "': cannot be parsed (", 0), 0u) << message;
}

TEST_F(TlsContextTest, UnreadableCertificateIsNamed) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  const std::string path = Write("unreadable.pem", "x");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  EXPECT_EQ(ServerError(path, certs().server_key),
            "certificate '" + path + "': file not readable (permission denied)");
}

TEST_F(TlsContextTest, KeyErrorsSayWhatIsWrongInPlainWords) {
  const std::string cert = certs().server_cert;
  const std::string missing = certs().dir + "/no-such.key";
  EXPECT_EQ(ServerError(cert, missing), "key '" + missing + "': file not found");
  // The certificate given as the key.
  EXPECT_EQ(ServerError(cert, cert), "key '" + cert + "': no private key in it (it holds 'CERTIFICATE')");
  EXPECT_EQ(ServerError(cert, certs().other_key),
            "key '" + certs().other_key + "': does not match the certificate '" + cert + "'");
  const std::string encrypted = certs().dir + "/encrypted.key";
  ASSERT_EQ(std::system(("openssl ec -in " + certs().server_key + " -aes128 -passout pass:secret -out " +
                         encrypted + " >/dev/null 2>&1")
                            .c_str()),
            0);
  EXPECT_EQ(ServerError(cert, encrypted),
            "key '" + encrypted +
                "': the private key is protected by a passphrase; imapgate needs it unencrypted");
}

// The test certificate is valid for 3650 days: checked against a time 20 years on, it has expired.
TEST_F(TlsContextTest, ExpiredCertificateIsRefusedWithItsDate) {
  const time_t later = std::time(nullptr) + 20LL * 365 * 24 * 3600;
  auto ctx = TlsServerContext::Create(certs().server_cert, certs().server_key, later);
  ASSERT_FALSE(ctx.ok());
  const std::string& message = ctx.status().message();
  EXPECT_EQ(message.rfind("certificate '" + certs().server_cert + "': expired on ", 0), 0u) << message;
  EXPECT_NE(message.find(" GMT"), std::string::npos) << message;
  // The same files now are fine.
  EXPECT_TRUE(TlsServerContext::Create(certs().server_cert, certs().server_key, std::time(nullptr)).ok());
}

TEST_F(TlsContextTest, CaFileErrorsSayWhatIsWrong) {
  const std::string missing = certs().dir + "/no-such-ca.pem";
  auto ctx = TlsClientContext::Create(missing, /*verify=*/true);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().message(), "CA file '" + missing + "': file not found");
  auto key = TlsClientContext::Create(certs().server_key, /*verify=*/true);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message(),
            "CA file '" + certs().server_key + "': no certificate in it (it holds 'EC PRIVATE KEY')");
}

TEST_F(TlsContextTest, ClientContextLoadsCaFile) {
  auto ctx = TlsClientContext::Create(certs().ca_cert, /*verify=*/true);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_TRUE((*ctx)->verify());
}

TEST_F(TlsContextTest, MissingCaFileIsNamedInTheError) {
  const std::string path = certs().dir + "/no-such-ca.pem";
  auto ctx = TlsClientContext::Create(path, /*verify=*/true);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find(path), std::string::npos) << ctx.status().message();
}

TEST_F(TlsContextTest, ClientContextWithoutVerificationNeedsNoCa) {
  auto ctx = TlsClientContext::Create("", /*verify=*/false);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_FALSE((*ctx)->verify());
}

}  // namespace
}  // namespace imapgate::tls
