#pragma once
// The layout of a NumPy .npy file (format 1.0-3.0, little-endian float32/float64, C order),
// checked without LibTorch.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrpbench {

struct NpyLayout {
  bool float64 = false;
  std::vector<int64_t> shape;
  int64_t numel = 0;
  uint64_t data_start = 0;  // file offset of the data
};

// Checks `file` (the whole file's bytes): magic, a header dict with exactly descr,
// fortran_order and shape, a supported dtype, non-negative dimensions whose byte size matches
// the data that follows exactly. InputError naming `what` otherwise.
NpyLayout parse_npy(std::string_view file, const std::string& what);

}  // namespace lrpbench
