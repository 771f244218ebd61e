// Secret handling: memory that is wiped before it is released.
//
// SecureWipe zeroes memory in a way the compiler may not elide. WipingAllocator zeroes every
// block it frees, so a container that reallocates never leaves a stale copy behind. SecretString
// is a string for passwords, tokens and OTPs: its bytes (including the small-string buffer
// inside the object) are zeroed on destruction and on move-from. None of these types can be
// streamed or logged by accident: there is no operator<<.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace imapgate {

// Zeroes [data, data+size); never optimised away.
void SecureWipe(void* data, size_t size);

// Constant-time equality of two byte strings (the time depends only on the lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// An allocator that zeroes each block before returning it to the heap.
template <typename T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) {}
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) {
    SecureWipe(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const WipingAllocator<U>&) const { return true; }
};

// Bytes that are wiped when freed; used for buffers that may hold credentials.
using WipingBytes = std::vector<char, WipingAllocator<char>>;
using WipingStringBase = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

// A password, token or OTP. Wiped on destruction, on move-from and on clear().
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view s) : s_(s.data(), s.size()) {}
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  SecretString(SecretString&& o) noexcept : s_(std::move(o.s_)) { o.clear(); }
  SecretString& operator=(SecretString&& o) noexcept {
    if (this != &o) {
      clear();
      s_ = std::move(o.s_);
      o.clear();
    }
    return *this;
  }
  ~SecretString() { clear(); }

  std::string_view view() const { return std::string_view(s_.data(), s_.size()); }
  size_t size() const { return s_.size(); }
  bool empty() const { return s_.empty(); }
  void clear() {
    SecureWipe(s_.data(), s_.capacity());
    s_.clear();
  }

 private:
  WipingStringBase s_;
};

}  // namespace imapgate
