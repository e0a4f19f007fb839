#pragma once
// Heatmaps of relevance maps (the README, explain).
#include <ATen/core/Tensor.h>

#include <string>

namespace lrpbench {

struct HeatmapStyle {
  std::string norm = "symmetric";  // symmetric: R / max|R| in [-1, 1]; absolute: |R| / max|R|
  std::string cmap = "bwr";        // bwr (blue-white-red) or coldnhot (zennit's)
  bool overlay = false;            // blend onto the grayscale image
};

void check_heatmap_style(const HeatmapStyle& s);

// relevance: C x H x W; pixels: C x H x W in [0, 1] (for the overlay). Returns an RGB
// image 3 x H' x W' in [0, 1], upscaled (nearest) so that small inputs stay visible.
at::Tensor render_heatmap(const at::Tensor& relevance, const at::Tensor& pixels,
                          const HeatmapStyle& style);

}  // namespace lrpbench
