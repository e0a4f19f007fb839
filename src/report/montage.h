#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

namespace lrpbench {

// Tiles rows of C x H x W images in [0, 1] (same size) into one RGB image with white
// gaps, upscaled (nearest) so that small images stay visible.
at::Tensor montage(const std::vector<std::vector<at::Tensor>>& rows);

}  // namespace lrpbench
