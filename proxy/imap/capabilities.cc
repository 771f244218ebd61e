// Capability sets by phase (see capabilities.h).
#include "imap/capabilities.h"

#include "imap/syntax.h"

namespace imapgate::imap {

std::string PreAuthCapabilities(PreAuthPhase phase, const std::vector<std::string>& mechanisms) {
  switch (phase) {
    case PreAuthPhase::kCleartextTlsRequired:
      return "IMAP4rev1 ID LITERAL+ STARTTLS LOGINDISABLED";
    case PreAuthPhase::kTls: {
      std::string caps = "IMAP4rev1 ID LITERAL+";
      if (!mechanisms.empty()) caps += " SASL-IR";
      for (const std::string& m : mechanisms) caps += " AUTH=" + m;
      return caps;
    }
  }
  return "IMAP4rev1";
}

std::string PreAuthCapabilities(PreAuthPhase phase) { return PreAuthCapabilities(phase, {"PLAIN"}); }

std::string FilterBackendCapabilities(std::string_view backend_caps) {
  std::string out;
  size_t i = 0;
  while (i < backend_caps.size()) {
    while (i < backend_caps.size() && backend_caps[i] == ' ') ++i;
    const size_t begin = i;
    while (i < backend_caps.size() && backend_caps[i] != ' ') ++i;
    std::string_view cap = backend_caps.substr(begin, i - begin);
    if (cap.empty() || syntax::EqualsIgnoreCase(cap, "STARTTLS") ||
        syntax::EqualsIgnoreCase(cap, "LOGINDISABLED") ||
        (cap.size() >= 5 && syntax::EqualsIgnoreCase(cap.substr(0, 5), "AUTH="))) {
      continue;
    }
    if (!out.empty()) out.push_back(' ');
    out.append(cap);
  }
  return out;
}

}  // namespace imapgate::imap
