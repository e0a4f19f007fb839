#include "util/dtype.h"

#include <cstdint>

namespace lrpbench {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float64:
    case DType::Int64:
      return 8;
    case DType::Float32:
    case DType::Int32:
      return 4;
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int16:
      return 2;
    case DType::Int8:
    case DType::UInt8:
    case DType::Bool:
      return 1;
  }
  return 1;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Float16:
      return "float16";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Int64:
      return "int64";
    case DType::Int32:
      return "int32";
    case DType::Int16:
      return "int16";
    case DType::Int8:
      return "int8";
    case DType::UInt8:
      return "uint8";
    case DType::Bool:
      return "bool";
  }
  return "?";
}

bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

bool checked_numel(const int64_t* dims, size_t n, int64_t limit, int64_t* out) {
  int64_t p = 1;
  bool zero = false;
  for (size_t i = 0; i < n; ++i) {
    if (dims[i] < 0 || dims[i] > limit) return false;
    if (dims[i] == 0) zero = true;
  }
  if (zero) {
    *out = 0;
    return true;
  }
  for (size_t i = 0; i < n; ++i) {
    if (p > limit / dims[i]) return false;
    p *= dims[i];
  }
  *out = p;
  return true;
}

}  // namespace lrpbench
