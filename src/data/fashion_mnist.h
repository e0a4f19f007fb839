#pragma once
// Fashion-MNIST from Debian's dataset-fashion-mnist (.gz idx files).
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace lrpbench {

struct Dataset {
  at::Tensor images;            // N x 1 x 28 x 28, float32 in [0, 1] (not normalised)
  std::vector<int64_t> labels;  // N
};

// Folder of the idx files (LRPBENCH_FASHION_MNIST overrides the Debian default).
std::string fashion_mnist_dir();
// split: "train" or "test". Throws InputError naming a missing or corrupt file.
Dataset load_fashion_mnist(const std::string& split);
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace lrpbench
