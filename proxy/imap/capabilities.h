// Capability sets by session phase (shared/reference: protocol-and-tls.md "Capabilities by phase").
//
// Pure functions returning the capability list text (without "* CAPABILITY " and CRLF).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace imapgate::imap {

enum class PreAuthPhase {
  kCleartextTlsRequired,  // STARTTLS listener before the handshake: STARTTLS LOGINDISABLED, no AUTH=
  kTls,                   // implicit TLS, or after STARTTLS: SASL-IR AUTH=<m>..., no STARTTLS
};

// "IMAP4rev1 ..." for the given phase. Never contains STARTTLS after TLS. After TLS it lists
// SASL-IR and AUTH=<m> for each of `mechanisms`, in order (neither when the list is empty);
// before TLS it lists no mechanism at all, whatever `mechanisms` holds.
std::string PreAuthCapabilities(PreAuthPhase phase, const std::vector<std::string>& mechanisms);
// The same with the mechanism list {"PLAIN"}.
std::string PreAuthCapabilities(PreAuthPhase phase);

// Filters a backend's capability list for the client after login: drops STARTTLS, LOGINDISABLED
// and every AUTH=... (case-insensitive), keeps the rest in order, single-spaced.
std::string FilterBackendCapabilities(std::string_view backend_caps);

}  // namespace imapgate::imap
