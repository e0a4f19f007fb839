#pragma once
// The idx files of (Fashion-)MNIST, checked without LibTorch, and a bounded gunzip.
#include <cstdint>
#include <string>
#include <string_view>

namespace lrpbench {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::string_view pixels;  // count x rows x cols bytes, inside the parsed buffer
};

// An idx3 unsigned-byte image file (magic 2051) whose size matches its header exactly.
IdxImages parse_idx_images(std::string_view bytes, const std::string& what);
// An idx1 unsigned-byte label file (magic 2049); returns the labels (one byte each).
std::string_view parse_idx_labels(std::string_view bytes, const std::string& what);

// Decompresses a .gz file of at most `max_bytes` uncompressed; InputError naming the file
// when it is missing, corrupt, truncated or larger.
std::string gunzip_file(const std::string& path, uint64_t max_bytes);

}  // namespace lrpbench
