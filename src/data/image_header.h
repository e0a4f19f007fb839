#pragma once
// Image files checked before OpenCV decodes them (no LibTorch, no OpenCV): only complete PNG
// and JPEG files of a sane size get through.
#include <cstdint>
#include <string>
#include <string_view>

namespace lrpbench {

constexpr int64_t kMaxImageSide = 32768;
constexpr int64_t kMaxImagePixels = int64_t(1) << 27;  // 134 M pixels
constexpr uint64_t kMaxImageFileBytes = 512ull << 20;

struct ImageInfo {
  std::string format;  // "png" or "jpeg"
  int64_t width = 0, height = 0;
};

// Walks the PNG chunks (IHDR first, every chunk inside the file, IEND present) or the JPEG
// segments (SOI, a frame header before the first scan, entropy-coded data ending in EOI);
// refuses other formats, truncated files, and sizes over the bounds above. InputError naming
// `what` otherwise.
ImageInfo inspect_image(std::string_view bytes, const std::string& what);

}  // namespace lrpbench
