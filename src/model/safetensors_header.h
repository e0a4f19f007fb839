#pragma once
// The layout of a .safetensors file, checked without LibTorch: 8-byte little-endian header
// length, a JSON header {key: {dtype, shape, data_offsets}}, then the raw data.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/dtype.h"

namespace lrpbench {

struct SafetensorsEntry {
  std::string key;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

struct SafetensorsLayout {
  uint64_t data_start = 0;                // file offset of the data section
  std::vector<SafetensorsEntry> entries;  // in data order
};

// Checks and describes `file` (the whole file's bytes): a header that fits the file, valid
// JSON without duplicate keys, known dtypes, non-negative shapes whose byte size matches
// integer offsets exactly, every tensor inside the file, none overlapping another.
// InputError naming `what` otherwise.
SafetensorsLayout parse_safetensors(std::string_view file, const std::string& what);

}  // namespace lrpbench
