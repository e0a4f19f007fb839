#include "report/heatmap.h"

#include <ATen/ATen.h>

#include <array>

#include "util/error.h"

namespace lrpbench {
namespace {

// Piecewise-linear colour map through (position, r, g, b) stops on [-1, 1].
at::Tensor colormap(const at::Tensor& v, const std::vector<std::array<float, 4>>& stops) {
  at::Tensor out = at::zeros({3, v.size(0), v.size(1)}, v.options());
  for (size_t i = 0; i + 1 < stops.size(); ++i) {
    const auto& a = stops[i];
    const auto& b = stops[i + 1];
    const at::Tensor in = (v >= a[0]) & (v <= b[0]);
    const at::Tensor t = ((v - a[0]) / (b[0] - a[0])).clamp(0, 1);
    for (int c = 0; c < 3; ++c)
      out[c] = at::where(in, t * (b[c + 1] - a[c + 1]) + a[c + 1], out[c]);
  }
  return out;
}

}  // namespace

void check_heatmap_style(const HeatmapStyle& s) {
  require(s.norm == "symmetric" || s.norm == "absolute",
          "--heatmap-norm: expected symmetric or absolute, got '" + s.norm + "'");
  require(s.cmap == "bwr" || s.cmap == "coldnhot",
          "--cmap: expected bwr or coldnhot, got '" + s.cmap + "'");
}

at::Tensor render_heatmap(const at::Tensor& relevance, const at::Tensor& pixels,
                          const HeatmapStyle& style) {
  check_heatmap_style(style);
  at::Tensor r = relevance.detach().to(at::kCPU).to(at::kFloat).nan_to_num(0, 0, 0).sum(0);
  const float m = r.abs().max().item<float>();
  at::Tensor v = m > 0 ? r / m : r;
  if (style.norm == "absolute") v = v.abs();
  const std::vector<std::array<float, 4>> bwr = {{-1, 0, 0, 1}, {0, 1, 1, 1}, {1, 1, 0, 0}};
  const std::vector<std::array<float, 4>> coldnhot = {
      {-1, 0, 1, 1}, {-0.5f, 0, 0, 1}, {0, 0, 0, 0}, {0.5f, 1, 0, 0}, {1, 1, 1, 0}};
  at::Tensor rgb = colormap(v, style.cmap == "bwr" ? bwr : coldnhot);
  if (style.overlay) {
    const at::Tensor gray =
        pixels.detach().to(at::kCPU).to(at::kFloat).mean(0, true).expand_as(rgb);
    rgb = rgb * 0.6 + gray * 0.4;
  }
  const int64_t factor = std::max<int64_t>(1, 224 / std::max(r.size(0), r.size(1)));
  if (factor > 1) rgb = rgb.repeat_interleave(factor, 1).repeat_interleave(factor, 2);
  return rgb.contiguous();
}

}  // namespace lrpbench
