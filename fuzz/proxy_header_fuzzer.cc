// Fuzz target for the PROXY protocol parser (proxyproto/parser.h), plus the address and CIDR
// text parsers it relies on. Checks, beyond "no crash":
//  - feeding byte by byte, and split at two points, gives exactly the all-at-once answer;
//  - a decision is made at the byte it names: the prefix before it still needs more, the prefix
//    up to it gives the same answer; a header never exceeds its bounds;
//  - a parsed header's endpoints survive encoding (v1 and v2) and parsing again;
//  - ParseIpv4/ParseIpv6 agree with inet_pton, FormatIp with inet_ntop; a parsed CIDR's
//    canonical text parses to itself.
#include <arpa/inet.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "proxyproto/cidr.h"
#include "proxyproto/encoder.h"
#include "proxyproto/parser.h"

namespace pp = imapgate::proxyproto;

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

bool Same(const pp::Result& a, const pp::Result& b) {
  return a.outcome == b.outcome && a.error == b.error && a.need_at_least == b.need_at_least &&
         a.header.version == b.header.version && a.header.length == b.header.length &&
         a.header.local == b.header.local && a.header.source == b.header.source &&
         a.header.destination == b.header.destination && a.header.tlv_count == b.header.tlv_count;
}

void CheckParser(std::string_view in, pp::Limits limits) {
  pp::Parser whole(limits);
  const pp::Result r = whole.Feed(in);
  const size_t used = whole.consumed();
  Check(used <= in.size() && used <= whole.max_header_length());

  pp::Parser bytewise(limits);
  pp::Result b = bytewise.Feed("");
  for (size_t i = 0; i < in.size(); ++i) b = bytewise.Feed(in.substr(i, 1));
  Check(Same(b, r) && bytewise.consumed() == used);

  for (size_t cut : {in.size() / 3, in.empty() ? size_t{0} : static_cast<uint8_t>(in[0]) % in.size()}) {
    pp::Parser split(limits);
    pp::Result first = split.Feed(in.substr(0, cut));
    pp::Result second = split.Feed(in.substr(cut));
    Check(Same(second, r));
    if (r.outcome == pp::Outcome::kDone && first.outcome == pp::Outcome::kNeedMore) {
      Check(first.need_at_least >= 1 && cut + first.need_at_least <= r.header.length);
    }
  }

  if (r.outcome == pp::Outcome::kNeedMore) {
    Check(used == in.size() && in.size() < whole.max_header_length() && r.need_at_least >= 1);
    return;
  }
  // Decided at byte `used`: one byte less still needs more, exactly `used` bytes decide the same.
  Check(used >= 1);
  Check(Same(pp::ParseHeader(in.substr(0, used), limits), r));
  Check(pp::ParseHeader(in.substr(0, used - 1), limits).outcome == pp::Outcome::kNeedMore);
  if (r.outcome == pp::Outcome::kInvalid) {
    Check(r.error != pp::Error::kNone);
    return;
  }
  const pp::Header& h = r.header;
  Check(h.length == used);
  Check(h.version == 1 ? h.length <= pp::kV1MaxLength && in[used - 1] == '\n'
                       : h.version == 2 && h.length >= pp::kV2FixedLength);
  if (h.local) {
    Check(h.source == pp::Endpoint{} && h.destination == pp::Endpoint{});
    return;
  }
  Check(h.source.ip.family == h.destination.ip.family);
  for (const std::string& again : {pp::EncodeV2(h.source, h.destination), pp::EncodeV1(h.source, h.destination)}) {
    pp::Result rr = pp::ParseHeader(again);
    Check(rr.outcome == pp::Outcome::kDone && !rr.header.local && rr.header.length == again.size());
    // The encoders write mapped IPv4 as IPv4; compare unmapped.
    Check(rr.header.source.ip.Unmapped() == h.source.ip.Unmapped() && rr.header.source.port == h.source.port);
    Check(rr.header.destination.ip.Unmapped() == h.destination.ip.Unmapped() &&
          rr.header.destination.port == h.destination.port);
  }
}

void CheckAddressText(std::string_view in) {
  if (in.size() > 64 || in.find('\0') != std::string_view::npos) return;
  const std::string text(in);
  uint8_t ref[16];
  auto v4 = pp::ParseIpv4(text);
  const bool ref4 = inet_pton(AF_INET, text.c_str(), ref) == 1;
  Check(v4.has_value() == ref4);
  if (v4) Check(std::memcmp(v4->bytes.data(), ref, 4) == 0 && pp::FormatIp(*v4) == text);
  auto v6 = pp::ParseIpv6(text);
  const bool ref6 = inet_pton(AF_INET6, text.c_str(), ref) == 1;
  Check(v6.has_value() == ref6);
  if (v6) {
    Check(std::memcmp(v6->bytes.data(), ref, 16) == 0);
    char buf[INET6_ADDRSTRLEN];
    Check(inet_ntop(AF_INET6, ref, buf, sizeof buf) != nullptr && pp::FormatIp(*v6) == buf);
  }
  auto cidr = pp::Cidr::Parse(text);
  if (cidr.ok()) {
    auto again = pp::Cidr::Parse(cidr->ToString());
    Check(again.ok() && again->ToString() == cidr->ToString());
  } else {
    Check(cidr.status().message().rfind("bad CIDR '", 0) == 0 && cidr.status().message().size() < 200);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckParser(in, pp::Limits{});
  CheckParser(in, pp::Limits{pp::kV2MinBody});
  CheckParser(in, pp::Limits{pp::kV2MaxBodyCap});
  CheckAddressText(in);
  return 0;
}
