#include "perturbation/patches.h"

#include <ATen/ATen.h>

#include "util/error.h"

namespace lrpbench {

void PatchGrid::bounds(int64_t index, int64_t* y0, int64_t* y1, int64_t* x0, int64_t* x1) const {
  const int64_t r = index / cols, c = index % cols;
  *y0 = r * patch;
  *y1 = std::min(height, *y0 + patch);
  *x0 = c * patch;
  *x1 = std::min(width, *x0 + patch);
}

PatchGrid make_grid(int64_t height, int64_t width, int64_t patch) {
  require(patch > 0, "--patch: expected a positive patch size, got " + std::to_string(patch));
  require(patch <= height && patch <= width, "--patch " + std::to_string(patch) +
                                                 " is larger than the " + std::to_string(height) +
                                                 "x" + std::to_string(width) + " image");
  PatchGrid g;
  g.height = height;
  g.width = width;
  g.patch = patch;
  g.rows = (height + patch - 1) / patch;
  g.cols = (width + patch - 1) / patch;
  return g;
}

std::vector<double> patch_scores(const at::Tensor& relevance, const PatchGrid& g,
                                 const std::string& reduce) {
  check_patch_reduce(reduce);
  const at::Tensor r = relevance.detach().to(at::kCPU).to(at::kDouble);
  const int64_t c = r.size(0);
  const at::Tensor padded =
      at::constant_pad_nd(r, {0, g.cols * g.patch - g.width, 0, g.rows * g.patch - g.height}, 0);
  at::Tensor per_channel =
      padded.view({c, g.rows, g.patch, g.cols, g.patch}).sum({2, 4}).reshape({c, -1});
  at::Tensor s;
  if (reduce == "luma" && c == 3) {
    s = per_channel[0] * 0.2989 + per_channel[1] * 0.587 + per_channel[2] * 0.114;
  } else if (reduce == "luma") {
    s = per_channel[0];
  } else {
    s = per_channel.sum(0);
  }
  s = s.contiguous();
  return std::vector<double>(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
}

std::vector<uint8_t> patch_mask(const PatchGrid& g, const std::vector<int64_t>& patches) {
  std::vector<uint8_t> m(static_cast<size_t>(g.height * g.width), 0);
  for (int64_t p : patches) {
    int64_t y0, y1, x0, x1;
    g.bounds(p, &y0, &y1, &x0, &x1);
    for (int64_t y = y0; y < y1; ++y)
      std::fill(m.begin() + y * g.width + x0, m.begin() + y * g.width + x1, 255);
  }
  return m;
}

}  // namespace lrpbench
