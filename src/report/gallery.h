#pragma once
// The heatmap gallery of a two-parameter family (LXT's figure): one image's relevance at every
// grid point, rows the first parameter's values, columns the second's, with the measured
// optimum of each order framed in its colour.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

namespace lrpbench {

struct GalleryMark {
  int64_t row = 0, col = 0;
  std::array<float, 3> rgb{0, 0, 0};
};

// tiles[row][col]: 3 x H x W images in [0, 1], all one size. Each mark frames its tile with a
// border of its colour (2 pixels; a tile marked twice gets nested frames, the first outside).
// Returns the montage (model/montage.h's layout).
at::Tensor gallery(std::vector<std::vector<at::Tensor>> tiles, const std::vector<GalleryMark>& marks);

// The colour of the k-th order's mark: green, magenta, orange, then cyan.
std::array<float, 3> mark_colour(size_t k);

}  // namespace lrpbench
