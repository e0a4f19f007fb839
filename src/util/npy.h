#pragma once
// NumPy .npy files (format 1.0-3.0, little-endian float32/float64, C order); the layout is
// checked by util/npy_header.h before anything is allocated.
#include <ATen/core/Tensor.h>

#include <string>

namespace lrpbench {

constexpr uint64_t kMaxNpyBytes = 8ull << 30;

// Reads a float32 or float64 array as a float32 tensor; errors name the file.
at::Tensor read_npy(const std::string& path);
// The bytes of a tensor as a float32 C-order .npy file.
std::string npy_bytes(const at::Tensor& tensor);
// Writes a tensor as float32 C-order .npy (atomically; OutputError naming the file).
void write_npy(const std::string& path, const at::Tensor& tensor);

}  // namespace lrpbench
