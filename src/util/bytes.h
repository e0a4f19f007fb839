#pragma once
// Reading fixed-width integers from untrusted byte buffers (the caller checks the bounds).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lrpbench {

inline uint32_t read_be16(std::string_view s, size_t off) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[off])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[off + 1]));
}

inline uint32_t read_be32(std::string_view s, size_t off) {
  return (read_be16(s, off) << 16) | read_be16(s, off + 2);
}

// A little-endian unsigned integer of `bytes` (1 to 8) bytes.
inline uint64_t read_le(std::string_view s, uint64_t off, int bytes) {
  uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; --k)
    v = (v << 8) | static_cast<uint8_t>(s[static_cast<size_t>(off) + static_cast<size_t>(k)]);
  return v;
}

}  // namespace lrpbench
