#pragma once
// Patchify (docs/method.md 2.1): p x p patches, row-major index; the last row / column of patches is
// smaller when p does not divide the image.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "perturbation/settings.h"

namespace lrpbench {

struct PatchGrid {
  int64_t height = 0, width = 0, patch = 0;
  int64_t rows = 0, cols = 0;
  int64_t count() const { return rows * cols; }
  bool edge_patches() const { return height % patch != 0 || width % patch != 0; }
  // Pixel rectangle of patch `index`: [y0, y1) x [x0, x1).
  void bounds(int64_t index, int64_t* y0, int64_t* y1, int64_t* x0, int64_t* x1) const;
};

// Throws InputError when the patch is not positive or larger than the image.
PatchGrid make_grid(int64_t height, int64_t width, int64_t patch);

// Patch scores from relevance C x H x W: "sum" (over the patch and channels) or "luma"
// (0.2989 R + 0.587 G + 0.114 B of the per-channel sums; one channel: that channel).
std::vector<double> patch_scores(const at::Tensor& relevance, const PatchGrid& grid,
                                 const std::string& reduce);

// H x W uint8 mask (255 where flipped) of the given patches.
std::vector<uint8_t> patch_mask(const PatchGrid& grid, const std::vector<int64_t>& patches);

}  // namespace lrpbench
