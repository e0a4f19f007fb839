#include "data/image_header.h"

#include <cstring>

#include "util/bytes.h"
#include "util/error.h"

namespace lrpbench {
namespace {


void check_size(const ImageInfo& info, const std::string& what) {
  require(info.width > 0 && info.height > 0,
          what + ": " + info.format + " header declares an empty image");
  require(info.width <= kMaxImageSide && info.height <= kMaxImageSide &&
              info.width * info.height <= kMaxImagePixels,
          what + ": " + info.format + " header declares " + std::to_string(info.width) + " x " +
              std::to_string(info.height) + " pixels, more than lrpbench accepts (" +
              std::to_string(kMaxImageSide) + " a side, " + std::to_string(kMaxImagePixels) +
              " in all)");
}

ImageInfo inspect_png(std::string_view b, const std::string& what) {
  ImageInfo info{"png", 0, 0};
  size_t p = 8;
  bool first = true;
  while (true) {
    require(b.size() - p >= 12, what + ": truncated PNG (no IEND chunk)");
    const uint64_t len = read_be32(b, p);
    const std::string_view type = b.substr(p + 4, 4);
    require(len <= 0x7fffffff && len <= b.size() - p - 12,
            what + ": truncated or corrupt PNG (chunk runs past the end of the file)");
    if (first) {
      require(type == "IHDR" && len == 13, what + ": corrupt PNG (IHDR is not the first chunk)");
      info.width = read_be32(b, p + 8);
      info.height = read_be32(b, p + 12);
      check_size(info, what);
      first = false;
    }
    p += 12 + static_cast<size_t>(len);
    if (type == "IEND") return info;
  }
}

bool standalone_marker(uint8_t m) {
  return m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7);
}
bool frame_marker(uint8_t m) {
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

ImageInfo inspect_jpeg(std::string_view b, const std::string& what) {
  ImageInfo info{"jpeg", 0, 0};
  const std::string trunc = what + ": truncated JPEG (no end-of-image marker)";
  size_t p = 2;
  bool frame = false;
  while (true) {
    // A marker: one or more 0xFF, then its code.
    require(p < b.size() && static_cast<uint8_t>(b[p]) == 0xFF,
            p < b.size() ? what + ": corrupt JPEG (expected a marker at byte " + std::to_string(p) + ")"
                         : trunc);
    while (p < b.size() && static_cast<uint8_t>(b[p]) == 0xFF) ++p;
    require(p < b.size(), trunc);
    const uint8_t m = static_cast<uint8_t>(b[p++]);
    if (m == 0xD9) {
      require(frame, what + ": corrupt JPEG (no frame header)");
      return info;
    }
    if (standalone_marker(m)) continue;
    require(b.size() - p >= 2, trunc);
    const size_t len = read_be16(b, p);
    require(len >= 2 && len <= b.size() - p, trunc);
    if (frame_marker(m)) {
      require(len >= 8, what + ": corrupt JPEG frame header");
      info.height = read_be16(b, p + 3);
      info.width = read_be16(b, p + 5);
      check_size(info, what);
      frame = true;
    }
    p += len;
    if (m == 0xDA) {
      require(frame, what + ": corrupt JPEG (scan before the frame header)");
      // Entropy-coded data up to the next marker that is neither stuffing (FF00) nor RSTn.
      while (true) {
        const size_t ff = b.find('\xFF', p);
        require(ff != std::string_view::npos && ff + 1 < b.size(), trunc);
        const uint8_t next = static_cast<uint8_t>(b[ff + 1]);
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
          p = ff + (next == 0xFF ? 1 : 2);
          continue;
        }
        p = ff;
        break;
      }
    }
  }
}

}  // namespace

ImageInfo inspect_image(std::string_view bytes, const std::string& what) {
  require(!bytes.empty(), what + ": empty file (not a JPEG or PNG)");
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0)
    return inspect_png(bytes, what);
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
      static_cast<uint8_t>(bytes[1]) == 0xD8 && static_cast<uint8_t>(bytes[2]) == 0xFF)
    return inspect_jpeg(bytes, what);
  throw InputError(what + ": not a JPEG or PNG image");
}

}  // namespace lrpbench
