#pragma once
// Element types of tensors in weight files, without LibTorch (the parsers' fuzz targets
// build without it; model/state_dict.h maps them to at::ScalarType).
#include <cstddef>
#include <string>

namespace lrpbench {

enum class DType { Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
bool is_floating(DType t);

// Multiplies non-negative sizes, refusing overflow past `limit`: false when the product of
// `dims` exceeds it (or a size is negative); *out holds the product otherwise.
bool checked_numel(const int64_t* dims, size_t n, int64_t limit, int64_t* out);

}  // namespace lrpbench
