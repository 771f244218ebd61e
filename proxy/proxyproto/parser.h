// PROXY protocol header parser (HAProxy's spec, v1 text and v2 binary), resumable and bounded.
//
// The parser looks at the first bytes a trusted proxy sends and answers, after every Feed():
//   kNeedMore  – every byte fed so far belongs to the header; at least need_at_least more needed;
//   kDone      – the header is complete: its length (the bytes to consume) and what it carries;
//   kInvalid   – refuse the connection; error/ErrorReason() say why, for logs and metrics.
// It examines bytes strictly in order and decides at the first byte that settles the answer, so
// feeding one byte at a time gives the same result as feeding everything at once, and it never
// looks past the header's last byte (bytes behind it belong to the next stage). After kDone or
// kInvalid, Feed() returns the same result again. A header is at most 107 bytes (v1) or
// 16 + max_v2_body bytes (v2). Pure (std only), no allocation.
//
// Accepted: v1 "PROXY TCP4|TCP6 src dst sport dport\r\n" and "PROXY UNKNOWN...\r\n"; v2 with the
// LOCAL command, or PROXY over AF_UNSPEC, or PROXY over AF_INET/AF_INET6 with STREAM transport.
// LOCAL, UNKNOWN and AF_UNSPEC mean "use the socket's own addresses" (Header::local). TLVs are
// checked to lie within the header and skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxyproto/address.h"

namespace imapgate::proxyproto {

inline constexpr size_t kV1MaxLength = 107;             // including CRLF
inline constexpr size_t kV2FixedLength = 16;            // signature, ver/cmd, fam, length
inline constexpr size_t kV2DefaultMaxBody = 512;
inline constexpr size_t kV2MaxBodyCap = 4096;           // hard ceiling for Limits::max_v2_body
inline constexpr size_t kV2MinBody = 36;                // room for AF_INET6 addresses

struct Limits {
  // The largest v2 length field accepted (the bytes after the 16-byte fixed part).
  // Clamped to [kV2MinBody, kV2MaxBodyCap].
  size_t max_v2_body = kV2DefaultMaxBody;
};

// Why a header was refused. Names are stable, lowercase tokens (safe as metric label values).
enum class Error : uint8_t {
  kNone,
  kBadSignature,           // neither "PROXY " nor the v2 signature
  kV1TooLong,              // no CRLF within 107 bytes
  kV1BadLineEnd,           // CR not followed by LF, or a bare LF
  kV1UnknownProtocol,      // not TCP4, TCP6 or UNKNOWN
  kV1Malformed,            // missing, empty or extra fields
  kV1BadSourceAddress,
  kV1BadDestinationAddress,
  kV1BadSourcePort,        // not a decimal 0..65535 without leading zeros
  kV1BadDestinationPort,
  kV2BadVersion,           // version nibble is not 2
  kV2BadCommand,           // neither LOCAL nor PROXY
  kV2UnknownFamily,        // family nibble above AF_UNIX
  kV2UnsupportedFamily,    // AF_UNIX
  kV2UnsupportedTransport, // AF_INET/AF_INET6 over anything but STREAM
  kV2TooLong,              // length field above Limits::max_v2_body
  kV2TooShort,             // length field too small for the family's addresses
  kV2BadTlv,               // a TLV runs past the end of the header
};

// "bad_signature", "v1_too_long", "v2_unknown_family", ...
const char* ErrorReason(Error error);

// What a complete header says.
struct Header {
  int version = 0;        // 1 or 2
  size_t length = 0;      // bytes of the header, to consume
  bool local = true;      // LOCAL / UNKNOWN / AF_UNSPEC: use the socket's own addresses
  Endpoint source;        // the client (when !local)
  Endpoint destination;   // the address the client connected to (when !local)
  size_t tlv_count = 0;   // v2 TLVs skipped
};

enum class Outcome : uint8_t { kNeedMore, kDone, kInvalid };

struct Result {
  Outcome outcome = Outcome::kNeedMore;
  size_t need_at_least = 1;  // kNeedMore: a lower bound on the bytes still missing (>= 1)
  Header header;             // kDone
  Error error = Error::kNone;  // kInvalid
};

class Parser {
 public:
  explicit Parser(Limits limits = {});

  // Feeds the bytes that follow those fed before. Stops at the end of the header.
  Result Feed(const uint8_t* data, size_t size);
  Result Feed(std::string_view bytes) {
    return Feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  // Bytes examined so far (all of them header bytes while the outcome is kNeedMore).
  size_t consumed() const { return pos_; }
  // The longest header this parser accepts: max(107, 16 + max_v2_body).
  size_t max_header_length() const;
  const Result& result() const { return result_; }

 private:
  enum class Mode : uint8_t { kUnknown, kV1, kV2 };
  void Step(uint8_t byte);
  void StepV1(uint8_t byte);
  void StepV2(uint8_t byte);
  void EndV1Token(uint8_t terminator);
  void StepV2Body(uint8_t byte, size_t body_index);
  void Fail(Error error);
  void Succeed();
  void UpdateNeedMore();

  size_t max_v2_body_;
  Mode mode_ = Mode::kUnknown;
  size_t pos_ = 0;
  Result result_;
  // v1
  int field_ = 0;             // 0 protocol, 1 source, 2 destination, 3 source port, 4 dest port
  bool v1_unknown_ = false;   // "UNKNOWN": skip to CRLF
  bool v1_tcp6_ = false;
  bool v1_want_lf_ = false;
  char token_[kMaxIpv6TextLength + 1] = {};
  size_t token_len_ = 0;
  // v2
  uint8_t command_ = 0;
  uint8_t family_ = 0;
  size_t body_length_ = 0;
  size_t address_length_ = 0;  // 0 (skip the body), 12 or 36
  uint8_t address_[36] = {};
  uint8_t tlv_header_[3] = {};
  size_t tlv_header_pos_ = 0;
  size_t tlv_skip_ = 0;
};

// Parses a header from the start of `bytes` (a fresh Parser fed once).
Result ParseHeader(std::string_view bytes, Limits limits = {});

}  // namespace imapgate::proxyproto
