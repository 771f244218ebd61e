#include "proxyproto/parser.h"

#include <algorithm>
#include <cstring>

namespace imapgate::proxyproto {
namespace {

constexpr char kV1Prefix[] = "PROXY ";  // 6 bytes
constexpr size_t kV1PrefixLength = 6;
constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr size_t kV1MinLength = 15;  // "PROXY UNKNOWN\r\n"

bool IsHex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A decimal port 0..65535 without leading zeros.
bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

const char* ErrorReason(Error error) {
  switch (error) {
    case Error::kNone: return "none";
    case Error::kBadSignature: return "bad_signature";
    case Error::kV1TooLong: return "v1_too_long";
    case Error::kV1BadLineEnd: return "v1_bad_line_end";
    case Error::kV1UnknownProtocol: return "v1_unknown_protocol";
    case Error::kV1Malformed: return "v1_malformed";
    case Error::kV1BadSourceAddress: return "v1_bad_source_address";
    case Error::kV1BadDestinationAddress: return "v1_bad_destination_address";
    case Error::kV1BadSourcePort: return "v1_bad_source_port";
    case Error::kV1BadDestinationPort: return "v1_bad_destination_port";
    case Error::kV2BadVersion: return "v2_bad_version";
    case Error::kV2BadCommand: return "v2_bad_command";
    case Error::kV2UnknownFamily: return "v2_unknown_family";
    case Error::kV2UnsupportedFamily: return "v2_unsupported_family";
    case Error::kV2UnsupportedTransport: return "v2_unsupported_transport";
    case Error::kV2TooLong: return "v2_too_long";
    case Error::kV2TooShort: return "v2_too_short";
    case Error::kV2BadTlv: return "v2_bad_tlv";
  }
  return "unknown";
}

Parser::Parser(Limits limits)
    : max_v2_body_(std::clamp(limits.max_v2_body, kV2MinBody, kV2MaxBodyCap)) {
  UpdateNeedMore();
}

size_t Parser::max_header_length() const { return std::max(kV1MaxLength, kV2FixedLength + max_v2_body_); }

Result Parser::Feed(const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size && result_.outcome == Outcome::kNeedMore; ++i) {
    Step(data[i]);
    ++pos_;
  }
  if (result_.outcome == Outcome::kNeedMore) UpdateNeedMore();
  return result_;
}

void Parser::Fail(Error error) {
  result_.outcome = Outcome::kInvalid;
  result_.error = error;
  result_.need_at_least = 0;
}

void Parser::UpdateNeedMore() {
  size_t need = 1;
  if (mode_ == Mode::kV2) {
    need = pos_ < kV2FixedLength ? kV2FixedLength - pos_ : kV2FixedLength + body_length_ - pos_;
  } else if (!v1_want_lf_ && pos_ < kV1MinLength) {
    need = kV1MinLength - pos_;  // also right before the first byte: no header is shorter
  }
  result_.need_at_least = std::max<size_t>(need, 1);
}

void Parser::Step(uint8_t byte) {
  if (mode_ == Mode::kUnknown) {
    if (byte == static_cast<uint8_t>(kV1Prefix[0])) {
      mode_ = Mode::kV1;
    } else if (byte == kV2Signature[0]) {
      mode_ = Mode::kV2;
    } else {
      Fail(Error::kBadSignature);
      return;
    }
  }
  if (mode_ == Mode::kV1) {
    StepV1(byte);
  } else {
    StepV2(byte);
  }
}

// ---- v1 ----

void Parser::StepV1(uint8_t byte) {
  if (pos_ < kV1PrefixLength) {
    if (byte != static_cast<uint8_t>(kV1Prefix[pos_])) Fail(Error::kBadSignature);
    return;
  }
  if (v1_want_lf_) {
    if (byte == '\n') {
      Succeed();
    } else {
      Fail(Error::kV1BadLineEnd);
    }
    return;
  }
  if (byte == '\n') {
    Fail(Error::kV1BadLineEnd);
  } else if (byte == '\r') {
    if (v1_unknown_) {
      v1_want_lf_ = true;
    } else {
      EndV1Token('\r');
    }
  } else if (v1_unknown_) {
    // "UNKNOWN ...": everything up to CRLF is ignored.
  } else if (byte == ' ') {
    EndV1Token(' ');
  } else {
    // A byte of the current field: refused as soon as no valid field could contain it.
    bool ok = false;
    switch (field_) {
      case 0:
        ok = ((byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9')) && token_len_ < 7;
        if (!ok) Fail(Error::kV1UnknownProtocol);
        break;
      case 1:
      case 2: {
        size_t max = v1_tcp6_ ? kMaxIpv6TextLength : kMaxIpv4TextLength;
        ok = (IsHex(byte) || byte == '.' || byte == ':') && token_len_ < max;
        if (!ok) Fail(field_ == 1 ? Error::kV1BadSourceAddress : Error::kV1BadDestinationAddress);
        break;
      }
      default:
        ok = byte >= '0' && byte <= '9' && token_len_ < 5;
        if (!ok) Fail(field_ == 3 ? Error::kV1BadSourcePort : Error::kV1BadDestinationPort);
        break;
    }
    if (ok) token_[token_len_++] = static_cast<char>(byte);
  }
  if (result_.outcome == Outcome::kNeedMore && pos_ + 1 >= kV1MaxLength) Fail(Error::kV1TooLong);
}

void Parser::EndV1Token(uint8_t terminator) {
  std::string_view token(token_, token_len_);
  token_len_ = 0;
  if (token.empty()) {
    Fail(Error::kV1Malformed);
    return;
  }
  const bool end_of_line = terminator == '\r';
  Header& h = result_.header;
  switch (field_) {
    case 0:
      if (token == "UNKNOWN") {
        if (end_of_line) {
          v1_want_lf_ = true;
        } else {
          v1_unknown_ = true;
        }
        return;
      }
      if (token != "TCP4" && token != "TCP6") {
        Fail(Error::kV1UnknownProtocol);
        return;
      }
      v1_tcp6_ = token == "TCP6";
      break;
    case 1:
    case 2: {
      auto ip = v1_tcp6_ ? ParseIpv6(token) : ParseIpv4(token);
      if (!ip) {
        Fail(field_ == 1 ? Error::kV1BadSourceAddress : Error::kV1BadDestinationAddress);
        return;
      }
      (field_ == 1 ? h.source : h.destination).ip = *ip;
      break;
    }
    case 3:
      if (!ParsePort(token, &h.source.port)) {
        Fail(Error::kV1BadSourcePort);
        return;
      }
      break;
    default:
      if (!ParsePort(token, &h.destination.port)) {
        Fail(Error::kV1BadDestinationPort);
        return;
      }
      if (!end_of_line) {
        Fail(Error::kV1Malformed);  // a field after the destination port
        return;
      }
      h.local = false;
      v1_want_lf_ = true;
      return;
  }
  if (end_of_line) {
    Fail(Error::kV1Malformed);  // the line ends before the destination port
    return;
  }
  ++field_;
}

// ---- v2 ----

void Parser::StepV2(uint8_t byte) {
  if (pos_ < sizeof kV2Signature) {
    if (byte != kV2Signature[pos_]) Fail(Error::kBadSignature);
    return;
  }
  switch (pos_) {
    case 12:
      if ((byte >> 4) != 2) {
        Fail(Error::kV2BadVersion);
        return;
      }
      command_ = byte & 0x0f;
      if (command_ > 1) Fail(Error::kV2BadCommand);
      return;
    case 13: {
      family_ = byte >> 4;
      const uint8_t transport = byte & 0x0f;
      address_length_ = 0;
      if (command_ == 0 || family_ == 0) return;  // LOCAL, or PROXY over AF_UNSPEC
      if (family_ == 3) {
        Fail(Error::kV2UnsupportedFamily);
      } else if (family_ > 3) {
        Fail(Error::kV2UnknownFamily);
      } else if (transport != 1) {
        Fail(Error::kV2UnsupportedTransport);
      } else {
        address_length_ = family_ == 1 ? 12 : 36;
      }
      return;
    }
    case 14:
      body_length_ = static_cast<size_t>(byte) << 8;
      return;
    case 15:
      body_length_ |= byte;
      if (body_length_ > max_v2_body_) {
        Fail(Error::kV2TooLong);
      } else if (body_length_ < address_length_) {
        Fail(Error::kV2TooShort);
      } else if (body_length_ == 0) {
        Succeed();
      }
      return;
    default:
      StepV2Body(byte, pos_ - kV2FixedLength);
      return;
  }
}

void Parser::StepV2Body(uint8_t byte, size_t body_index) {
  if (address_length_ == 0) {
    // LOCAL or AF_UNSPEC: the whole block is discarded.
  } else if (body_index < address_length_) {
    address_[body_index] = byte;
  } else if (tlv_skip_ > 0) {
    --tlv_skip_;
  } else {
    tlv_header_[tlv_header_pos_++] = byte;
    if (tlv_header_pos_ == 3) {
      const size_t value_length = static_cast<size_t>(tlv_header_[1]) << 8 | tlv_header_[2];
      const size_t remaining = body_length_ - body_index - 1;
      if (value_length > remaining) {
        Fail(Error::kV2BadTlv);
        return;
      }
      tlv_skip_ = value_length;
      tlv_header_pos_ = 0;
      ++result_.header.tlv_count;
    }
  }
  if (body_index + 1 == body_length_) {
    if (tlv_header_pos_ != 0) {
      Fail(Error::kV2BadTlv);  // the block ends inside a TLV's type and length
    } else {
      Succeed();
    }
  }
}

void Parser::Succeed() {
  Header& h = result_.header;
  h.length = pos_ + 1;
  if (mode_ == Mode::kV1) {
    h.version = 1;  // h.local and the endpoints were set field by field
  } else {
    h.version = 2;
    h.local = address_length_ == 0;
    if (!h.local) {
      const uint8_t* a = address_;
      const size_t ip_len = address_length_ == 12 ? 4 : 16;
      h.source.ip.family = h.destination.ip.family = ip_len == 4 ? Family::kIPv4 : Family::kIPv6;
      std::memcpy(h.source.ip.bytes.data(), a, ip_len);
      std::memcpy(h.destination.ip.bytes.data(), a + ip_len, ip_len);
      h.source.port = static_cast<uint16_t>(a[2 * ip_len] << 8 | a[2 * ip_len + 1]);
      h.destination.port = static_cast<uint16_t>(a[2 * ip_len + 2] << 8 | a[2 * ip_len + 3]);
    }
  }
  if (h.local) {
    h.source = Endpoint{};
    h.destination = Endpoint{};
  }
  result_.outcome = Outcome::kDone;
  result_.need_at_least = 0;
}

Result ParseHeader(std::string_view bytes, Limits limits) {
  Parser parser(limits);
  return parser.Feed(bytes);
}

}  // namespace imapgate::proxyproto
