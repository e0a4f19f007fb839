#include "perturbation/modes.h"

#include <ATen/ATen.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/photo.hpp>

#include "perturbation/order.h"
#include "util/error.h"

namespace lrpbench {
namespace {

float normalized(double pixel, const ImageContext& c, int64_t ch) {
  return static_cast<float>((pixel - c.mean[static_cast<size_t>(ch)]) /
                            c.std[static_cast<size_t>(ch)]);
}

// Fills the pixels of `patches` in every channel with value(ch, y, x).
template <typename F>
void fill_patches(at::Tensor& out, const ImageContext& c, const std::vector<int64_t>& patches,
                  F value) {
  float* p = out.data_ptr<float>();
  const int64_t ch = out.size(0), h = c.grid.height, w = c.grid.width;
  for (int64_t idx : patches) {
    int64_t y0, y1, x0, x1;
    c.grid.bounds(idx, &y0, &y1, &x0, &x1);
    for (int64_t k = 0; k < ch; ++k)
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) p[(k * h + y) * w + x] = value(k, y, x);
  }
}

at::Tensor gray(const ImageContext& c) {
  at::Tensor out = at::empty_like(c.x);
  for (int64_t k = 0; k < out.size(0); ++k) out[k].fill_(normalized(0.5, c, k));
  return out;
}

at::Tensor inpaint(const ImageContext& c, const PFSettings& s,
                   const std::vector<std::vector<int64_t>>& steps, size_t k) {
  std::vector<int64_t> all;
  for (size_t j = 0; j < k; ++j) all.insert(all.end(), steps[j].begin(), steps[j].end());
  const int64_t ch = c.x.size(0), h = c.grid.height, w = c.grid.width;
  std::vector<uint8_t> mask = patch_mask(c.grid, all);
  const cv::Mat src(static_cast<int>(h), static_cast<int>(w), ch == 1 ? CV_8UC1 : CV_8UC3,
                    const_cast<uint8_t*>(c.u8.data()));
  const cv::Mat m(static_cast<int>(h), static_cast<int>(w), CV_8UC1, mask.data());
  cv::Mat dst;
  cv::inpaint(src, m, dst, s.radius, s.mode == "ns" ? cv::INPAINT_NS : cv::INPAINT_TELEA);
  at::Tensor out = c.x.clone();
  const uint8_t* d = dst.ptr<uint8_t>();
  fill_patches(out, c, all, [&](int64_t k, int64_t y, int64_t x) {
    return normalized(d[(y * w + x) * ch + k] / 255.0, c, k);
  });
  return out;
}

}  // namespace

ImageContext make_context(const at::Tensor& x, const std::vector<double>& mean,
                          const std::vector<double>& std, int64_t patch, int64_t image_index) {
  ImageContext c;
  c.x = x.detach().to(at::kCPU).to(at::kFloat).contiguous();
  c.mean = mean;
  c.std = std;
  c.grid = make_grid(c.x.size(1), c.x.size(2), patch);
  c.image_index = image_index;
  c.min = c.x.min().item<double>();
  c.max = c.x.max().item<double>();
  // De-normalise to 8 bit, rounded (never truncated), interleaved H x W x C.
  at::Tensor px = c.x.clone();
  for (int64_t k = 0; k < px.size(0); ++k)
    px[k].mul_(std[static_cast<size_t>(k)]).add_(mean[static_cast<size_t>(k)]);
  const at::Tensor u8 =
      px.mul(255.0).round().clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous();
  c.u8.assign(u8.data_ptr<uint8_t>(), u8.data_ptr<uint8_t>() + u8.numel());
  return c;
}

at::Tensor render(const ImageContext& c, const PFSettings& s,
                  const std::vector<std::vector<int64_t>>& steps, size_t k) {
  if (k == 0) return c.x;
  if (c.replacement.defined()) {
    at::Tensor out = c.x.clone();
    const float* r = c.replacement.data_ptr<float>();
    const int64_t h = c.grid.height, w = c.grid.width;
    for (size_t j = 0; j < k; ++j)
      fill_patches(out, c, steps[j],
                   [&](int64_t ch, int64_t y, int64_t x) { return r[(ch * h + y) * w + x]; });
    return out;
  }
  int64_t flipped = 0;
  for (size_t j = 0; j < k; ++j) flipped += static_cast<int64_t>(steps[j].size());
  if (s.mode == "telea" || s.mode == "ns")
    return flipped >= c.grid.count() ? gray(c) : inpaint(c, s, steps, k);
  at::Tensor out = c.x.clone();
  if (s.mode == "constant") {
    std::vector<float> v;
    for (int64_t k = 0; k < out.size(0); ++k) {
      if (s.fill == "gray")
        v.push_back(normalized(0.5, c, k));
      else if (s.fill == "black")
        v.push_back(normalized(0.0, c, k));
      else
        v.push_back(c.x[k].mean().item<float>());
    }
    for (size_t j = 0; j < k; ++j)
      fill_patches(out, c, steps[j],
                   [&](int64_t k, int64_t, int64_t) { return v[static_cast<size_t>(k)]; });
    return out;
  }
  const uint64_t base =
      mix64(s.seed ^ mix64(static_cast<uint64_t>(c.image_index) * 0x2545f4914f6cdd1dULL + 17));
  for (size_t j = 0; j < k; ++j) {
    const uint64_t key = mix64(base + j);
    if (s.mode == "random") {
      const float v = static_cast<float>(c.min + (c.max - c.min) * uniform01(key));
      fill_patches(out, c, steps[j], [&](int64_t, int64_t, int64_t) { return v; });
    } else {  // random-pixel: one value per pixel (all channels)
      const int64_t w = c.grid.width;
      fill_patches(out, c, steps[j], [&](int64_t, int64_t y, int64_t x) {
        return static_cast<float>(
            c.min + (c.max - c.min) * uniform01(key ^ mix64(static_cast<uint64_t>(y * w + x))));
      });
    }
  }
  return out;
}

at::Tensor render_minmax_mid(const ImageContext& c) {
  return at::full_like(c.x, (c.min + c.max) / 2);
}

}  // namespace lrpbench
