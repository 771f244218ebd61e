// Tests for tls::TlsServerContext and tls::TlsClientContext: loading files, and the errors that
// name the file at fault.

#include "tls/tls_context.h"

#include <gtest/gtest.h>

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
};

TEST_F(TlsContextTest, ServerContextLoadsCertificateAndKey) {
  auto ctx = TlsServerContext::Create(certs().server_cert, certs().server_key);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_NE((*ctx)->get(), nullptr);
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
