// RawDeflate: test helper, a raw-deflate (RFC 1951, as COMPRESS=DEFLATE uses) compressor as an
// IMAP server runs it, and the client's decompressor, over zlib.
#pragma once

#include <zlib.h>

#include <string>
#include <string_view>

namespace imapgate::testing {

class RawDeflate {
 public:
  RawDeflate() {
    deflateInit2(&out_, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&in_, -15);
  }
  ~RawDeflate() {
    deflateEnd(&out_);
    inflateEnd(&in_);
  }
  RawDeflate(const RawDeflate&) = delete;
  RawDeflate& operator=(const RawDeflate&) = delete;

  // Compresses `s` and ends with `flush` (Z_SYNC_FLUSH as servers do after each response,
  // Z_NO_FLUSH or Z_PARTIAL_FLUSH to stop inside a block).
  std::string Compress(std::string_view s, int flush) {
    std::string out(s.size() + 1024, '\0');
    out_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    out_.avail_in = static_cast<uInt>(s.size());
    out_.next_out = reinterpret_cast<Bytef*>(out.data());
    out_.avail_out = static_cast<uInt>(out.size());
    deflate(&out_, flush);
    out.resize(out.size() - out_.avail_out);
    return out;
  }
  // Inflates what the client received; `ok` is false on a corrupt stream or on input left over
  // (mbsync asserts on the latter).
  std::string Inflate(std::string_view s, bool* ok) {
    std::string out(s.size() * 16 + 4096, '\0');
    in_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    in_.avail_in = static_cast<uInt>(s.size());
    in_.next_out = reinterpret_cast<Bytef*>(out.data());
    in_.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&in_, Z_SYNC_FLUSH);
    *ok = (rc == Z_OK || rc == Z_BUF_ERROR) && in_.avail_in == 0;
    out.resize(out.size() - in_.avail_out);
    return out;
  }

 private:
  z_stream out_{};
  z_stream in_{};
};

}  // namespace imapgate::testing
