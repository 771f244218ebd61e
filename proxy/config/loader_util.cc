#include "config/loader_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/utf8.h"
#include "config/units.h"

namespace imapgate::config::internal {

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

void CheckName(const MapReader& map, std::string_view key, const std::string& name,
               ErrorList* errors) {
  if (IsValidName(name)) return;
  errors->Add(map.MarkOf(key), map.PathOf(key) +
                                   ": must be 1 to 32 characters of a-z, 0-9, '_' and '-', got " +
                                   QuoteForMessage(name));
}

std::string ResolvePath(const std::filesystem::path& base_dir, const std::string& text) {
  std::filesystem::path path(text);
  if (path.is_relative()) path = base_dir / path;
  std::error_code ec;
  std::filesystem::path resolved = std::filesystem::weakly_canonical(path, ec);
  return ec ? path.lexically_normal().string() : resolved.string();
}

std::string Position(const YAML::Mark& mark) {
  return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

const std::vector<std::string_view>& BackendKeys() {
  static const std::vector<std::string_view> keys = {
      "name", "address", "security", "tls_ca", "tls_verify", "tls_server_name", "proxy_protocol"};
  return keys;
}

void ReadBackendFields(const MapReader& map, const std::filesystem::path& base_dir,
                       ErrorList* errors, BackendConfig* out) {
  if (map.String("name", false, &out->name)) CheckName(map, "name", out->name, errors);
  map.Address("address", false, &out->address);
  out->address_location = errors->Location(map.MarkOf("address"));
  out->tls_ca_location = errors->Location(map.MarkOf(map.Find("tls_ca") ? "tls_ca" : "security"));
  size_t security = 0;
  if (map.Choice("security", {"plaintext", "tls", "starttls"}, &security)) {
    static constexpr BackendSecurity kValues[] = {BackendSecurity::kPlaintext, BackendSecurity::kTls,
                                                  BackendSecurity::kStartTls};
    out->security = kValues[security];
  }
  if (map.String("tls_ca", true, &out->tls_ca_file) && !out->tls_ca_file.empty()) {
    out->tls_ca_file = ResolvePath(base_dir, out->tls_ca_file);
  }
  map.Bool("tls_verify", &out->tls_verify);
  map.String("tls_server_name", true, &out->tls_server_name);
  if (out->tls_server_name.empty()) out->tls_server_name = out->address.host;
  map.Bool("proxy_protocol", &out->send_proxy_v2);
}

StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes) {
  auto fail = [&path](const std::string& why) {
    return InvalidArgument(path + ": cannot read file: " + why);
  };
  // O_NONBLOCK: a FIFO named by mistake must not hang the load; it is refused below.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) return fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail(std::strerror(EISDIR));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  std::string text;
  char buffer[16384];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::strerror(errno));
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_bytes) return fail("larger than " + FormatSize(max_bytes));
  }
  return text;
}

// As config.cc: yaml-cpp 0.7 can loop forever on malformed UTF-8, so the text is checked first
// (valid UTF-8; no control characters but tab, LF and CR). Returns the 1-based position.
bool FindBadByte(std::string_view text, int* line, int* column) {
  *line = 1;
  *column = 1;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t n = Utf8SequenceLength(text, i);
    if (n == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return true;
    if (c == '\n') {
      ++*line;
      *column = 1;
    } else {
      ++*column;
    }
    i += n;
  }
  return false;
}

// The line of a "---" or "..." marker that starts a second document, or 0
// (yaml-cpp's LoadAll can loop forever, and Load would silently ignore the rest).
int SecondDocumentLine(std::string_view text) {
  bool content_seen = false;
  int line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    ++line;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    const bool marker = (l.substr(0, 3) == "---" || l.substr(0, 3) == "...") &&
                        (l.size() == 3 || l[3] == ' ' || l[3] == '\t');
    if (marker && (content_seen || l[0] == '.')) return line;
    const size_t first = l.find_first_not_of(" \t");
    if (!marker && first != std::string_view::npos && l[first] != '#') content_seen = true;
    pos = end + 1;
  }
  return 0;
}

}  // namespace imapgate::config::internal
