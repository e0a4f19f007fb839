#pragma once
// NumPy .npy files (format 1.0/2.0, little-endian float32/float64, C order).
#include <ATen/core/Tensor.h>

#include <string>

namespace lrpbench {

// Reads a float32 or float64 array as a float32 tensor; errors name the file.
at::Tensor read_npy(const std::string& path);
// Writes a tensor as float32 C-order .npy.
void write_npy(const std::string& path, const at::Tensor& tensor);

}  // namespace lrpbench
